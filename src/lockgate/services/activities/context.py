"""What an activity sees while it runs: the engine session, the run's names for expressions, where it is.

Activity runners (one module per type, registered in ``__init__``) take the activity's model and an
:class:`ActivityContext` and return the activity's output (JSON-able), or raise a lockgate error. Errors that
concern one field of the definition are made with :meth:`ActivityContext.field_error`, so they name the
pipeline file, line, activity and field.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lockgate.engine.base import EngineSession, TableMetrics
from lockgate.engine.notebook_runtime import NotebookRuntime
from lockgate.engine.secrets import SecretStore
from lockgate.errors import NotFoundError, SourceLocation, UserInputError
from lockgate.model.activities import ActivityPath
from lockgate.model.expressions import ExpressionError, render_value
from lockgate.model.project import Connection, EnvironmentContext, unknown_name_problem
from lockgate.model.yamlsource import YamlDocument
from lockgate.services.project import Project

if TYPE_CHECKING:
    from lockgate.state import StateStore

EXPRESSION_HINT = (
    "expressions can use pipeline.parameters, pipeline.name, pipeline.run_id, env.name, env.vars, variables, "
    "trigger, activity('NAME').output and, inside a foreach, item; see docs/expressions.md"
)


class ActivityStopped(BaseException):
    """Raised inside an attempt's thread to stop it (its timeout passed, or the run was cancelled)."""


class Orchestrator(Protocol):
    """What container activities call back into: the run walks nested activity lists and child pipelines."""

    def run_activities(
        self, activities: tuple[Any, ...], path: ActivityPath, *, iteration: str, names: Mapping[str, Any]
    ) -> Any:
        """Walk ``activities`` (a nested list) as one pass of the calling container; returns its outcome."""

    def run_child_pipeline(self, pipeline: str, parameters: Mapping[str, Any]) -> Any:
        """Run another pipeline of the project as a child run; returns its result."""

    def set_variable(self, name: str, value: Any, *, append: bool) -> Any:
        """Set (or append to) a pipeline variable; returns the variable's new value."""


@dataclass(frozen=True, slots=True)
class ActivityContext:
    project: Project
    session: EngineSession
    runtime: NotebookRuntime
    store: StateStore
    environment: EnvironmentContext
    secrets: SecretStore
    metrics: TableMetrics
    """This attempt's rows read and written per table."""
    names: Mapping[str, Any]
    """What expressions see: `pipeline`, `env`, `trigger`, `variables`, `activity`, and `item` in a foreach."""
    document: YamlDocument | None
    """The pipeline file, for pointing errors at fields; None for a notebook run on its own."""
    path: ActivityPath
    """Where the activity is in the pipeline file: `("activities", 2)`, or deeper for nested ones."""
    activity_name: str
    pipeline_name: str
    run_id: str
    orchestrator: Orchestrator
    cancelled: threading.Event
    """Set when the attempt must stop (timeout or Ctrl-C); long waits should wait on it."""
    inputs: dict[str, Any] = field(default_factory=dict)
    """Fields as rendered (the activity run's recorded inputs); filled in by :meth:`render`."""

    def render(self, value: Any, *field: str | int, names: Mapping[str, Any] | None = None) -> Any:
        """Render the expressions in a field; an error names the pipeline file, the activity and the field.

        Expressions live in definitions: values typed on the command line for a notebook run (no pipeline
        file) are taken literally. ``names`` replaces :attr:`names` (an `until` condition sees its last pass).
        """
        if self.document is None:
            rendered = value
        else:
            try:
                rendered = render_value(value, self.names if names is None else names)
            except ExpressionError as exc:
                raise self.field_error(str(exc), *field, hint=EXPRESSION_HINT) from exc
        if field:
            self.inputs[".".join(str(part) for part in field)] = rendered
        return rendered

    def locate(self, *field: str | int) -> SourceLocation | None:
        if self.document is None:
            return None
        return self.document.locate((*self.path, *field))

    def field_error(self, message: str, *field: str | int, hint: str | None = None) -> UserInputError:
        """An error about one field of this activity (raise it), located in the pipeline file."""
        where = ".".join(str(part) for part in field)
        prefix = f"activity {self.activity_name!r}" + (f", field {where!r}" if where else "")
        return UserInputError(f"{prefix}: {message}", location=self.locate(*field), hint=hint)

    def connection(self, name: str, *field: str | int) -> Connection:
        """The project's connection ``name``.

        Raises:
            NotFoundError: there is none; the message lists the connections there are.
        """
        connections = self.project.config.connections
        if name not in connections:
            problem = unknown_name_problem("connection", name, sorted(connections), self.locate(*field))
            raise NotFoundError(problem.message, location=problem.location, hint=problem.hint)
        return connections[name]
