"""The `sql` activity: Spark SQL statements, inline or from a file, with `${name}` / `:name` parameters."""

from __future__ import annotations

from typing import Any

from lockgate.engine.sql_parameters import substitute_parameters
from lockgate.model.pipeline import SqlActivity
from lockgate.model.value import render_widget_value
from lockgate.services.activities.context import ActivityContext
from lockgate.services.project import sql_activity_text


def run_sql_activity(activity: SqlActivity, context: ActivityContext) -> dict[str, Any]:
    values = {
        name: render_widget_value(context.render(value, "parameters", name))
        for name, value in activity.parameters.items()
    }
    text, file, line = sql_activity_text(context.project.root, activity, context.document, context.index)
    context.session.sql(substitute_parameters(text, values), file=file, line=line)
    return {}
