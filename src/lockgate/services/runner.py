"""Running a pipeline (or one notebook, or a rerun of a failed run), recorded in the state store.

This module sets a run up and closes it: typed parameters, the pipeline's `concurrency` slot, the engine
session, the names expressions see, the run record and its final status. Walking the activities is
:mod:`lockgate.services.walker`'s job, container activities and child pipelines
:mod:`lockgate.services.orchestration`'s. Ctrl-C stops the run: running queries are interrupted, running Python
is stopped, every unfinished activity is recorded as cancelled, and Delta tables keep their last committed
version.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.engine import get_engine
from lockgate.engine.base import LakeTarget
from lockgate.engine.notebook_runtime import NotebookRuntime
from lockgate.engine.output import routed_stdout
from lockgate.engine.secrets import SecretStore, SecretValues
from lockgate.errors import LockgateError, RunSlotsFullError, UserInputError
from lockgate.model.activities import NotebookActivity
from lockgate.model.project import EnvironmentContext, resolve_environment
from lockgate.model.suggest import did_you_mean, format_choices
from lockgate.model.value import ValueSpec, coerce_value
from lockgate.services.activities.context import ActivityContext
from lockgate.services.checks import build_check_failure, render_check_results, run_declared_checks
from lockgate.services.lineage import lineage_sink
from lockgate.services.orchestration import (
    AfterSuccess,
    PipelineRun,
    RunServices,
    run_status,
)
from lockgate.services.project import PipelineSource, Project
from lockgate.services.run_events import (
    EngineReady,
    EventSink,
    ListResult,
    RunEvent,
    RunFinished,
    RunResult,
    RunStarted,
    WaitingForSlot,
)
from lockgate.services.settings import Settings
from lockgate.services.walker import ReusedActivity
from lockgate.state import ActivityStatus, RunRecord, RunStatus, StateStore
from lockgate.state.processes import current_process

SLOT_POLL_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class TriggerInfo:
    """What started a run, as expressions see it (`trigger.*`)."""

    type: str = "manual"
    name: str | None = None
    time: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    file_path: str | None = None

    def as_names(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "time": self.time,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "file_path": self.file_path,
        }

    @property
    def label(self) -> str:
        return self.name or self.type


def run_pipeline(
    project: Project,
    name: str,
    *,
    store: StateStore,
    environment: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    engine: str | None = None,
    settings: Settings | None = None,
    on_event: EventSink | None = None,
    trigger: TriggerInfo | None = None,
    after_success: AfterSuccess | None = None,
) -> RunResult:
    """Run pipeline ``name`` in ``environment``; returns the result (also when the run failed)."""
    source = project.pipeline(name)
    values = resolve_parameters(source, parameters or {})
    run = _Run(project, store, settings, on_event, environment, engine, trigger, after_success)
    return run.execute(target=name, target_kind="pipeline", source=source, parameters=values)


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
    after_success: AfterSuccess | None = None,
) -> RunResult:
    """Run one notebook as a one-activity run; ``widgets`` are its widget values."""
    notebook_path = project.notebook_path(path)
    activity = NotebookActivity(
        type="notebook", name=notebook_path, notebook=notebook_path, parameters=dict(widgets or {})
    )
    run = _Run(project, store, settings, on_event, environment, engine, None, after_success)
    return run.execute(
        target=notebook_path, target_kind="notebook", source=None, parameters=dict(widgets or {}), only=activity
    )


def rerun_pipeline(
    project: Project,
    run_id: str,
    *,
    store: StateStore,
    engine: str | None = None,
    settings: Settings | None = None,
    on_event: EventSink | None = None,
    after_success: AfterSuccess | None = None,
) -> RunResult:
    """Run a failed or cancelled pipeline run again, from its failed activities.

    Top-level activities that succeeded in that run are not run again: their outputs are reused (and the
    variables they set are set again), so what depends on them sees the same values.

    Raises:
        NotFoundError: no such run.
        UserInputError: the run is not a finished, unsuccessful pipeline run.
    """
    previous = store.get_run(run_id)
    _check_rerunnable(previous)
    source = project.pipeline(previous.pipeline)
    values = resolve_parameters(source, previous.parameters)
    reused = _reusable_outcomes(store, previous, source)
    run = _Run(project, store, settings, on_event, previous.environment, engine, None, after_success)
    return run.execute(
        target=previous.pipeline,
        target_kind="pipeline",
        source=source,
        parameters=values,
        reused=reused,
        rerun_of=previous.id,
    )


def resolve_parameters(source: PipelineSource, given: Mapping[str, Any]) -> dict[str, Any]:
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
                f"parameter {name!r} of pipeline {source.name!r}: {exc}",
                location=source.document.locate(("parameters", name)),
                hint=f"-p {name}=VALUE takes {spec.type.value} values",
            ) from exc
    return values


class _Run:
    """One run's set-up and close: opens the engine, takes a slot, walks, records the end."""

    def __init__(
        self,
        project: Project,
        store: StateStore,
        settings: Settings | None,
        on_event: EventSink | None,
        environment: str | None,
        engine: str | None,
        trigger: TriggerInfo | None,
        after_success: AfterSuccess | None,
    ):
        self.project = project
        self.store = store
        self.settings = settings or Settings()
        self.environment: EnvironmentContext = resolve_environment(project.config, environment, engine=engine)
        self.trigger = trigger or TriggerInfo()
        self._emit = _fan_out(on_event, self._lineage())
        self._after_success = after_success

    def execute(
        self,
        *,
        target: str,
        target_kind: str,
        source: PipelineSource | None,
        parameters: dict[str, Any],
        only: NotebookActivity | None = None,
        reused: Mapping[str, ReusedActivity] | None = None,
        rerun_of: str | None = None,
    ) -> RunResult:
        started = time.perf_counter()
        engine = get_engine(self.environment.engine, spark=self.environment.spark)
        activities: tuple[Any, ...] = source.pipeline.activities if source else (only,)
        record = self._create_run(target, target_kind, engine.name, parameters, source, rerun_of)
        self._emit(RunStarted(record.id, target, self.environment.name, engine.name, tuple(a.name for a in activities)))
        result: ListResult | None = None
        status, error, output = RunStatus.failed, None, None
        pipeline_run: PipelineRun | None = None
        try:
            session = engine.open_session(self._target())
            self._emit(EngineReady(engine.name, time.perf_counter() - started))
            with session, session.notebook_imports(), routed_stdout():
                secrets = SecretStore(secrets_file=self.settings.secrets_file)
                env = self.environment.as_expression_context()
                env["vars"] = SecretValues(env["vars"], secrets, self.environment.secret_scope)
                services = RunServices(
                    project=self.project,
                    engine=engine.name,
                    session=session,
                    runtime=NotebookRuntime(
                        session,
                        load_notebook=self.project.load_notebook,
                        secrets=secrets,
                        resolve_path=session.resolve_file_path,
                    ),
                    store=self.store,
                    environment=self.environment,
                    env_names=env,
                    secrets=secrets,
                    emit=self._emit,
                    trigger=self.trigger.as_names(),
                    after_success=self._after_success or _check_written_tables,
                )
                pipeline_run = PipelineRun(
                    services, run_id=record.id, name=target, source=source, parameters=parameters
                )
                max_parallel = source.pipeline.max_parallel if source else 1
                result = pipeline_run.walk(
                    activities,
                    cancel=threading.Event(),
                    max_parallel=min(max_parallel, self.settings.max_parallel or max_parallel),
                    reused=reused,
                )
                status = run_status(result.verdict.status)
                error = result.failure_summary()
                if status == RunStatus.succeeded:
                    output = pipeline_run.render_outputs()
        except KeyboardInterrupt:
            status, error = RunStatus.cancelled, "cancelled by the user"
        except LockgateError as exc:
            status, error = RunStatus.failed, str(exc)
            raise
        finally:
            variables = pipeline_run.variables.values if pipeline_run else {}
            self.store.finish_run(
                record.id, status=status, error=error, output={"outputs": output, "variables": variables}
            )
            self._emit(RunFinished(record.id, target, status, error))
        walker = pipeline_run.walker if pipeline_run else None
        outcomes = result.outcomes if result else (walker.outcomes if walker else {})
        ordered = tuple(outcomes[a.name] for a in activities if a.name in outcomes)
        return RunResult(
            record.id,
            target,
            self.environment.name,
            engine.name,
            status,
            ordered,
            time.perf_counter() - started,
            output=output,
            error=error,
        )

    def _create_run(
        self,
        target: str,
        target_kind: str,
        engine: str,
        parameters: Mapping[str, Any],
        source: PipelineSource | None,
        rerun_of: str | None,
    ) -> RunRecord:
        """The run's record; with a `concurrency` limit, waits (Ctrl-C ends the wait) for a free slot."""
        limit = source.pipeline.concurrency if source else None
        announced = False
        while True:
            try:
                return self.store.create_run(
                    pipeline=target,
                    target_kind=target_kind,
                    environment=self.environment.name,
                    engine=engine,
                    parameters=parameters,
                    trigger=self.trigger.label,
                    process=current_process(),
                    rerun_of=rerun_of,
                    max_running=limit,
                )
            except RunSlotsFullError as exc:
                if not announced:
                    self._emit(WaitingForSlot(exc.message))
                    announced = True
                time.sleep(SLOT_POLL_SECONDS)

    def _lineage(self) -> EventSink | None:
        config = self.project.config.lineage
        if config is None:
            return None
        return lineage_sink(
            config,
            project_root=self.project.root,
            project_name=self.project.config.name,
            lake_root=self._target().lake_root,
        )

    def _target(self) -> LakeTarget:
        lake = self.project.root / self.environment.lake
        return LakeTarget(
            environment=self.environment.name,
            lake_root=lake.resolve(),
            catalog=self.environment.catalog,
            project_root=self.project.root,
        )


def _fan_out(*sinks: EventSink | None) -> EventSink:
    active = [sink for sink in sinks if sink is not None]

    def emit(event: RunEvent) -> None:
        for sink in active:
            sink(event)

    return emit


def _check_written_tables(context: ActivityContext) -> None:
    """Run the checks declared (`tables/*.yaml`) on the tables an activity wrote; an `error` one fails it."""
    if not context.metrics.rows_written or not context.project.tables:
        return
    results = run_declared_checks(context.session, context.project, context.metrics.rows_written)
    if results:
        print(render_check_results(results))  # noqa: T201 - the activity's log is what it prints
    failure = build_check_failure(results)
    if failure is not None:
        raise failure


def _check_rerunnable(run: RunRecord) -> None:
    if run.target_kind != "pipeline":
        raise UserInputError(
            f"run {run.id} ran a notebook, not a pipeline; only pipeline runs can be rerun",
            hint=f"run the notebook again: lockgate run {run.pipeline}",
        )
    if run.parent_run_id is not None:
        raise UserInputError(
            f"run {run.id} is a child run of {run.parent_run_id}", hint=f"rerun the parent: --rerun {run.parent_run_id}"
        )
    if not run.status.is_finished:
        raise UserInputError(f"run {run.id} is still {run.status.value}", hint="wait for it to end, or cancel it")
    if run.status == RunStatus.succeeded:
        raise UserInputError(
            f"run {run.id} succeeded; there is nothing to rerun", hint=f"start a new run: lockgate run {run.pipeline}"
        )


def _reusable_outcomes(store: StateStore, previous: RunRecord, source: PipelineSource) -> dict[str, ReusedActivity]:
    """Top-level activities whose last attempt in ``previous`` succeeded, with their outputs."""
    top_level = {activity.name for activity in source.pipeline.activities}
    latest: dict[str, Any] = {}
    for record in store.list_activity_runs(previous.id):
        if record.parent_id is None and record.activity in top_level:
            latest[record.activity] = record
    return {
        name: ReusedActivity(record.output, previous.id)
        for name, record in latest.items()
        if record.status == ActivityStatus.succeeded
    }


__all__ = ["TriggerInfo", "rerun_pipeline", "resolve_parameters", "run_notebook", "run_pipeline"]
