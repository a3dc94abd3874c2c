"""The `copy` activity: rows from files or a table/query into a table or files, in full or by a watermark.

An incremental copy reads the watermark stored for its key in this environment, copies the rows whose watermark
column lies above it and at most the source's current maximum (read first, so rows arriving during the copy wait
for the next one), and stores that maximum only after the write has succeeded: a failed copy copies the same
rows again next time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lockgate.model.activities import CopyActivity, FileLocation, Incremental
from lockgate.model.suggest import did_you_mean, format_choices
from lockgate.services.activities.context import ActivityContext
from lockgate.services.activities.datasets import (
    engine_failure,
    json_value,
    read_source,
    write_files,
    write_table,
)


@dataclass(frozen=True, slots=True)
class _Watermark:
    key: str
    column: str
    previous: Any
    """The stored value (JSON), or None before the first copy."""

    def output(self, current: Any) -> dict[str, Any]:
        """The output's `watermark`; ``current`` is None when nothing was new."""
        latest = self.previous if current is None else current
        return {"column": self.column, "previous": self.previous, "current": latest}


def run_copy_activity(activity: CopyActivity, context: ActivityContext) -> dict[str, Any]:
    source = read_source(activity.source, context, role="a copy source")
    frame = source.frame
    watermark = _stored_watermark(frame, activity.incremental, context) if activity.incremental else None
    if watermark is not None and watermark.previous is not None:
        frame = frame.filter(_compare(frame, watermark.column, ">", watermark.previous))
    try:
        rows_read, current = _count_and_max(frame, watermark.column if watermark else None)
    except Exception as exc:
        raise engine_failure(context, exc, "reading the source", "source") from exc
    context.metrics.add_read(source.metric_name, rows_read)
    if watermark is not None and current is not None:
        # Copy exactly the rows counted: rows arriving meanwhile are left for the next copy.
        frame = frame.filter(_compare(frame, watermark.column, "<=", current))
    if watermark is not None and rows_read == 0:
        sink, rows_copied = _sink_description(activity, context), 0  # nothing new: leave the sink as it is
    else:
        sink, rows_copied = _write(frame, activity, context, rows_read)
    if watermark is not None and current is not None:
        context.store.set_watermark(context.environment.name, watermark.key, current, run_id=context.run_id)
    return {
        "rowsRead": rows_read,
        "rowsCopied": rows_copied,
        "source": source.description,
        "sink": sink,
        "watermark": None if watermark is None else watermark.output(current),
    }


def _stored_watermark(frame: Any, incremental: Incremental, context: ActivityContext) -> _Watermark:
    column = _source_column(frame, incremental.watermark_column, context)
    key = str(context.render(incremental.key, "incremental", "key")) if incremental.key else ""
    key = key or f"{context.pipeline_name}.{context.activity_name}"
    return _Watermark(key, column, context.store.get_watermark(context.environment.name, key))


def _source_column(frame: Any, wanted: str, context: ActivityContext) -> str:
    """The source's column named ``wanted`` (ignoring case, as Spark does)."""
    try:
        columns = [name for name, _ in frame.dtypes]  # not `columns`: sqlframe answers ["*"] for SELECT *
    except Exception as exc:
        raise engine_failure(context, exc, "reading the source", "source") from exc
    for column in columns:
        if column.lower() == wanted.lower():
            return str(column)
    suggestion = did_you_mean(wanted, columns)
    hint = f"the source's columns: {format_choices(columns)}"
    raise context.field_error(
        f"unknown watermark column {wanted!r}",
        "incremental",
        "watermark_column",
        hint=f"did you mean {suggestion!r}? {hint}" if suggestion else hint,
    )


def _count_and_max(frame: Any, column: str | None) -> tuple[int, Any]:
    """Rows of ``frame`` and, for a watermark ``column``, its largest value (JSON-able; None without rows)."""
    expressions = ["count(1) AS `rows`"] + ([f"max({_quoted(column)}) AS `watermark`"] if column else [])
    row = frame.selectExpr(*expressions).collect()[0]
    return int(row[0] or 0), json_value(row[1]) if column is not None else None


def _write(frame: Any, activity: CopyActivity, context: ActivityContext, rows_read: int) -> tuple[dict[str, Any], int]:
    """Write to the sink; the sink's description and the rows written."""
    before = sum(context.metrics.rows_written.values())
    try:
        if isinstance(activity.sink, FileLocation):
            sink = write_files(frame, activity.sink, context)
        else:
            sink = write_table(frame, activity.sink, context)
    except Exception as exc:
        raise engine_failure(context, exc, "writing the sink", "sink") from exc
    written = sum(context.metrics.rows_written.values()) - before
    if written == 0 and rows_read:
        # File writes (and engines that do not count table writes) are counted here.
        name = sink.get("table") or f"{sink['connection']}:{sink['path']}"
        context.metrics.add(str(name), rows_read)
        written = rows_read
    return sink, written


def _sink_description(activity: CopyActivity, context: ActivityContext) -> dict[str, Any]:
    sink = activity.sink
    if isinstance(sink, FileLocation):
        path = str(context.render(sink.path, "sink", "path"))
        return {"type": "files", "connection": sink.connection, "path": path, "format": sink.format, "files": []}
    return {"type": "table", "table": str(context.render(sink.table, "sink", "table")), "mode": sink.mode}


def _compare(frame: Any, column: str, operator: str, value: Any) -> str:
    """A SQL condition comparing ``column`` with ``value`` (as stored: JSON) cast to the column's type.

    SQL text rather than `pyspark.sql.functions` keeps this engine-neutral without importing either engine's API.
    """
    column_type = dict(frame.dtypes)[column]
    if isinstance(value, int | float) and not isinstance(value, bool):
        literal = repr(value)
    else:
        literal = "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"{_quoted(column)} {operator} CAST({literal} AS {column_type})"


def _quoted(column: str) -> str:
    return "`" + column.replace("`", "``") + "`"
