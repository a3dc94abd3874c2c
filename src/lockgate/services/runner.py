"""Running a pipeline (or one notebook): a DAG walk over one engine session, recorded in the state store.

Ready activities run in parallel threads up to the pipeline's `max_parallel`. A dependency lets its dependent
run when its status matches one of the dependency's conditions (`succeeded`, `failed`, `skipped`,
`completed`); when it cannot match any more, the dependent is skipped. Ctrl-C stops the run: running
queries are interrupted, running Python is stopped, every unfinished activity is recorded as cancelled, and
Delta tables keep their last committed version.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from lockgate.engine import get_engine
from lockgate.engine.base import EngineSession, LakeTarget, TableMetrics
from lockgate.engine.notebook_runtime import NotebookRuntime
from lockgate.engine.output import captured_output, routed_stdout
from lockgate.engine.secrets import SecretStore, SecretValues
from lockgate.errors import LockgateError, UserCodeError, UserInputError
from lockgate.model.pipeline import Condition, Dependency, NotebookActivity
from lockgate.model.project import EnvironmentContext, resolve_environment
from lockgate.model.suggest import did_you_mean, format_choices
from lockgate.model.value import ValueSpec, coerce_value
from lockgate.services.activities import ACTIVITY_RUNNERS, ActivityContext
from lockgate.services.project import PipelineSource, Project
from lockgate.services.run_events import (
    ActivityFinished,
    ActivityOutcome,
    ActivityStarted,
    EngineReady,
    EventSink,
    RunResult,
    RunStarted,
)
from lockgate.services.settings import Settings
from lockgate.state import ActivityStatus, RunStatus, StateStore
from lockgate.state.processes import current_process

logger = logging.getLogger(__name__)

_SATISFIES: dict[Condition, frozenset[ActivityStatus]] = {
    Condition.succeeded: frozenset({ActivityStatus.succeeded}),
    Condition.failed: frozenset({ActivityStatus.failed}),
    Condition.skipped: frozenset({ActivityStatus.skipped}),
    Condition.completed: frozenset({ActivityStatus.succeeded, ActivityStatus.failed}),
}


class ActivityCancelled(BaseException):
    """Raised inside a running activity's thread when the run is cancelled."""


@dataclass(frozen=True, slots=True)
class _Job:
    """One activity to run, with what its context needs."""

    name: str
    activity_type: str
    activity: Any
    depends_on: tuple[Dependency, ...]
    index: int


def run_pipeline(
    project: Project,
    name: str,
    *,
    store: StateStore,
    environment: str | None = None,
    parameters: Mapping[str, str] | None = None,
    engine: str | None = None,
    settings: Settings | None = None,
    on_event: EventSink | None = None,
) -> RunResult:
    """Run pipeline ``name`` in ``environment``; returns the result (also when the run failed)."""
    source = project.pipeline(name)
    values = resolve_parameters(source, parameters or {})
    jobs = [_Job(a.name, a.type, a, a.depends_on, i) for i, a in enumerate(source.pipeline.activities)]
    return _Run(
        project, store=store, settings=settings, on_event=on_event, environment=environment, engine=engine
    ).execute(
        target=name,
        target_kind="pipeline",
        jobs=jobs,
        parameters=values,
        source=source,
        max_parallel=source.pipeline.max_parallel,
    )


def run_notebook(
    project: Project,
    path: str,
    *,
    store: StateStore,
    environment: str | None = None,
    widgets: Mapping[str, str] | None = None,
    engine: str | None = None,
    settings: Settings | None = None,
    on_event: EventSink | None = None,
) -> RunResult:
    """Run one notebook as a one-activity run; ``widgets`` are its widget values."""
    notebook_path = project.notebook_path(path)
    activity = NotebookActivity(
        type="notebook", name=notebook_path, notebook=notebook_path, parameters=dict(widgets or {})
    )
    return _Run(
        project, store=store, settings=settings, on_event=on_event, environment=environment, engine=engine
    ).execute(
        target=notebook_path,
        target_kind="notebook",
        jobs=[_Job(notebook_path, "notebook", activity, (), 0)],
        parameters=dict(widgets or {}),
        source=None,
        max_parallel=1,
    )


def resolve_parameters(source: PipelineSource, given: Mapping[str, str]) -> dict[str, Any]:
    """Typed pipeline parameter values: given ones converted, defaults filled in.

    Raises:
        UserInputError: an unknown or missing parameter, or a value of the wrong type.
    """
    declared: dict[str, ValueSpec] = source.pipeline.parameters
    for name in given:
        if name not in declared:
            suggestion = did_you_mean(name, declared)
            raise UserInputError(
                f"pipeline {source.name!r} has no parameter {name!r}",
                location=source.document.locate(("parameters",)) if declared else None,
                hint=(f"did you mean {suggestion!r}? " if suggestion else "")
                + (f"parameters: {format_choices(sorted(declared))}" if declared else "it declares no parameters"),
            )
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        raw = given.get(name, spec.default)
        if raw is None:
            if spec.is_required:
                raise UserInputError(
                    f"missing value for parameter {name!r} of pipeline {source.name!r}",
                    location=source.document.locate(("parameters", name)),
                    hint=f"pass it with -p {name}=VALUE ({spec.type.value})",
                )
            values[name] = None
            continue
        try:
            values[name] = coerce_value(spec.type, raw)
        except ValueError as exc:
            raise UserInputError(
                f"parameter {name!r}: {exc}",
                location=source.document.locate(("parameters", name)),
                hint=f"-p {name}=VALUE takes {spec.type.value} values",
            ) from exc
    return values


class _Run:
    """One run's execution: opens the engine, walks the DAG, records everything."""

    def __init__(
        self,
        project: Project,
        *,
        store: StateStore,
        settings: Settings | None,
        on_event: EventSink | None,
        environment: str | None,
        engine: str | None,
    ):
        self.project = project
        self.store = store
        self.settings = settings or Settings()
        self.environment: EnvironmentContext = resolve_environment(project.config, environment, engine=engine)
        self._emit = on_event or (lambda _event: None)
        self._cancelled = threading.Event()
        self._threads: dict[str, int] = {}
        self._lock = threading.Lock()

    def execute(
        self,
        *,
        target: str,
        target_kind: str,
        jobs: list[_Job],
        parameters: dict[str, Any],
        source: PipelineSource | None,
        max_parallel: int,
    ) -> RunResult:
        started = time.perf_counter()
        engine = get_engine(self.environment.engine)
        run = self.store.create_run(
            pipeline=target,
            target_kind=target_kind,
            environment=self.environment.name,
            engine=engine.name,
            parameters=parameters,
            process=current_process(),
        )
        self._emit(RunStarted(run.id, target, self.environment.name, engine.name, tuple(j.name for j in jobs)))
        outcomes: dict[str, ActivityOutcome] = {}
        status = RunStatus.failed
        error: str | None = None
        try:
            session = engine.open_session(self._target())
            self._emit(EngineReady(engine.name, time.perf_counter() - started))
            with session, session.notebook_imports(), routed_stdout():
                secrets = SecretStore(secrets_file=self.settings.secrets_file)
                runtime = NotebookRuntime(
                    session,
                    load_notebook=self.project.load_notebook,
                    secrets=secrets,
                    resolve_path=session.resolve_file_path,
                )
                env = self.environment.as_expression_context()
                env["vars"] = SecretValues(env["vars"], secrets, self.environment.secret_scope)
                expressions = {
                    "pipeline": {"name": target, "run_id": run.id, "parameters": parameters},
                    "env": env,
                }

                def context_for(job: _Job) -> ActivityContext:
                    return ActivityContext(
                        self.project, session, runtime, expressions, source.document if source else None, job.index
                    )

                self._walk(
                    run.id,
                    jobs,
                    session,
                    context_for,
                    secrets,
                    outcomes=outcomes,
                    max_parallel=min(max_parallel, self.settings.max_parallel or max_parallel),
                )
            status = _run_status(outcomes.values(), cancelled=self._cancelled.is_set())
        except KeyboardInterrupt:
            status = RunStatus.cancelled
            error = "cancelled by the user"
        except LockgateError as exc:
            error = str(exc)
            raise
        finally:
            failures = [o for o in outcomes.values() if o.status == ActivityStatus.failed]
            if error is None and failures:
                error = "; ".join(
                    f"{o.name}: {str(o.error).splitlines()[0] if o.error else 'failed'}" for o in failures
                )
            self.store.finish_run(run.id, status=status, error=error)
        ordered = tuple(outcomes[j.name] for j in jobs if j.name in outcomes)
        return RunResult(
            run.id, target, self.environment.name, engine.name, status, ordered, time.perf_counter() - started
        )

    def _target(self) -> LakeTarget:
        lake = self.project.root / self.environment.lake
        return LakeTarget(
            environment=self.environment.name,
            lake_root=lake.resolve(),
            catalog=self.environment.catalog,
            project_root=self.project.root,
        )

    def _walk(
        self,
        run_id: str,
        jobs: list[_Job],
        session: EngineSession,
        context_for: Callable[[_Job], ActivityContext],
        secrets: SecretStore,
        *,
        outcomes: dict[str, ActivityOutcome],
        max_parallel: int,
    ) -> None:
        """Run ``jobs``, filling ``outcomes`` as they finish (also when Ctrl-C ends the walk early)."""
        waiting = {job.name: job for job in jobs}
        running: dict[Future[ActivityOutcome], _Job] = {}
        with ThreadPoolExecutor(max_workers=max_parallel, thread_name_prefix="lockgate-activity") as pool:
            try:
                while waiting or running:
                    self._skip_unreachable(run_id, waiting, outcomes)
                    for job in [j for j in waiting.values() if _is_ready(j, outcomes)]:
                        if len(running) >= max_parallel:
                            break
                        del waiting[job.name]
                        self._emit(ActivityStarted(job.name))
                        running[pool.submit(self._run_job, run_id, job, session, context_for(job), secrets)] = job
                    if not running:
                        if waiting and not any(_is_ready(j, outcomes) for j in waiting.values()):
                            # Cannot happen with a validated DAG; never spin if it somehow does.
                            raise RuntimeError(f"activities can never start: {', '.join(sorted(waiting))}")
                        continue
                    done, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        outcome = future.result()
                        outcomes[running.pop(future).name] = outcome
                        self._emit(ActivityFinished(outcome))
            except KeyboardInterrupt:
                self._cancel(session, running)
                for future, job in running.items():
                    outcomes[job.name] = _result_or_cancelled(future, job)
                    self._emit(ActivityFinished(outcomes[job.name]))
                for job in waiting.values():
                    self.store.record_skipped_activity(
                        run_id,
                        activity=job.name,
                        activity_type=job.activity_type,
                        status=ActivityStatus.cancelled,
                        reason="run cancelled",
                    )
                    outcomes[job.name] = ActivityOutcome(job.name, job.activity_type, ActivityStatus.cancelled)
                raise

    def _skip_unreachable(self, run_id: str, waiting: dict[str, _Job], outcomes: dict[str, ActivityOutcome]) -> None:
        """Mark as skipped every waiting activity whose dependency conditions can no longer hold."""
        changed = True
        while changed:
            changed = False
            for job in list(waiting.values()):
                if all(d.activity in outcomes for d in job.depends_on) and not _conditions_hold(job, outcomes):
                    del waiting[job.name]
                    unmet = [
                        d.activity for d in job.depends_on if not _dependency_holds(d, outcomes[d.activity].status)
                    ]
                    reason = f"dependency not met: {', '.join(unmet)}"
                    self.store.record_skipped_activity(
                        run_id, activity=job.name, activity_type=job.activity_type, reason=reason
                    )
                    outcomes[job.name] = ActivityOutcome(job.name, job.activity_type, ActivityStatus.skipped)
                    self._emit(ActivityFinished(outcomes[job.name]))
                    changed = True

    def _run_job(
        self, run_id: str, job: _Job, session: EngineSession, context: ActivityContext, secrets: SecretStore
    ) -> ActivityOutcome:
        with self._lock:
            self._threads[job.name] = threading.get_ident()
        record = self.store.start_activity(
            run_id, activity=job.name, activity_type=job.activity_type, parameters=_recorded_parameters(job.activity)
        )
        started = time.perf_counter()
        metrics = TableMetrics()
        output: Any = None
        error: LockgateError | None = None
        status = ActivityStatus.succeeded
        with captured_output() as log:
            try:
                with session.activity_scope(metrics):
                    output = ACTIVITY_RUNNERS[job.activity_type](job.activity, context)
            except (ActivityCancelled, KeyboardInterrupt):
                status = ActivityStatus.cancelled
            except LockgateError as exc:
                status, error = ActivityStatus.failed, exc
            except Exception as exc:  # an engine or library failure not mapped to a lockgate error yet
                logger.debug("activity %s failed", job.name, exc_info=True)
                status, error = ActivityStatus.failed, UserCodeError(f"{type(exc).__name__}: {exc}")
            finally:
                with self._lock:
                    self._threads.pop(job.name, None)
        if self._cancelled.is_set() and status == ActivityStatus.failed:
            status, error = ActivityStatus.cancelled, None
        output, error = secrets.redactor.redact_value(output), secrets.redactor.redact_error(error) if error else None
        seconds = time.perf_counter() - started
        self.store.finish_activity(
            record.id,
            status=status,
            output=output,
            error=str(error) if error else None,
            log=secrets.redactor.redact(log.getvalue()),
            metrics={"seconds": round(seconds, 3), "rows_written": metrics.rows_written},
        )
        return ActivityOutcome(job.name, job.activity_type, status, seconds, output, error, metrics.rows_written)

    def _cancel(self, session: EngineSession, running: dict[Future[ActivityOutcome], _Job]) -> None:
        self._cancelled.set()
        session.interrupt()
        with self._lock:
            idents = list(self._threads.values())
        for ident in idents:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(ActivityCancelled))
        deadline = time.monotonic() + 10
        pending = set(running)
        while pending and time.monotonic() < deadline:
            try:
                _, pending = wait(pending, timeout=0.5)
            except KeyboardInterrupt:
                continue  # a second Ctrl-C while we clean up: keep cleaning up, so state stays consistent


def _is_ready(job: _Job, outcomes: Mapping[str, ActivityOutcome]) -> bool:
    return all(d.activity in outcomes for d in job.depends_on) and _conditions_hold(job, outcomes)


def _conditions_hold(job: _Job, outcomes: Mapping[str, ActivityOutcome]) -> bool:
    return all(_dependency_holds(d, outcomes[d.activity].status) for d in job.depends_on)


def _dependency_holds(dependency: Dependency, status: ActivityStatus) -> bool:
    return any(status in _SATISFIES[condition] for condition in dependency.conditions)


def _run_status(outcomes: Any, *, cancelled: bool) -> RunStatus:
    statuses = {o.status for o in outcomes}
    if cancelled or ActivityStatus.cancelled in statuses:
        return RunStatus.cancelled
    if ActivityStatus.failed in statuses:
        return RunStatus.failed
    return RunStatus.succeeded


def _result_or_cancelled(future: Future[ActivityOutcome], job: _Job) -> ActivityOutcome:
    if future.done():
        return future.result()
    return ActivityOutcome(job.name, job.activity_type, ActivityStatus.cancelled)


def _recorded_parameters(activity: Any) -> dict[str, Any]:
    return dict(getattr(activity, "parameters", {}) or {})
