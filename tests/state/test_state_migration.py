"""Opening state databases: schema upgrades, and refusing (without touching) databases that are not ours."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from lockgate.errors import ConflictError, StateError
from lockgate.state import StateStore
from lockgate.state.database import PG_SCHEMA_LOCK_KEY
from lockgate.state.migration import NEWER_HINT, head_revisions
from lockgate.state.schema import metadata


def _revisions(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


def _journal_mode(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        conn.close()


def test_open_creates_the_directory_and_a_database_at_head(sqlite_path: Path, sqlite_url: str) -> None:
    assert not sqlite_path.parent.exists()

    StateStore.open(sqlite_url).close()

    assert sqlite_path.is_file()
    assert _revisions(sqlite_path) == sorted(head_revisions())
    assert _journal_mode(sqlite_path) == "wal"


def test_migrating_an_empty_database_twice_is_idempotent(sqlite_path: Path, sqlite_url: str) -> None:
    sqlite_path.parent.mkdir(parents=True)
    sqlite_path.touch()  # a zero-byte file is an empty SQLite database

    with StateStore.open(sqlite_url) as store:
        run = store.create_run(
            pipeline="daily", target_kind="pipeline", environment="dev", engine="duckdb", parameters={}
        )
    with StateStore.open(sqlite_url) as store:
        assert store.list_runs() == [run]
    StateStore.open(sqlite_url).close()

    assert _revisions(sqlite_path) == sorted(head_revisions())


def test_the_migrations_build_exactly_the_schema_module(state_url: str) -> None:
    StateStore.open(state_url).close()

    engine = sa.create_engine(state_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_a_database_from_a_newer_lockgate_is_refused_and_left_alone(sqlite_path: Path, sqlite_url: str) -> None:
    # Built without lockgate, in rollback-journal mode, so switching it to WAL would show in the bytes.
    sqlite_path.parent.mkdir(parents=True)
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
        conn.execute("CREATE TABLE runs (id VARCHAR(32) PRIMARY KEY, something_new TEXT)")
    conn.close()
    before = sqlite_path.read_bytes()

    with pytest.raises(StateError, match=r"9999_from_the_future.*newer lockgate") as caught:
        StateStore.open(sqlite_url)

    assert caught.value.hint == (
        "upgrade lockgate (pip install -U lockgate) or point LOCKGATE_STATE_URL at another database"
    )
    assert str(sqlite_path) in caught.value.message
    assert sqlite_path.read_bytes() == before
    assert _journal_mode(sqlite_path) == "delete"


def test_a_lockgate_database_stamped_newer_is_refused(sqlite_path: Path, sqlite_url: str) -> None:
    StateStore.open(sqlite_url).close()
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff'")
    conn.close()
    before = sqlite_path.read_bytes()

    with pytest.raises(StateError, match="newer lockgate"):
        StateStore.open(sqlite_url)

    assert sqlite_path.read_bytes() == before
    assert _revisions(sqlite_path) == ["ffff"]


@pytest.mark.parametrize(
    "garbage",
    [b"this is not a database\n" * 200, bytes(range(256)) * 16, b"SQLite format 3\x00" + b"\xff" * 4080],
    ids=["text", "binary", "bad-header"],
)
def test_a_file_that_is_not_a_database_is_refused_and_left_alone(
    sqlite_path: Path, sqlite_url: str, garbage: bytes
) -> None:
    sqlite_path.parent.mkdir(parents=True)
    sqlite_path.write_bytes(garbage)

    with pytest.raises(StateError, match="not a lockgate state database or is corrupt") as caught:
        StateStore.open(sqlite_url)

    assert str(sqlite_path) in caught.value.message
    assert caught.value.hint is not None and f"move {sqlite_path} aside" in caught.value.hint
    assert sqlite_path.read_bytes() == garbage
    assert sorted(path.name for path in sqlite_path.parent.iterdir()) == ["state.db"]


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://x/y"])
def test_an_unusable_url_is_a_state_error(url: str) -> None:
    with pytest.raises(StateError, match="state database URL") as caught:
        StateStore.open(url)
    assert caught.value.hint is not None and "sqlite:///" in caught.value.hint


def test_an_unopenable_path_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")

    with pytest.raises(StateError, match="cannot create the directory"):
        StateStore.open(f"sqlite:///{tmp_path / 'a-file' / 'state.db'}")


def test_another_applications_database_is_refused_and_left_alone(sqlite_path: Path, sqlite_url: str) -> None:
    sqlite_path.parent.mkdir(parents=True)
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.close()
    before = sqlite_path.read_bytes()

    with pytest.raises(StateError, match=r"not a lockgate state database: it has tables \(customers\)"):
        StateStore.open(sqlite_url)

    assert sqlite_path.read_bytes() == before


def test_head_revision_constant_matches_the_migration_tree() -> None:
    from lockgate.state.migration import HEAD_REVISION, head_revisions

    assert head_revisions() == {HEAD_REVISION}


# -- PostgreSQL ----------------------------------------------------------------------------------------------


def _pg_schema(conn: Any) -> list[tuple[Any, ...]]:
    """Every table and column of the public schema, and the stamped revisions: what must not change."""
    columns = conn.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'public' ORDER BY 1, 2"
    ).fetchall()
    return [*columns, *conn.execute("SELECT version_num FROM alembic_version ORDER BY 1").fetchall()]


@pytest.mark.postgres
def test_a_postgres_database_from_a_newer_lockgate_is_refused_and_left_unchanged(
    postgres_url: str, pg_connection: Any
) -> None:
    with StateStore.open(postgres_url) as store:
        store.create_run(pipeline="daily", target_kind="pipeline", environment="dev", engine="duckdb", parameters={})
    pg_connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    pg_connection.execute("ALTER TABLE runs ADD COLUMN something_new TEXT")
    before = _pg_schema(pg_connection)

    with pytest.raises(StateError, match=r"9999_from_the_future.*newer lockgate") as caught:
        StateStore.open(postgres_url)

    assert caught.value.hint == NEWER_HINT
    assert sa.make_url(postgres_url).database in caught.value.message
    assert _pg_schema(pg_connection) == before
    assert pg_connection.execute("SELECT version_num FROM alembic_version").fetchall() == [("9999_from_the_future",)]
    assert pg_connection.execute("SELECT count(*) FROM runs").fetchone() == (1,)


@pytest.mark.postgres
def test_another_applications_postgres_database_is_refused_and_left_alone(
    postgres_url: str, pg_connection: Any
) -> None:
    pg_connection.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")

    with pytest.raises(StateError, match=r"not a lockgate state database: it has tables \(customers\)"):
        StateStore.open(postgres_url)

    tables = pg_connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    assert tables == [("customers",)]


@pytest.mark.postgres
def test_a_postgres_schema_change_waits_for_another_sessions_schema_lock(postgres_url: str, pg_connection: Any) -> None:
    with pg_connection.transaction():
        pg_connection.execute("SELECT pg_advisory_xact_lock(%s)", [PG_SCHEMA_LOCK_KEY])
        with pytest.raises(ConflictError, match="locked by another lockgate process"):
            StateStore.open(postgres_url, busy_timeout=0.1)
        tables = pg_connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        assert tables == []

    StateStore.open(postgres_url).close()


_OPEN_AND_CLOSE = "import sys; from lockgate.state import StateStore; StateStore.open(sys.argv[1]).close()"


@pytest.mark.postgres
def test_processes_opening_a_new_postgres_database_at_once_all_succeed(postgres_url: str) -> None:
    processes = [
        subprocess.Popen([sys.executable, "-c", _OPEN_AND_CLOSE, postgres_url], stderr=subprocess.PIPE, text=True)
        for _ in range(5)
    ]
    failures = [stderr for process in processes if (stderr := process.communicate(timeout=60)[1]) or process.returncode]

    assert failures == []
    with StateStore.open(postgres_url) as store:
        assert store.list_runs() == []


def test_a_database_at_the_first_revision_is_upgraded_without_losing_runs(tmp_path) -> None:
    import sqlalchemy as sa
    from alembic import command

    from lockgate.state import StateStore
    from lockgate.state.migration import HEAD_REVISION, alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
        connection.execute(
            sa.text(
                "INSERT INTO runs (id, pipeline, target_kind, environment, engine, status, parameters, trigger, "
                "started_at) VALUES ('20260101-000000-abcdef', 'daily', 'pipeline', 'dev', 'duckdb', 'succeeded', "
                "'{}', 'manual', '2026-01-01 00:00:00.000000')"
            )
        )
    engine.dispose()
    with StateStore.open(url) as store:
        old = store.get_run("20260101")
        assert old.pipeline == "daily" and old.process is None
        assert (
            store.create_run(
                pipeline="p",
                target_kind="pipeline",
                environment="dev",
                engine="duckdb",
                parameters={},
                process="host:1:2",
            ).process
            == "host:1:2"
        )
    with sa.create_engine(url).connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD_REVISION
