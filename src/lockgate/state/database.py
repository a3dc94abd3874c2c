"""Connecting to the state database: engine set-up per dialect, transactions, and error translation.

This is the one place that knows SQLite from PostgreSQL at the connection level (the seam the style guide
allows):

- SQLite files get ``check_same_thread=False`` (the engine's pool hands connections to many threads), a busy
  timeout, foreign keys on, ``synchronous=NORMAL``, and transactions begun by us: ``BEGIN IMMEDIATE`` for
  writes, so two writers queue on the busy timeout instead of failing half-way with "database is locked", and
  plain ``BEGIN`` for reads. WAL journal mode is set by :func:`lockgate.state.migration.upgrade_schema`, only
  once the file is known to be ours, as it rewrites the file header.
- In-memory SQLite (``sqlite://``) is one shared connection, so every transaction is serialised in process.
- PostgreSQL connections get ``lock_timeout`` = the busy timeout, so a writer blocked by another session's lock
  gives up with a conflict as on SQLite, instead of waiting forever. Schema changes take a transaction-scoped
  advisory lock (``schema_lock=True``): two processes opening a new database at once queue there, as SQLite's
  ``BEGIN IMMEDIATE`` makes them, instead of both creating the tables and one failing.

Every SQLAlchemy and driver error leaving a transaction becomes a :class:`~lockgate.errors.LockgateError`:
lock contention is a :class:`~lockgate.errors.ConflictError`, anything else a
:class:`~lockgate.errors.StateError`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from lockgate.errors import ConflictError, StateError

URL_HINT = "use a URL such as sqlite:///path/to/state.db or postgresql+psycopg://user@host/db"
WRITE_OPTION = "lockgate_write"
# SQLite says "database is locked" / "database table is locked"; PostgreSQL signals lock_not_available,
# serialization_failure and deadlock_detected by SQLSTATE.
_SQLITE_LOCKED = ("database is locked", "database table is locked", "database schema is locked")
_PG_CONFLICT_SQLSTATES = frozenset({"55P03", "40001", "40P01"})
PG_SCHEMA_LOCK_KEY = 0x6C6F636B67617465  # "lockgate"; advisory locks are per database, so one key is enough


@dataclass(slots=True)
class Database:
    """An engine plus what the store needs to know to use it safely from many threads."""

    engine: Engine
    location: str
    """Human-readable: the SQLite file path, or the URL with its password hidden."""
    path: Path | None
    """The SQLite file, ``None`` for in-memory SQLite and for servers."""
    write_lock: threading.Lock | None
    """Serialises this process's SQLite writers: they queue here rather than spin in SQLite's busy handler."""
    serialize_all: bool
    """In-memory SQLite: one shared connection, so reads take ``write_lock`` too."""
    busy_timeout: float = 30.0
    """Seconds a connection waits for another session's lock."""

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self, *, write: bool, schema_lock: bool = False) -> Iterator[Connection]:
        """One transaction, committed when the block ends without an exception, with errors translated.

        Args:
            write: Whether the transaction may write; SQLite then takes its write lock up front.
            schema_lock: Whether the transaction may change the schema: it first waits for any other session's
                schema change to commit (on SQLite, ``write`` already does this).

        Raises:
            ConflictError: The database is locked by another process (after the busy timeout).
            StateError: Any other database error.
        """
        lock: AbstractContextManager[Any] = nullcontext()
        if self.write_lock is not None and (write or self.serialize_all):
            lock = self.write_lock
        with lock, translate_errors(self.location), self.engine.connect() as conn:
            if write:
                conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if schema_lock and self.is_postgresql:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_SCHEMA_LOCK_KEY})
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, busy_timeout: float) -> Database:
    """Create the engine for ``url``; for a SQLite file, create its parent directory (not the file).

    Args:
        url: A SQLAlchemy URL.
        busy_timeout: Seconds a connection waits for another session's lock before giving up (SQLite's
            busy timeout, PostgreSQL's ``lock_timeout``).

    Raises:
        StateError: The URL is malformed, names an unknown dialect, or its driver is not installed.
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StateError(f"invalid state database URL {url!r}: {exc}", hint=URL_HINT) from exc
    location = parsed.render_as_string(hide_password=True)
    try:
        if parsed.get_backend_name() == "sqlite":
            return _open_sqlite(parsed, busy_timeout=busy_timeout)
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    except sa.exc.NoSuchModuleError as exc:
        raise StateError(f"unsupported state database URL {location!r}: {exc}", hint=URL_HINT) from exc
    except ImportError as exc:
        raise StateError(
            f"the driver for the state database {location!r} is not installed: {exc}",
            hint="pip install 'lockgate[postgres]' for PostgreSQL",
        ) from exc
    if engine.dialect.name == "postgresql":
        _configure_postgresql(engine, busy_timeout=busy_timeout)
    return Database(engine, location, None, None, serialize_all=False, busy_timeout=busy_timeout)


def _open_sqlite(url: sa.URL, *, busy_timeout: float) -> Database:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    connect_args: dict[str, Any] = {"check_same_thread": False}
    if in_memory:
        engine = sa.create_engine(url, connect_args=connect_args, poolclass=StaticPool)
        path = None
        location = "in-memory SQLite"
    else:
        path = Path(database[len("file:") :] if database.startswith("file:") else database).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"cannot create the directory for the state database {path}: {exc}",
                hint="check the path and its permissions, or point LOCKGATE_STATE_URL elsewhere",
            ) from exc
        engine = sa.create_engine(url, connect_args=connect_args)
        location = str(path)
    _configure_sqlite(engine, busy_timeout=busy_timeout)
    return Database(engine, location, path, threading.Lock(), serialize_all=in_memory, busy_timeout=busy_timeout)


def _configure_sqlite(engine: Engine, *, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # Let us emit BEGIN ourselves (below) instead of pysqlite's implicit, deferred one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # With WAL, NORMAL syncs at checkpoints only: a power cut may lose the last commits, never
            # corrupts.
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _configure_postgresql(engine: Engine, *, busy_timeout: float) -> None:
    # lock_timeout 0 would mean "wait forever"; SQLite's busy timeout 0 means "do not wait": keep the latter.
    lock_timeout_ms = max(1, int(busy_timeout * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET lock_timeout = {lock_timeout_ms}")
        finally:
            cursor.close()
        dbapi_connection.commit()  # a SET in a transaction that is rolled back is undone


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` means another session holds a lock we need (worth a retry, not a broken database)."""
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if sqlstate in _PG_CONFLICT_SQLSTATES:
        return True
    message = str(exc.orig).lower()
    return any(text in message for text in _SQLITE_LOCKED)


@contextmanager
def translate_errors(location: str) -> Iterator[None]:
    """Turn SQLAlchemy and driver errors raised in the block into lockgate errors about ``location``."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        raise translate_error(exc, location) from exc


def translate_error(exc: sa.exc.SQLAlchemyError, location: str) -> ConflictError | StateError:
    """The lockgate error for a SQLAlchemy error met while using the state database at ``location``."""
    if is_conflict(exc):
        return ConflictError(
            f"the state database {location} is locked by another lockgate process",
            hint="wait for the other lockgate command to finish, then try again",
        )
    detail = str(exc.orig) if isinstance(exc, sa.exc.DBAPIError) else str(exc)
    message = detail.lower()
    if "not a database" in message or "malformed" in message or "file is encrypted" in message:
        return StateError(
            f"the state database {location} is not a lockgate state database or is corrupt ({detail})",
            hint=f"move {location} aside (e.g. rename it to {location}.broken) and run again to start a "
            "fresh one, or point LOCKGATE_STATE_URL at another database",
        )
    if "unable to open database file" in message:
        return StateError(
            f"cannot open the state database {location} ({detail})",
            hint="check that the path exists and is writable, or point LOCKGATE_STATE_URL elsewhere",
        )
    return StateError(f"state database error in {location}: {detail}")
