"""One pipeline run in progress: its variables, the names its expressions see, child pipelines, nested lists.

:class:`RunServices` is what every pipeline of a run shares (the engine session, the state store, secrets).
:class:`PipelineRun` is one pipeline's run (the top-level one, or a child started by a `pipeline`
activity): it owns the run's variables and record, makes each attempt's :class:`ActivityContext`, and is the
:class:`~lockgate.services.activities.context.Orchestrator` container activities call back into.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lockgate.engine.base import EngineSession, TableMetrics
from lockgate.engine.notebook_runtime import NotebookRuntime
from lockgate.engine.secrets import SecretStore
from lockgate.errors import ActivityError, LockgateError, UserInputError
from lockgate.model.activities import (
    ActivityBase,
    ActivityPath,
    AppendVariableActivity,
    SetVariableActivity,
)
from lockgate.model.expressions import ExpressionError, render_value
from lockgate.model.project import EnvironmentContext
from lockgate.model.value import ValueSpec, ValueType, coerce_value
from lockgate.model.yamlsource import YamlDocument
from lockgate.services.activities.context import ActivityContext, ActivityStopped
from lockgate.services.project import PipelineSource, Project
from lockgate.services.run_events import EventSink, ListResult, RunEvent
from lockgate.services.walker import ListWalker, ReusedActivity
from lockgate.state import ActivityStatus, RunStatus, StateStore

MAX_PIPELINE_DEPTH = 16
"""Child pipelines nested deeper than this fail (a cycle the validator could not see)."""

AfterSuccess = Callable[[ActivityContext], None]


@dataclass(frozen=True, slots=True)
class RunServices:
    """What every pipeline of one run shares."""

    project: Project
    engine: str
    session: EngineSession
    runtime: NotebookRuntime
    store: StateStore
    environment: EnvironmentContext
    env_names: Mapping[str, Any]
    """`env` in expressions (its `vars` resolve secret references lazily)."""
    secrets: SecretStore
    emit: EventSink
    trigger: Mapping[str, Any]
    after_success: AfterSuccess = field(default=lambda _context: None)
    """Called in an attempt's thread after its runner returned (runs the checks declared on tables it wrote)."""


@dataclass(frozen=True, slots=True)
class ChildRunResult:
    run_id: str
    status: RunStatus
    outputs: Any
    error: str | None


class Variables:
    """A pipeline run's variables: typed, shared by all its activities (set under a lock)."""

    def __init__(self, specs: Mapping[str, ValueSpec]):
        self._specs = dict(specs)
        self._lock = threading.Lock()
        self.values: dict[str, Any] = {
            name: coerce_value(spec.type, spec.default) if spec.default is not None else _empty(spec.type)
            for name, spec in specs.items()
        }

    def set(self, name: str, value: Any, *, append: bool) -> Any:
        """Set ``name`` (or append ``value`` to it) and return its new value.

        Raises:
            ValueError: ``value`` has the wrong type for the variable.
        """
        spec = self._specs[name]
        with self._lock:
            if append:
                self.values[name] = [*(self.values.get(name) or []), value]
            else:
                self.values[name] = coerce_value(spec.type, value) if value is not None else None
            return self.values[name]


def _empty(value_type: ValueType) -> Any:
    return [] if value_type == ValueType.array else None


class PipelineRun:
    """One pipeline's run (top-level or child); see the module docstring."""

    def __init__(
        self,
        services: RunServices,
        *,
        run_id: str,
        name: str,
        source: PipelineSource | None,
        parameters: Mapping[str, Any],
        depth: int = 0,
    ):
        self.services = services
        self.run_id = run_id
        self.name = name
        self.source = source
        self.depth = depth
        self.variables = Variables(source.pipeline.variables if source else {})
        self.walker: ListWalker | None = None
        """The top-level list's walker, once walking (its outcomes survive a Ctrl-C)."""
        self.names: dict[str, Any] = {
            "pipeline": {"name": name, "run_id": run_id, "parameters": dict(parameters)},
            "env": services.env_names,
            "trigger": services.trigger,
            "variables": self.variables.values,
            "activity": None,
        }

    @property
    def document(self) -> YamlDocument | None:
        return self.source.document if self.source else None

    def emit(self, event: RunEvent) -> None:
        self.services.emit(event)

    def walk(
        self,
        activities: tuple[Any, ...],
        *,
        cancel: threading.Event,
        max_parallel: int,
        reused: Mapping[str, ReusedActivity] | None = None,
        key_prefix: str = "",
        depth: int = 0,
    ) -> ListResult:
        """Walk the pipeline's top-level activities (a child pipeline's keys go under its parent activity's)."""
        self.walker = ListWalker(
            self,
            activities,
            ("activities",),
            names=self.names,
            cancel=cancel,
            max_parallel=max_parallel,
            reused=reused,
            key_prefix=key_prefix,
            depth=depth,
        )
        return self.walker.walk()

    def render_outputs(self) -> Any:
        """The pipeline's `outputs`, rendered after a successful walk (with the names its activities saw)."""
        if self.source is None or not self.source.pipeline.outputs or self.walker is None:
            return None
        try:
            return render_value(dict(self.source.pipeline.outputs), self.walker.names)
        except ExpressionError as exc:
            raise UserInputError(
                f"pipeline {self.name!r} outputs: {exc}", location=self.source.document.locate(("outputs",))
            ) from exc

    def context_for(
        self,
        walker: ListWalker,
        activity: ActivityBase,
        cancel: threading.Event,
        record_id: int,
        metrics: TableMetrics,
    ) -> ActivityContext:
        services = self.services
        return ActivityContext(
            project=services.project,
            session=services.session,
            runtime=services.runtime,
            store=services.store,
            environment=services.environment,
            secrets=services.secrets,
            metrics=metrics,
            names=walker.names,
            document=self.document,
            path=walker.path_of(activity),
            activity_name=activity.name,
            pipeline_name=self.name,
            run_id=self.run_id,
            orchestrator=_Orchestrator(self, walker, activity, cancel, record_id),
            cancelled=cancel,
        )

    def after_success(self, context: ActivityContext) -> None:
        self.services.after_success(context)

    def replay(self, activity: ActivityBase, output: Any) -> None:
        """Re-apply a reused activity's effect on variables (a rerun starts with fresh variables)."""
        if isinstance(activity, SetVariableActivity | AppendVariableActivity) and isinstance(output, dict):
            if isinstance(activity, SetVariableActivity):
                self.variables.set(activity.variable, output.get("value"), append=False)
            else:
                self.variables.set(activity.variable, output.get("appended"), append=True)


class _Orchestrator:
    """What one attempt of a container activity calls back into."""

    def __init__(
        self, run: PipelineRun, walker: ListWalker, activity: ActivityBase, cancel: threading.Event, record_id: int
    ):
        self._run = run
        self._walker = walker
        self._activity = activity
        self._cancel = cancel
        self._record_id = record_id

    def run_activities(
        self, activities: tuple[Any, ...], path: ActivityPath, *, iteration: str, names: Mapping[str, Any]
    ) -> ListResult:
        """Walk one pass of a container; raises ActivityStopped when the container was stopped meanwhile."""
        walker = ListWalker(
            self._run,
            activities,
            (*self._walker.path_of(self._activity), *path),
            names={**self._walker.names, **names},
            cancel=self._cancel,
            max_parallel=self._max_parallel(),
            parent_record_id=self._record_id,
            iteration=iteration,
            key_prefix=self._walker.key_for_pass(self._activity.name, iteration),
            depth=self._walker.depth + 1,
        )
        result = walker.walk()
        if self._cancel.is_set():
            raise ActivityStopped
        return result

    def run_child_pipeline(self, pipeline: str, parameters: Mapping[str, Any]) -> ChildRunResult:
        from lockgate.services.runner import resolve_parameters

        run = self._run
        services = run.services
        if run.depth + 1 > MAX_PIPELINE_DEPTH:
            raise ActivityError(
                f"pipelines nest deeper than {MAX_PIPELINE_DEPTH} levels (at {pipeline!r})",
                hint="a pipeline probably runs itself through other pipelines",
            )
        source = services.project.pipeline(pipeline)
        values = resolve_parameters(source, parameters)
        record = services.store.create_run(
            pipeline=pipeline,
            target_kind="pipeline",
            environment=services.environment.name,
            engine=services.engine,
            parameters=values,
            trigger=f"pipeline {run.name}",
            parent_run_id=run.run_id,
        )
        child = PipelineRun(
            services, run_id=record.id, name=pipeline, source=source, parameters=values, depth=run.depth + 1
        )
        status, error, outputs = RunStatus.failed, None, None
        try:
            result = child.walk(
                source.pipeline.activities,
                cancel=self._cancel,
                max_parallel=source.pipeline.max_parallel,
                key_prefix=self._walker.key_for_activity(self._activity.name) + "/",
                depth=self._walker.depth + 1,
            )
            status = run_status(result.verdict.status)
            error = result.failure_summary()
            if status == RunStatus.succeeded:
                outputs = child.render_outputs()
        except LockgateError as exc:
            status, error = RunStatus.failed, str(exc)
            raise
        finally:
            services.store.finish_run(
                record.id, status=status, error=error, output={"outputs": outputs, "variables": child.variables.values}
            )
        if self._cancel.is_set():
            raise ActivityStopped
        return ChildRunResult(record.id, status, outputs, error)

    def set_variable(self, name: str, value: Any, *, append: bool) -> Any:
        return self._run.variables.set(name, value, append=append)

    def _max_parallel(self) -> int:
        source = self._run.source
        return source.pipeline.max_parallel if source else 1


def run_status(status: ActivityStatus) -> RunStatus:
    """The run status a list's verdict means."""
    return {ActivityStatus.succeeded: RunStatus.succeeded, ActivityStatus.cancelled: RunStatus.cancelled}.get(
        status, RunStatus.failed
    )
