"""The `lookup` activity: the first row, or the rows (up to 5,000), of a table, a query or files."""

from __future__ import annotations

from typing import Any

from lockgate.model.activities import LookupActivity
from lockgate.services.activities.context import ActivityContext
from lockgate.services.activities.datasets import engine_failure, json_value, read_source

MAX_ROWS = 5000
"""Rows a lookup outputs at most (Azure Data Factory's limit); `truncated` says when there were more."""


def run_lookup_activity(activity: LookupActivity, context: ActivityContext) -> dict[str, Any]:
    source = read_source(activity.source, context, role="a lookup source")
    limit = 1 if activity.first_row_only else MAX_ROWS + 1
    try:
        result = context.session.fetch(source.frame, limit=limit)
    except Exception as exc:
        raise engine_failure(context, exc, "reading the source", "source") from exc
    rows = [
        {str(column): json_value(value) for column, value in zip(result.columns, row, strict=True)}
        for row in result.rows[:MAX_ROWS]
    ]
    context.metrics.add_read(source.metric_name, len(rows))
    if activity.first_row_only:
        return {"firstRow": rows[0] if rows else None}
    return {"count": len(rows), "value": rows, "truncated": len(result.rows) > MAX_ROWS}
