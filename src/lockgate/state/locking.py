"""The deploy lock: one transaction that holds a real database lock for an environment until it ends.

The lock is the database's own, so it is released whenever the transaction ends, by commit, rollback or the
death of the process (the server closes its session; the OS drops SQLite's file lock). Nothing is left to clean
up after a crash. This is where SQLite and PostgreSQL differ, so both live here:

- PostgreSQL: a transaction-scoped advisory lock per environment (``pg_try_advisory_xact_lock``), so deploys to
  different environments run side by side. The holder is named in the session's ``application_name``, which
  ``pg_stat_activity`` shows to whoever waits.
- SQLite: the database's write lock (``BEGIN IMMEDIATE``), which covers every environment: a SQLite file has one
  writer at a time. The holder is described in a small file beside the database, read only to explain a wait.

Waiting polls (every :data:`POLL_SECONDS`) so the waiter can say who it waits for, once, and give up at its
deadline with a :class:`~lockgate.errors.ConflictError` naming the holder.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from lockgate.errors import ConflictError
from lockgate.state.database import WRITE_OPTION, Database, is_conflict, translate_errors
from lockgate.state.processes import current_process, is_dead_process

POLL_SECONDS = 0.1
_PG_NAMESPACE = 0x6C67  # "lg": the first half of the advisory lock key; the environment's CRC is the second
_PG_SLOTS = 0x6C73  # "ls": namespace of serialize_on's keys


@contextmanager
def locked_transaction(
    database: Database,
    environment: str,
    *,
    timeout: float,
    holder: str,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Connection]:
    """A write transaction holding ``environment``'s deploy lock, committed when the block ends without error.

    Args:
        timeout: Seconds to wait for another holder; 0 fails at once.
        holder: Who we are, shown to anyone waiting for us (e.g. ``deploy by ana@host pid 4242``).
        on_wait: Called once, with the holder's description, when the lock is busy and we wait.

    Raises:
        ConflictError: Another transaction still holds the lock at the deadline; the message names it.
    """
    deadline = time.monotonic() + max(timeout, 0.0)
    if database.is_postgresql:
        with _postgresql_lock(database, environment, deadline, holder, on_wait) as conn:
            yield conn
    else:
        with _sqlite_lock(database, deadline, holder, on_wait) as conn:
            yield conn


@contextmanager
def _postgresql_lock(
    database: Database, environment: str, deadline: float, holder: str, on_wait: Callable[[str], None] | None
) -> Iterator[Connection]:
    key = zlib.crc32(environment.encode("utf-8")) & 0x7FFFFFFF
    params = {"namespace": _PG_NAMESPACE, "key": key}
    with translate_errors(database.location), database.engine.connect() as conn, conn.begin():
        waited = False
        while not conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:namespace, :key)"), params).scalar():
            current = _postgresql_holder(conn, params) or "another session"
            if time.monotonic() >= deadline:
                raise _held(environment, current)
            if not waited and on_wait is not None:
                on_wait(current)
            waited = True
            time.sleep(POLL_SECONDS)
        conn.execute(sa.text("SELECT set_config('application_name', :name, true)"), {"name": holder[:63]})
        yield conn


def serialize_on(conn: Connection, database: Database, name: str) -> None:
    """Make write transactions that call this with the same ``name`` run one after another.

    SQLite write transactions are serial already (``BEGIN IMMEDIATE``); PostgreSQL takes a transaction-scoped
    advisory lock, so a read-then-insert (such as counting a pipeline's running runs) cannot interleave.
    """
    if database.is_postgresql:
        key = zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:namespace, :key)"), {"namespace": _PG_SLOTS, "key": key})


def _postgresql_holder(conn: Connection, params: dict[str, int]) -> str | None:
    row = conn.execute(
        sa.text(
            "SELECT a.application_name, a.client_addr, a.xact_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = :namespace "
            "AND l.objid::bigint = :key AND l.objsubid = 2"
        ),
        params,
    ).first()
    if row is None:
        return None
    since = f" since {row.xact_start:%Y-%m-%d %H:%M:%S %Z}" if row.xact_start else ""
    return f"{row.application_name or 'a session'}{since}"


@contextmanager
def _sqlite_lock(
    database: Database, deadline: float, holder: str, on_wait: Callable[[str], None] | None
) -> Iterator[Connection]:
    holder_file = Path(f"{database.path}.deploy-lock") if database.path is not None else None
    thread_lock = database.write_lock
    if thread_lock is not None and not thread_lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
        raise _held("this state database", "another thread of this process")
    try:
        with translate_errors(database.location), database.engine.connect() as conn:
            _set_busy_timeout(conn, POLL_SECONDS)
            conn.execution_options(**{WRITE_OPTION: True})
            try:
                transaction = _begin_sqlite(conn, deadline, holder_file, on_wait)
                with transaction:
                    if holder_file is not None:
                        _write_holder(holder_file, holder)
                    yield conn
            finally:
                _set_busy_timeout(conn, database.busy_timeout)
                if holder_file is not None:
                    _remove_holder(holder_file, holder)
    finally:
        if thread_lock is not None:
            thread_lock.release()


def _set_busy_timeout(conn: Connection, seconds: float) -> None:
    # On the driver's connection: through SQLAlchemy, the PRAGMA would begin a transaction of its own.
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")
    finally:
        cursor.close()


def _begin_sqlite(
    conn: Connection, deadline: float, holder_file: Path | None, on_wait: Callable[[str], None] | None
) -> sa.RootTransaction:
    waited = False
    while True:
        try:
            return conn.begin()
        except sa.exc.OperationalError as exc:
            if not is_conflict(exc):
                raise
            conn.rollback()
        current = _read_holder(holder_file) or "another lockgate process"
        if time.monotonic() >= deadline:
            raise _held("this state database", current)
        if not waited and on_wait is not None:
            on_wait(current)
        waited = True


def _write_holder(path: Path, holder: str) -> None:
    since = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    with suppress(OSError):
        path.write_text(json.dumps({"holder": holder, "since": since, "process": current_process()}))


def _read_holder(path: Path | None) -> str | None:
    """The holder described in the file, unless that process is gone (a killed deploy leaves its file)."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
        if is_dead_process(data.get("process")):
            return None
        return f"{data['holder']} since {data['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remove_holder(path: Path, holder: str) -> None:
    # Only our own description: the next holder may have written its own already.
    with suppress(OSError, ValueError, KeyError, TypeError):
        if json.loads(path.read_text())["holder"] == holder:
            path.unlink()


def _held(what: str, holder: str) -> ConflictError:
    return ConflictError(
        f"the deploy lock of {what} is held by {holder}",
        hint="wait for that deploy to finish and run again, or wait longer with --lock-timeout SECONDS",
    )
