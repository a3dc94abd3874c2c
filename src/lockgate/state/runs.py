"""Runs and activity runs: functions over an open connection, one statement group each.

Callers (the :class:`lockgate.state.StateStore` facade) own the transaction; these functions never commit.
Timestamps are passed in, so a caller decides what "now" is. JSON values go through :func:`to_json_value`
before they are stored, so a record returned right after a write equals the one read back later.
"""

from __future__ import annotations

import difflib
import math
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from lockgate.errors import NotFoundError, StateError
from lockgate.state.records import ActivityRunRecord, ActivityStatus, RunRecord, RunStatus
from lockgate.state.schema import activity_runs, runs, watermarks

RUNS_HINT = "see `lockgate runs` for recent run ids"
INTERRUPTED = "interrupted"
_MAX_CANDIDATES = 10
_SUGGESTION_POOL = 200


def new_run_id(started_at: datetime) -> str:
    """A short, time-sortable run id: UTC start second + 6 random hex digits (``20261125-044512-3f9a2c``)."""
    return f"{started_at:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def to_json_value(value: Any) -> Any:
    """``value`` as plain JSON data: anything JSON cannot express becomes ``str(value)``.

    Dates, decimals, paths and other objects become strings (``default=str``), non-finite floats become
    ``"nan"`` / ``"inf"`` (PostgreSQL's JSON refuses them), mapping keys become strings, tuples and sets
    lists, and a container that contains itself is cut at the repeat. Never raises.
    """
    return _to_json(value, ())


def _to_json(value: Any, parents: tuple[int, ...]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        if id(value) in parents:
            return "<circular reference>"
        inner = (*parents, id(value))
        if isinstance(value, Mapping):
            return {_json_key(key): _to_json(item, inner) for key, item in value.items()}
        return [_to_json(item, inner) for item in value]
    return str(value)


def _json_key(key: Any) -> str:
    return key if isinstance(key, str) else str(_to_json(key, ()))


# -- runs ----------------------------------------------------------------------------------------------------


def create_run(
    conn: Connection,
    *,
    pipeline: str,
    target_kind: str,
    environment: str,
    engine: str,
    parameters: Mapping[str, Any],
    trigger: str,
    git_commit: str | None,
    started_at: datetime,
    process: str | None = None,
    parent_run_id: str | None = None,
    rerun_of: str | None = None,
) -> RunRecord:
    """Insert a ``running`` run with a fresh id and return it."""
    run_id = new_run_id(started_at)
    while conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is not None:
        run_id = new_run_id(started_at)
    record = RunRecord(
        id=run_id,
        pipeline=pipeline,
        target_kind=target_kind,
        environment=environment,
        engine=engine,
        status=RunStatus.running,
        parameters=to_json_value(dict(parameters)),
        trigger=trigger,
        started_at=started_at,
        finished_at=None,
        error=None,
        output=None,
        git_commit=git_commit,
        process=process,
        parent_run_id=parent_run_id,
        rerun_of=rerun_of,
    )
    conn.execute(runs.insert().values(_run_values(record)))
    return record


def finish_run(
    conn: Connection,
    run_id: str,
    *,
    status: RunStatus,
    error: str | None,
    output: Any,
    finished_at: datetime,
) -> RunRecord:
    """Set a run's final status, error and output.

    Raises:
        NotFoundError: No run has id ``run_id``.
    """
    result = conn.execute(
        runs.update()
        .where(runs.c.id == run_id)
        .values(status=str(status), error=error, output=to_json_value(output), finished_at=finished_at)
    )
    if result.rowcount == 0:
        raise _run_not_found(conn, run_id)
    return get_run(conn, run_id)


def get_run(conn: Connection, run_id_or_prefix: str) -> RunRecord:
    """The run with this id, or else the one run whose id starts with it.

    Raises:
        NotFoundError: No run matches, or the prefix matches several (the message lists them).
    """
    key = run_id_or_prefix.strip().lower()  # run ids are lower case; LIKE is case-insensitive on SQLite only
    row = conn.execute(sa.select(runs).where(runs.c.id == key)).first() if key else None
    if row is not None:
        return _run_from_row(row)
    if not key:
        raise NotFoundError("no run id given", hint=RUNS_HINT)
    rows = conn.execute(
        sa.select(runs)
        .where(runs.c.id.startswith(key, autoescape=True))
        .order_by(runs.c.started_at.desc(), runs.c.id.desc())
        .limit(_MAX_CANDIDATES + 1)
    ).all()
    if len(rows) == 1:
        return _run_from_row(rows[0])
    if not rows:
        raise _run_not_found(conn, run_id_or_prefix)
    shown = [row.id for row in rows[:_MAX_CANDIDATES]]
    more = " and more" if len(rows) > _MAX_CANDIDATES else ""
    raise NotFoundError(
        f"run id prefix {run_id_or_prefix!r} is ambiguous; it matches {', '.join(shown)}{more}",
        hint="give more characters of the run id; " + RUNS_HINT,
    )


def list_runs(
    conn: Connection, *, limit: int, pipeline: str | None = None, environment: str | None = None
) -> list[RunRecord]:
    """Up to ``limit`` runs, newest first, optionally of one pipeline and/or environment."""
    if limit < 1:
        return []
    query = sa.select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
    if pipeline is None:
        query = query.where(runs.c.parent_run_id.is_(None))  # child runs show under their parent
    else:
        query = query.where(runs.c.pipeline == pipeline)
    if environment is not None:
        query = query.where(runs.c.environment == environment)
    return [_run_from_row(row) for row in conn.execute(query)]


def find_interrupted_runs(
    conn: Connection,
    *,
    now: datetime,
    older_than: datetime | timedelta | None,
    is_dead: Callable[[str | None], bool] | None = None,
) -> list[str]:
    """Ids of the runs :func:`mark_interrupted_runs` would mark (a read: it takes no write lock)."""
    query = sa.select(runs.c.id, runs.c.process).where(runs.c.status == str(RunStatus.running))
    if older_than is not None:
        cutoff = now - older_than if isinstance(older_than, timedelta) else older_than
        query = query.where(runs.c.started_at < cutoff)
    return [row.id for row in conn.execute(query) if is_dead is None or is_dead(row.process)]


def mark_interrupted_runs(
    conn: Connection,
    *,
    now: datetime,
    older_than: datetime | timedelta | None,
    is_dead: Callable[[str | None], bool] | None = None,
) -> int:
    """Fail every run still ``running`` (started before ``older_than``, if given) and its open activities.

    Their error becomes ``"interrupted"``. Only call this when no other process can be running them.

    Args:
        conn: An open connection, in a write transaction.
        now: The finish time to record.
        older_than: Only runs started before this instant, or before ``now`` minus this much.
        is_dead: Only runs whose recorded process this says is gone (None: every matching run).

    Returns:
        How many runs were marked.
    """
    run_ids = find_interrupted_runs(conn, now=now, older_than=older_than, is_dead=is_dead)
    if not run_ids:
        return 0
    unfinished = [str(status) for status in ActivityStatus if not status.is_finished]
    conn.execute(
        activity_runs.update()
        .where(activity_runs.c.run_id.in_(run_ids), activity_runs.c.status.in_(unfinished))
        .values(status=str(ActivityStatus.failed), error=INTERRUPTED, finished_at=now)
    )
    conn.execute(
        runs.update()
        .where(runs.c.id.in_(run_ids))
        .values(status=str(RunStatus.failed), error=INTERRUPTED, finished_at=now)
    )
    return len(run_ids)


def _run_values(record: RunRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "pipeline": record.pipeline,
        "target_kind": record.target_kind,
        "environment": record.environment,
        "engine": record.engine,
        "status": str(record.status),
        "parameters": record.parameters,
        "trigger": record.trigger,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "error": record.error,
        "output": record.output,
        "git_commit": record.git_commit,
        "process": record.process,
        "parent_run_id": record.parent_run_id,
        "rerun_of": record.rerun_of,
    }


def _run_from_row(row: Row[Any]) -> RunRecord:
    return RunRecord(
        id=row.id,
        pipeline=row.pipeline,
        target_kind=row.target_kind,
        environment=row.environment,
        engine=row.engine,
        status=RunStatus(row.status),
        parameters=row.parameters,
        trigger=row.trigger,
        started_at=row.started_at,
        finished_at=row.finished_at,
        error=row.error,
        output=row.output,
        git_commit=row.git_commit,
        process=row.process,
        parent_run_id=row.parent_run_id,
        rerun_of=row.rerun_of,
    )


def count_running(conn: Connection, *, pipeline: str, environment: str) -> int:
    """How many runs of ``pipeline`` in ``environment`` are ``running``."""
    query = sa.select(sa.func.count()).where(
        runs.c.pipeline == pipeline, runs.c.environment == environment, runs.c.status == str(RunStatus.running)
    )
    return int(conn.execute(query).scalar_one())


def list_child_runs(conn: Connection, run_id: str) -> list[RunRecord]:
    """Runs a run's `pipeline` activities started, oldest first."""
    query = sa.select(runs).where(runs.c.parent_run_id == run_id).order_by(runs.c.started_at, runs.c.id)
    return [_run_from_row(row) for row in conn.execute(query)]


def _require_run(conn: Connection, run_id: str) -> None:
    if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
        raise _run_not_found(conn, run_id)


def _run_not_found(conn: Connection, run_id: str) -> NotFoundError:
    recent = conn.execute(sa.select(runs.c.id).order_by(runs.c.started_at.desc()).limit(_SUGGESTION_POOL)).scalars()
    close = difflib.get_close_matches(run_id.strip().lower(), list(recent), n=1)
    suggestion = f" (did you mean {close[0]!r}?)" if close else ""
    return NotFoundError(f"no run with id {run_id!r}{suggestion}", hint=RUNS_HINT)


# -- activity runs -------------------------------------------------------------------------------------------


def start_activity(
    conn: Connection,
    run_id: str,
    *,
    activity: str,
    activity_type: str,
    parameters: Mapping[str, Any],
    attempt: int,
    started_at: datetime,
    parent_id: int | None = None,
    iteration: str | None = None,
) -> ActivityRunRecord:
    """Insert a ``running`` activity run and return it.

    Raises:
        NotFoundError: No run has id ``run_id``.
    """
    return _insert_activity_run(
        conn,
        run_id,
        activity=activity,
        activity_type=activity_type,
        status=ActivityStatus.running,
        attempt=attempt,
        started_at=started_at,
        finished_at=None,
        parameters=parameters,
        error=None,
        parent_id=parent_id,
        iteration=iteration,
    )


def record_finished_activity(
    conn: Connection,
    run_id: str,
    *,
    activity: str,
    activity_type: str,
    status: ActivityStatus,
    reason: str | None,
    at: datetime,
    parent_id: int | None = None,
    iteration: str | None = None,
    output: Any = None,
    attempt: int = 0,
) -> ActivityRunRecord:
    """Insert an activity run that ended without running (skipped, cancelled, or reused by a rerun).

    Skipped and cancelled ones have attempt 0 and ``reason`` as their error; a reused one keeps its output.

    Raises:
        NotFoundError: No run has id ``run_id``.
    """
    return _insert_activity_run(
        conn,
        run_id,
        activity=activity,
        activity_type=activity_type,
        status=status,
        attempt=attempt,
        started_at=at,
        finished_at=at,
        parameters={},
        error=reason,
        parent_id=parent_id,
        iteration=iteration,
        output=output,
    )


def finish_activity(
    conn: Connection,
    activity_run_id: int,
    *,
    status: ActivityStatus,
    output: Any,
    error: str | None,
    log: str,
    metrics: Mapping[str, Any] | None,
    finished_at: datetime,
    parameters: Mapping[str, Any] | None = None,
) -> ActivityRunRecord:
    """Set an activity run's final status, output, error, log and metrics (and its resolved inputs, if given).

    Raises:
        NotFoundError: No activity run has id ``activity_run_id``.
    """
    values = {
        "status": str(status),
        "output": to_json_value(output),
        "error": error,
        "log": log,
        "metrics": to_json_value(dict(metrics or {})),
        "finished_at": finished_at,
    }
    if parameters is not None:
        values["parameters"] = to_json_value(dict(parameters))
    result = conn.execute(activity_runs.update().where(activity_runs.c.id == activity_run_id).values(values))
    if result.rowcount == 0:
        raise NotFoundError(f"no activity run with id {activity_run_id}", hint=RUNS_HINT)
    row = conn.execute(sa.select(activity_runs).where(activity_runs.c.id == activity_run_id)).one()
    return _activity_run_from_row(row)


def list_activity_runs(conn: Connection, run_id: str) -> list[ActivityRunRecord]:
    """A run's activity runs in the order they started.

    Raises:
        NotFoundError: No run has id ``run_id``.
    """
    _require_run(conn, run_id)
    rows = conn.execute(
        sa.select(activity_runs)
        .where(activity_runs.c.run_id == run_id)
        .order_by(activity_runs.c.started_at, activity_runs.c.id)
    )
    return [_activity_run_from_row(row) for row in rows]


def _insert_activity_run(
    conn: Connection,
    run_id: str,
    *,
    activity: str,
    activity_type: str,
    status: ActivityStatus,
    attempt: int,
    started_at: datetime,
    finished_at: datetime | None,
    parameters: Mapping[str, Any],
    error: str | None,
    parent_id: int | None = None,
    iteration: str | None = None,
    output: Any = None,
) -> ActivityRunRecord:
    _require_run(conn, run_id)
    values: dict[str, Any] = {
        "run_id": run_id,
        "activity": activity,
        "activity_type": activity_type,
        "status": str(status),
        "attempt": attempt,
        "started_at": started_at,
        "finished_at": finished_at,
        "parameters": to_json_value(dict(parameters)),
        "output": to_json_value(output),
        "error": error,
        "log": "",
        "metrics": {},
        "parent_id": parent_id,
        "iteration": iteration,
    }
    primary_key = conn.execute(activity_runs.insert().values(values)).inserted_primary_key
    if primary_key is None:
        raise StateError("the state database did not return the id of a new activity run")
    return ActivityRunRecord(
        id=int(primary_key[0]),
        run_id=run_id,
        activity=activity,
        activity_type=activity_type,
        status=ActivityStatus(status),
        attempt=attempt,
        started_at=started_at,
        finished_at=finished_at,
        parameters=values["parameters"],
        output=values["output"],
        error=error,
        log="",
        metrics={},
        parent_id=parent_id,
        iteration=iteration,
    )


def _activity_run_from_row(row: Row[Any]) -> ActivityRunRecord:
    return ActivityRunRecord(
        id=row.id,
        run_id=row.run_id,
        activity=row.activity,
        activity_type=row.activity_type,
        status=ActivityStatus(row.status),
        attempt=row.attempt,
        started_at=row.started_at,
        finished_at=row.finished_at,
        parameters=row.parameters,
        output=row.output,
        error=row.error,
        log=row.log,
        metrics=row.metrics,
        parent_id=row.parent_id,
        iteration=row.iteration,
    )


# -- watermarks ----------------------------------------------------------------------------------------------


def get_watermark(conn: Connection, *, environment: str, key: str) -> Any:
    """The stored watermark value, or None when there is none yet."""
    row = conn.execute(
        sa.select(watermarks.c.value).where(watermarks.c.environment == environment, watermarks.c.key == key)
    ).first()
    return None if row is None else row.value


def set_watermark(
    conn: Connection, *, environment: str, key: str, value: Any, run_id: str | None, at: datetime
) -> None:
    """Store (insert or replace) a watermark."""
    where = (watermarks.c.environment == environment) & (watermarks.c.key == key)
    values = {"value": to_json_value(value), "run_id": run_id, "updated_at": at}
    if conn.execute(watermarks.update().where(where).values(values)).rowcount == 0:
        conn.execute(watermarks.insert().values(environment=environment, key=key, **values))
