"""Opening state databases: schema upgrades, and refusing (without touching) databases that are not ours."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from lockgate.errors import StateError
from lockgate.state import StateStore
from lockgate.state.migration import head_revisions
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


def test_open_creates_the_directory_and_a_database_at_head(state_path: Path, state_url: str) -> None:
    assert not state_path.parent.exists()

    StateStore.open(state_url).close()

    assert state_path.is_file()
    assert _revisions(state_path) == sorted(head_revisions())
    assert _journal_mode(state_path) == "wal"


def test_migrating_an_empty_database_twice_is_idempotent(state_path: Path, state_url: str) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.touch()  # a zero-byte file is an empty SQLite database

    with StateStore.open(state_url) as store:
        run = store.create_run(
            pipeline="daily", target_kind="pipeline", environment="dev", engine="duckdb", parameters={}
        )
    with StateStore.open(state_url) as store:
        assert store.list_runs() == [run]
    StateStore.open(state_url).close()

    assert _revisions(state_path) == sorted(head_revisions())


def test_the_migrations_build_exactly_the_schema_module(state_path: Path, state_url: str) -> None:
    StateStore.open(state_url).close()

    engine = sa.create_engine(state_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_a_database_from_a_newer_lockgate_is_refused_and_left_alone(state_path: Path, state_url: str) -> None:
    # Built without lockgate, in rollback-journal mode, so switching it to WAL would show in the bytes.
    state_path.parent.mkdir(parents=True)
    with sqlite3.connect(state_path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999_from_the_future')")
        conn.execute("CREATE TABLE runs (id VARCHAR(32) PRIMARY KEY, something_new TEXT)")
    conn.close()
    before = state_path.read_bytes()

    with pytest.raises(StateError, match=r"9999_from_the_future.*newer lockgate") as caught:
        StateStore.open(state_url)

    assert caught.value.hint == (
        "upgrade lockgate (pip install -U lockgate) or point LOCKGATE_STATE_URL at another database"
    )
    assert str(state_path) in caught.value.message
    assert state_path.read_bytes() == before
    assert _journal_mode(state_path) == "delete"


def test_a_lockgate_database_stamped_newer_is_refused(state_path: Path, state_url: str) -> None:
    StateStore.open(state_url).close()
    with sqlite3.connect(state_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff'")
    conn.close()
    before = state_path.read_bytes()

    with pytest.raises(StateError, match="newer lockgate"):
        StateStore.open(state_url)

    assert state_path.read_bytes() == before
    assert _revisions(state_path) == ["ffff"]


@pytest.mark.parametrize(
    "garbage",
    [b"this is not a database\n" * 200, bytes(range(256)) * 16, b"SQLite format 3\x00" + b"\xff" * 4080],
    ids=["text", "binary", "bad-header"],
)
def test_a_file_that_is_not_a_database_is_refused_and_left_alone(
    state_path: Path, state_url: str, garbage: bytes
) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_bytes(garbage)

    with pytest.raises(StateError, match="not a lockgate state database or is corrupt") as caught:
        StateStore.open(state_url)

    assert str(state_path) in caught.value.message
    assert caught.value.hint is not None and f"move {state_path} aside" in caught.value.hint
    assert state_path.read_bytes() == garbage
    assert sorted(path.name for path in state_path.parent.iterdir()) == ["state.db"]


@pytest.mark.parametrize("url", ["not a url", "nosuchdialect://x/y"])
def test_an_unusable_url_is_a_state_error(url: str) -> None:
    with pytest.raises(StateError, match="state database URL") as caught:
        StateStore.open(url)
    assert caught.value.hint is not None and "sqlite:///" in caught.value.hint


def test_an_unopenable_path_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")

    with pytest.raises(StateError, match="cannot create the directory"):
        StateStore.open(f"sqlite:///{tmp_path / 'a-file' / 'state.db'}")


def test_another_applications_database_is_refused_and_left_alone(state_path: Path, state_url: str) -> None:
    state_path.parent.mkdir(parents=True)
    with sqlite3.connect(state_path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.close()
    before = state_path.read_bytes()

    with pytest.raises(StateError, match=r"not a lockgate state database: it has tables \(customers\)"):
        StateStore.open(state_url)

    assert state_path.read_bytes() == before


def test_head_revision_constant_matches_the_migration_tree() -> None:
    from lockgate.state.migration import HEAD_REVISION, head_revisions

    assert head_revisions() == {HEAD_REVISION}
