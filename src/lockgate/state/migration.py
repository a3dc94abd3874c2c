"""Bringing a state database's schema to this lockgate's head revision, through the one Alembic tree.

Rules: never touch a database we cannot vouch for: only an empty one or one stamped by lockgate. The revision
check runs first, in a read-only transaction; a database stamped with a revision this lockgate does not know
(written by a newer lockgate) or a file that is not a database is refused with a
:class:`~lockgate.errors.StateError` before anything is written, so the file stays as it was. Only then is
SQLite switched to WAL mode and the upgrade run, in one write transaction that holds the schema lock (several
processes opening a new database at once upgrade it one after the other: the later ones find it at head).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lockgate.errors import StateError
from lockgate.state.database import Database, translate_errors

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
HEAD_REVISION = "0004"
"""The newest migration's revision; a test keeps it equal to the Alembic tree's head. Opening a database that is
already at this revision needs no Alembic at all, which keeps every command's start-up fast."""
NEWER_HINT = "upgrade lockgate (pip install -U lockgate) or point LOCKGATE_STATE_URL at another database"

# Alembic keeps the running migration in module globals (alembic.context), so one migration at a time per
# process.
_alembic_lock = threading.Lock()


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for the packaged migrations, without an ``alembic.ini``."""
    from alembic.config import Config  # Alembic loads only when a schema must be checked in depth or upgraded

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> frozenset[str]:
    """The head revision(s) of this lockgate's migrations."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def current_revisions(connection: Connection) -> frozenset[str]:
    """The revision(s) the database is stamped with; empty for a database without lockgate's tables."""
    from alembic.runtime.migration import MigrationContext

    return frozenset(MigrationContext.configure(connection).get_current_heads())


def upgrade_schema(database: Database) -> None:
    """Check the database's revision, then upgrade it to head (a no-op when it is there already).

    Raises:
        StateError: The database was written by a newer lockgate, is not a database, or the upgrade failed.
        ConflictError: Another process holds the database's write lock past the busy timeout.
    """
    if _is_at_head(database):
        return
    from alembic import command
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory.from_config(alembic_config())
    known = {revision.revision for revision in script.walk_revisions()}
    heads = frozenset(script.get_heads())
    with database.transaction(write=False) as conn:
        # Tables before the revision: on PostgreSQL every statement sees the newest commit, and another process's
        # upgrade commits its tables and its revision at once. Read in this order, a concurrent upgrade can show
        # us its revision without its tables, never its tables without their revision.
        tables = sorted(sa.inspect(conn).get_table_names())
        current = current_revisions(conn)
    foreign_tables = [] if current else tables
    if foreign_tables:
        shown = ", ".join(foreign_tables[:5]) + (", ..." if len(foreign_tables) > 5 else "")
        raise StateError(
            f"{database.location} is not a lockgate state database: it has tables ({shown}) "
            "but no lockgate schema revision",
            hint="point LOCKGATE_STATE_URL at an empty or new database, or move the file aside",
        )
    unknown = sorted(current - known)
    if unknown:
        raise StateError(
            f"the state database {database.location} has schema revision {', '.join(unknown)}, "
            "which this lockgate does not know: it was written by a newer lockgate",
            hint=NEWER_HINT,
        )
    if database.is_sqlite and database.path is not None:
        _enable_wal(database)
    if current == heads:
        return
    logger.info(
        "upgrading the state database %s from %s to %s",
        database.location,
        ", ".join(sorted(current)) or "empty",
        ", ".join(sorted(heads)),
    )
    with _alembic_lock, database.transaction(write=True, schema_lock=True) as conn:
        try:
            command.upgrade(alembic_config(conn), "head")
        except CommandError as exc:
            raise StateError(f"cannot upgrade the state database {database.location}: {exc}", hint=NEWER_HINT) from exc


def _is_at_head(database: Database) -> bool:
    """Whether the database is stamped with exactly this lockgate's head revision (one cheap query)."""
    try:
        with database.transaction(write=False) as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return False
            stamped = {row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}
    except StateError:
        return False  # let the full check produce the precise error
    return stamped == {HEAD_REVISION}


def _enable_wal(database: Database) -> None:
    # journal_mode cannot change inside a transaction, so this goes around the transaction machinery, on the
    # raw driver connection. The mode is stored in the file: once is enough for every later connection, from
    # any process.
    dbapi_error: type[Exception] = database.engine.dialect.loaded_dbapi.Error
    with translate_errors(database.location):
        raw = database.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.close()
        except dbapi_error as exc:
            raise sa.exc.DBAPIError("PRAGMA journal_mode = WAL", None, exc) from exc
        finally:
            raw.close()
