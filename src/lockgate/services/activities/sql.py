"""The `sql` activity: Spark SQL statements, inline or from a file, with `${name}` / `:name` parameters."""

from __future__ import annotations

from typing import Any

from lockgate.engine.base import LazyDataFrame
from lockgate.engine.sql_parameters import substitute_parameters
from lockgate.model.pipeline import SqlActivity
from lockgate.model.value import render_widget_value
from lockgate.services.activities.context import ActivityContext
from lockgate.services.project import sql_activity_text

MAX_OUTPUT_ROWS = 1000
"""Rows of a final query kept as the activity's output."""


def run_sql_activity(activity: SqlActivity, context: ActivityContext) -> dict[str, Any]:
    values = {
        name: render_widget_value(context.render(value, "parameters", name))
        for name, value in activity.parameters.items()
    }
    text, file, line = sql_activity_text(context.project.root, activity, context.document, context.path)
    result = context.session.sql(substitute_parameters(text, values), file=file, line=line)
    if not isinstance(result, LazyDataFrame) or result.is_write_result:
        return {}
    # A final query runs, and its first rows are the output (as in Azure Data Factory's Script activity).
    rows = context.session.fetch(result, limit=MAX_OUTPUT_ROWS)
    records = [dict(zip(rows.columns, row, strict=True)) for row in rows.rows]
    return {"resultSets": [{"rowCount": len(records), "rows": records}]}
