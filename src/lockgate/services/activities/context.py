"""What an activity sees while it runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lockgate.engine.base import EngineSession
from lockgate.engine.notebook_runtime import NotebookRuntime
from lockgate.errors import SourceLocation, UserInputError
from lockgate.model.expressions import ExpressionError, render_value
from lockgate.model.yamlsource import YamlDocument
from lockgate.services.project import Project


@dataclass(frozen=True, slots=True)
class ActivityContext:
    project: Project
    session: EngineSession
    runtime: NotebookRuntime
    expressions: Mapping[str, Any]
    """Names expressions may use: `pipeline`, `env`."""
    document: YamlDocument | None
    """The pipeline file, for pointing errors at fields; None for a notebook run on its own."""
    index: int
    """The activity's position in the pipeline file's `activities` list."""

    def render(self, value: Any, *field: str | int) -> Any:
        """Render the expressions in a field; an error names the pipeline file, the activity and the field.

        Expressions live in definitions: values typed on the command line for a notebook run (no pipeline
        file) are taken literally.
        """
        if self.document is None:
            return value
        try:
            return render_value(value, self.expressions)
        except ExpressionError as exc:
            raise UserInputError(
                str(exc),
                location=self.locate(*field),
                hint="expressions can use pipeline.parameters, pipeline.name, pipeline.run_id, env.name and env.vars",
            ) from exc

    def locate(self, *field: str | int) -> SourceLocation | None:
        if self.document is None:
            return None
        return self.document.locate(("activities", self.index, *field))
