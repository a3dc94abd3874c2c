"""Where lockgate's state lives: runs, deployments and what environments run, in SQLite or PostgreSQL.

:class:`StateStore` is the only entry point. It is a thin facade: each method opens one transaction and
delegates to the per-table functions (``runs.py``, ``deployments.py``), which take a connection. A deploy is
the exception: :meth:`StateStore.deploy_transaction` hands out one locked transaction for all of it. Rules:

- SQLAlchemy Core only, dialect-neutral; the one seam between SQLite and PostgreSQL is ``database.py``.
- One Alembic tree (``migrations/``), applied by :meth:`StateStore.open`; a database from a newer lockgate, or
  a file that is not a database, is refused with a :class:`~lockgate.errors.StateError` and left untouched.
- Every error leaving the store is a :class:`~lockgate.errors.LockgateError`: lock contention is a
  :class:`~lockgate.errors.ConflictError`, an unknown run a :class:`~lockgate.errors.NotFoundError`, anything
  else from the database a :class:`~lockgate.errors.StateError`.
- A store is safe to share between threads; open one per process and close it at exit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy.engine import Connection

from lockgate.errors import NotFoundError, RunSlotsFullError
from lockgate.model.plan import DeployedState, TriggerRuntime, TriggerState
from lockgate.model.release import Release
from lockgate.state import deployments, runs
from lockgate.state.database import Database, open_database
from lockgate.state.deploy_transaction import DeployTransaction
from lockgate.state.locking import locked_transaction, serialize_on
from lockgate.state.migration import upgrade_schema
from lockgate.state.records import (
    ActivityRunRecord,
    ActivityStatus,
    ApprovalRecord,
    DeploymentRecord,
    DeploymentStatus,
    RunRecord,
    RunStatus,
)

__all__ = [
    "ActivityRunRecord",
    "ActivityStatus",
    "ApprovalRecord",
    "DeployTransaction",
    "DeploymentRecord",
    "DeploymentStatus",
    "RunRecord",
    "RunStatus",
    "StateStore",
]

DEFAULT_BUSY_TIMEOUT = 30.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StateStore:
    """Runs and activity runs in the state database. Use :meth:`open`; :meth:`close` or ``with`` to close."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @classmethod
    def open(cls, url: str, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> StateStore:
        """Connect to the state database at ``url`` and upgrade its schema to this lockgate's head.

        For a SQLite file, its directory is created when missing, and the file itself when there is none.

        Args:
            url: A SQLAlchemy URL, e.g. ``sqlite:////home/me/project/.lockgate/state.db``.
            busy_timeout: Seconds to wait for another process's lock before raising ``ConflictError`` (SQLite's
                busy timeout; PostgreSQL's ``lock_timeout``).

        Raises:
            StateError: The URL is unusable, the database was written by a newer lockgate, or it is not a
                lockgate state database (a corrupt file, say). The database is left unmodified.
            ConflictError: Another process holds the database's write lock for longer than ``busy_timeout``.
        """
        database = open_database(url, busy_timeout=busy_timeout)
        try:
            upgrade_schema(database)
        except BaseException:
            database.dispose()
            raise
        return cls(database)

    @property
    def location(self) -> str:
        """The SQLite file, or the database URL with its password hidden: for messages."""
        return self._database.location

    def close(self) -> None:
        """Close every pooled connection. The store must not be used afterwards."""
        self._database.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StateStore({self.location!r})"

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._database.transaction(write=True) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._database.transaction(write=False) as conn:
            yield conn

    # -- runs ------------------------------------------------------------------------------------------------

    def create_run(
        self,
        *,
        pipeline: str,
        target_kind: str,
        environment: str,
        engine: str,
        parameters: Mapping[str, Any],
        trigger: str = "manual",
        git_commit: str | None = None,
        process: str | None = None,
        parent_run_id: str | None = None,
        rerun_of: str | None = None,
        max_running: int | None = None,
    ) -> RunRecord:
        """Record that a run of a pipeline or notebook (``target_kind``) starts now, as ``running``.

        Args:
            max_running: Start it only if fewer runs of ``pipeline`` than this run in ``environment`` now
                (checked and inserted in one locked transaction).

        Returns:
            The new run, with a fresh time-sortable id such as ``20261125-044512-3f9a2c``.

        Raises:
            RunSlotsFullError: ``max_running`` runs are running already.
        """
        with self._write() as conn:
            if max_running is not None:
                serialize_on(conn, self._database, f"run-slots/{environment}/{pipeline}")
                running = runs.count_running(conn, pipeline=pipeline, environment=environment)
                if running >= max_running:
                    raise RunSlotsFullError(
                        f"{pipeline!r} has {running} runs running in {environment!r} "
                        f"(its concurrency is {max_running})",
                        hint="wait for one to finish, or raise the pipeline's `concurrency:`",
                    )
            return runs.create_run(
                conn,
                pipeline=pipeline,
                target_kind=target_kind,
                environment=environment,
                engine=engine,
                parameters=parameters,
                trigger=trigger,
                git_commit=git_commit,
                started_at=_utcnow(),
                process=process,
                parent_run_id=parent_run_id,
                rerun_of=rerun_of,
            )

    def finish_run(self, run_id: str, *, status: RunStatus, error: str | None = None, output: Any = None) -> RunRecord:
        """Record a run's end now. ``output`` is stored as JSON; what JSON cannot hold is stored as ``str()``.

        Raises:
            NotFoundError: No run has exactly this id.
        """
        with self._write() as conn:
            return runs.finish_run(
                conn, run_id, status=RunStatus(status), error=error, output=output, finished_at=_utcnow()
            )

    def get_run(self, run_id: str) -> RunRecord:
        """The run with this id, or with this unique id prefix (``20261125-0445`` is enough when unambiguous).

        Raises:
            NotFoundError: No run matches, or the prefix matches several; the message lists the candidates.
        """
        with self._read() as conn:
            return runs.get_run(conn, run_id)

    def list_runs(
        self, *, limit: int = 20, pipeline: str | None = None, environment: str | None = None
    ) -> list[RunRecord]:
        """Up to ``limit`` runs, newest first, optionally of one pipeline and/or environment."""
        with self._read() as conn:
            return runs.list_runs(conn, limit=limit, pipeline=pipeline, environment=environment)

    def mark_interrupted_runs(
        self,
        *,
        older_than: datetime | timedelta | None = None,
        is_dead: Callable[[str | None], bool] | None = None,
    ) -> int:
        """Fail runs (and their activities) left ``running`` by a dead process, with error ``"interrupted"``.

        Call at start-up, when no other lockgate process can be running them.

        Args:
            older_than: Only runs started before this UTC instant, or longer ago than this duration.
            is_dead: Only runs whose recorded process (``RunRecord.process``) this says is gone.

        Returns:
            How many runs were marked.
        """
        now = _utcnow()
        # Look first, in a read: most of the time there is nothing to mark, and a write would queue behind
        # another process's write lock (a deploy's, say) for nothing.
        with self._read() as conn:
            if not runs.find_interrupted_runs(conn, now=now, older_than=older_than, is_dead=is_dead):
                return 0
        with self._write() as conn:
            return runs.mark_interrupted_runs(conn, now=now, older_than=older_than, is_dead=is_dead)

    # -- activity runs ---------------------------------------------------------------------------------------

    def start_activity(
        self,
        run_id: str,
        *,
        activity: str,
        activity_type: str,
        parameters: Mapping[str, Any],
        attempt: int = 1,
        parent_id: int | None = None,
        iteration: str | None = None,
    ) -> ActivityRunRecord:
        """Record that an attempt at an activity of a run starts now, as ``running``.

        Raises:
            NotFoundError: No run has exactly this id.
        """
        with self._write() as conn:
            return runs.start_activity(
                conn,
                run_id,
                activity=activity,
                activity_type=activity_type,
                parameters=parameters,
                attempt=attempt,
                started_at=_utcnow(),
                parent_id=parent_id,
                iteration=iteration,
            )

    def finish_activity(
        self,
        activity_run_id: int,
        *,
        status: ActivityStatus,
        output: Any = None,
        error: str | None = None,
        log: str = "",
        metrics: Mapping[str, Any] | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> ActivityRunRecord:
        """Record an activity run's end now, with its output, error, captured log and metrics.

        Raises:
            NotFoundError: No activity run has this id.
        """
        with self._write() as conn:
            return runs.finish_activity(
                conn,
                activity_run_id,
                status=ActivityStatus(status),
                output=output,
                error=error,
                log=log,
                metrics=metrics,
                finished_at=_utcnow(),
                parameters=parameters,
            )

    def record_skipped_activity(
        self,
        run_id: str,
        *,
        activity: str,
        activity_type: str,
        status: ActivityStatus = ActivityStatus.skipped,
        reason: str | None = None,
        parent_id: int | None = None,
        iteration: str | None = None,
        output: Any = None,
        attempt: int = 0,
    ) -> ActivityRunRecord:
        """Record an activity that finished without running (skipped, cancelled before it started, or reused).

        The record has empty parameters and ``reason`` as its ``error``; a reused one (``lockgate run
        --rerun``) keeps the earlier run's ``output``.

        Raises:
            NotFoundError: No run has exactly this id.
        """
        with self._write() as conn:
            return runs.record_finished_activity(
                conn,
                run_id,
                activity=activity,
                activity_type=activity_type,
                status=ActivityStatus(status),
                reason=reason,
                at=_utcnow(),
                parent_id=parent_id,
                iteration=iteration,
                output=output,
                attempt=attempt,
            )

    def list_activity_runs(self, run_id: str) -> list[ActivityRunRecord]:
        """A run's activity runs (every attempt) in the order they started.

        Raises:
            NotFoundError: No run has exactly this id.
        """
        with self._read() as conn:
            return runs.list_activity_runs(conn, run_id)

    def list_child_runs(self, run_id: str) -> list[RunRecord]:
        """The runs a run's `pipeline` activities started, oldest first."""
        with self._read() as conn:
            return runs.list_child_runs(conn, run_id)

    # -- watermarks ------------------------------------------------------------------------------------------

    def get_watermark(self, environment: str, key: str) -> Any:
        """The watermark stored under ``key`` for ``environment`` (None: none yet, copy everything)."""
        with self._read() as conn:
            return runs.get_watermark(conn, environment=environment, key=key)

    def set_watermark(self, environment: str, key: str, value: Any, *, run_id: str | None = None) -> None:
        """Store a watermark; the next incremental copy starts above it."""
        with self._write() as conn:
            runs.set_watermark(conn, environment=environment, key=key, value=value, run_id=run_id, at=_utcnow())

    # -- deploys ---------------------------------------------------------------------------------------------

    @contextmanager
    def deploy_transaction(
        self,
        environment: str,
        *,
        timeout: float,
        holder: str,
        on_wait: Callable[[str], None] | None = None,
    ) -> Iterator[DeployTransaction]:
        """One transaction holding ``environment``'s deploy lock; committed when the block ends without error.

        Raises:
            ConflictError: another deploy still holds the lock after ``timeout`` seconds (the message names it).
        """
        with locked_transaction(self._database, environment, timeout=timeout, holder=holder, on_wait=on_wait) as conn:
            yield DeployTransaction(conn, environment)

    def deployed_state(self, environment: str) -> DeployedState:
        with self._read() as conn:
            return deployments.read_deployed_state(conn, environment)

    def load_release(self, release_hash: str) -> Release:
        """A release some deployment stored.

        Raises:
            NotFoundError: none has this hash.
        """
        with self._read() as conn:
            return deployments.load_release(conn, release_hash)

    def record_failed_deployment(self, values: Mapping[str, Any]) -> DeploymentRecord:
        """Append the audit record of a deployment that did not apply (its transaction was rolled back)."""
        now = _utcnow()
        row = {"started_at": now, "finished_at": now, "changes": [], "triggers_before": {}, "triggers_after": {}}
        with self._write() as conn:
            deployment_id = deployments.insert_deployment(conn, {**row, **values})
            return deployments.get_deployment(conn, deployment_id)

    def list_deployments(self, environment: str | None = None, *, limit: int = 20) -> list[DeploymentRecord]:
        """Deployments, newest first."""
        with self._read() as conn:
            return deployments.list_deployments(conn, environment, limit=limit)

    def get_deployment(self, deployment_id: int) -> DeploymentRecord:
        """Raises: NotFoundError: no deployment has this id."""
        with self._read() as conn:
            return deployments.get_deployment(conn, deployment_id)

    def last_deployment(self, environment: str) -> DeploymentRecord | None:
        """The deployment that the environment runs (its newest succeeded one)."""
        with self._read() as conn:
            return deployments.last_deployment(conn, environment)

    def deployed_environments(self) -> list[str]:
        """Environments with at least one deployment record."""
        with self._read() as conn:
            return deployments.deployed_environments(conn)

    def set_trigger_state(self, environment: str, name: str, state: TriggerState, *, actor: str) -> TriggerRuntime:
        """An operator starts or pauses a deployed trigger. A pause is kept by later deploys; a start of a trigger
        that Git has stopped is drift, undone by the next deploy.

        Raises:
            NotFoundError: the trigger is not deployed to ``environment``.
        """
        with self._write() as conn:
            known = deployments.read_trigger_states(conn, environment)
            if name not in known:
                raise NotFoundError(
                    f"trigger {name!r} is not deployed to {environment!r}",
                    hint=f"deployed there: {', '.join(sorted(known)) or 'none'}; "
                    f"see `lockgate status --env {environment}`",
                )
            now = _utcnow()
            deployments.set_trigger_states(conn, environment, {name: state}, set_by="operator", actor=actor, at=now)
            return TriggerRuntime(name, state, "operator", actor, now)

    def approve(self, environment: str, plan_hash: str, *, by: str) -> ApprovalRecord:
        with self._write() as conn:
            return deployments.insert_approval(conn, environment, plan_hash, by=by, at=_utcnow())

    def find_approvals(self, environment: str, plan_hash: str) -> list[ApprovalRecord]:
        """Everyone's approvals of the plan with this hash, oldest first."""
        with self._read() as conn:
            return deployments.find_approvals(conn, environment, plan_hash)
