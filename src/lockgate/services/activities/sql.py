"""The `sql` activity: Spark SQL statements, inline or from a file, with `${name}` / `:name` parameters."""

from __future__ import annotations

from typing import Any

from lockgate.engine.sql_parameters import substitute_parameters
from lockgate.model.pipeline import SqlActivity
from lockgate.model.value import render_widget_value
from lockgate.services.activities.context import ActivityContext


def run_sql_activity(activity: SqlActivity, context: ActivityContext) -> dict[str, Any]:
    values = {
        name: render_widget_value(context.render(value, "parameters", name))
        for name, value in activity.parameters.items()
    }
    if activity.file is not None:
        file, line = activity.file, 1
        text = (context.project.root / file).read_text(encoding="utf-8")
    else:
        text = str(activity.sql)
        location = context.locate("sql")
        file = location.file if location else "<sql>"
        key_line = location.line or 1 if location else 1
        # A multi-line `sql: |` block starts on the line after its key.
        line = key_line + 1 if "\n" in text.strip() else key_line
    context.session.sql(substitute_parameters(text, values), file=file, line=line)
    return {}
