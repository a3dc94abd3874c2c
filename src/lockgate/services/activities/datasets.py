"""Where `copy` and `lookup` read and write: files in a `local` connection's folder, and the lake's tables.

Reads and writes go through the engine's PySpark API (``session.spark``), so they behave the same on DuckDB and
Spark. File paths are resolved here, below the connection's folder, and checked before the engine sees them: a
glob that matches nothing is an error naming the connection and its folder, not an engine message. Files are
written to a hidden staging folder first and moved into place afterwards, so a failed write leaves no half file.
"""

from __future__ import annotations

import datetime as dt
import glob
import math
import os
import shutil
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from lockgate.engine.sql import StatementKind, split_statements
from lockgate.errors import EngineError, LockgateError
from lockgate.model.activities import FileLocation, TableSink, TableSource
from lockgate.model.project import LocalConnection
from lockgate.services.activities.context import ActivityContext

FILE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".tsv", ".txt"),
    "parquet": (".parquet", ".pq"),
    "json": (".json", ".jsonl", ".ndjson"),
}
"""A sink path ending in one of its format's suffixes is one file; any other sink path is a folder."""

_DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {"csv": {"header": True}}
"""CSV files have a header row unless `options: {header: false}` says otherwise (Spark's default is no header)."""

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """A source read as a DataFrame, with how to name it in outputs and metrics."""

    frame: Any
    description: dict[str, Any]
    """The source as the activity's output shows it."""
    metric_name: str
    """The name rows read are counted under."""


def local_folder(context: ActivityContext, name: str, *field: str | int, role: str) -> Path:
    """The folder of connection ``name``, which must be of type `local`.

    Raises:
        NotFoundError: there is no such connection.
        UserInputError: the connection is of another type.
    """
    name = str(context.render(name, *field))
    connection = context.connection(name, *field)
    if not isinstance(connection, LocalConnection):
        raise context.field_error(
            f"connection {name!r} is of type {connection.type!r}, but {role} needs a connection of type 'local'",
            *field,
            hint="name a `type: local` connection from lockgate.yaml",
        )
    folder = Path(connection.path)
    return folder if folder.is_absolute() else context.project.root / folder


def read_source(source: FileLocation | TableSource, context: ActivityContext, *, role: str) -> SourceFrame:
    """``source`` (at field ``("source",)``) as a DataFrame; nothing is read until the frame is used."""
    if isinstance(source, FileLocation):
        return _read_files(source, context, role=role)
    if source.table is not None:
        table = str(context.render(source.table, "source", "table"))
        # Read through a query, the same path `query:` sources take.
        frame = _sql_frame(context, f"SELECT * FROM {_quoted_table(table)}", "table")
        return SourceFrame(frame, {"type": "table", "table": table}, table)
    text = str(context.render(source.query, "source", "query"))
    return SourceFrame(_sql_frame(context, text, "query"), {"type": "query"}, "query")


def write_table(frame: Any, sink: TableSink, context: ActivityContext) -> dict[str, Any]:
    """Write ``frame`` to the sink's table; the session counts the rows written."""
    table = str(context.render(sink.table, "sink", "table"))
    frame.write.mode(sink.mode).saveAsTable(table)
    return {"type": "table", "table": table, "mode": sink.mode}


def write_files(frame: Any, sink: FileLocation, context: ActivityContext) -> dict[str, Any]:
    """Write ``frame`` as files of the sink's format below the connection's folder.

    A path ending in the format's suffix (`out/orders.parquet`) is one file, replaced by each write. Any other path
    is a folder, to which each write adds its files (`part-00000-<run>-<id>.parquet`): incremental copies add
    their new rows as new files.
    """
    root = local_folder(context, sink.connection, "sink", "connection", role="a copy sink")
    relative = relative_path(context, sink.path, "sink", "path")
    if _GLOB_CHARS & set(relative):
        raise context.field_error(f"a sink path cannot be a glob: {relative!r}", "sink", "path")
    target = root / relative
    suffix = FILE_SUFFIXES[sink.format][0]
    single = target.suffix.lower() in FILE_SUFFIXES[sink.format]
    folder = target.parent if single else target
    staging = folder / f".lockgate-staging-{uuid.uuid4().hex[:12]}"
    folder.mkdir(parents=True, exist_ok=True)
    try:
        parts = _write_staged(frame, staging / f"part-00000{suffix}", sink, context, single=single)
        written = _move_parts(parts, target, single=single, run_id=context.run_id, suffix=suffix)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = [path.relative_to(root).as_posix() for path in written]
    return {"type": "files", "connection": sink.connection, "path": relative, "format": sink.format, "files": files}


def json_value(value: Any) -> Any:
    """``value`` as JSON data: dates and times as ISO strings, decimals as numbers when exact, bytes as hex."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        as_float = float(value)
        return as_float if math.isfinite(as_float) and Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(item) for item in value]
    if hasattr(value, "asDict"):  # a nested Row (struct column)
        return json_value(value.asDict())
    return str(value)


def engine_failure(context: ActivityContext, exc: Exception, what: str, *field: str | int) -> LockgateError:
    """A lockgate error for a library failure while reading or writing: bad data is the user's to fix."""
    if isinstance(exc, LockgateError):
        return exc
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, OSError):
        return EngineError(f"{what} failed: {first}", hint="check the folder exists and is writable")
    return context.field_error(f"{what} failed: {first}", *field, hint="check the data and the options")


# -- reading ---------------------------------------------------------------------------------------------------


def _read_files(source: FileLocation, context: ActivityContext, *, role: str) -> SourceFrame:
    root = local_folder(context, source.connection, "source", "connection", role=role)
    relative = relative_path(context, source.path, "source", "path")
    if not root.is_dir():
        raise context.field_error(
            f"the folder of connection {source.connection!r} does not exist: {root}",
            "source",
            "connection",
            hint="create it, or fix the connection's `path` in lockgate.yaml",
        )
    paths = _matching_files(root, relative)
    if not paths:
        raise context.field_error(
            f"no files match {relative or '.'!r} in connection {source.connection!r} ({root})",
            "source",
            "path",
            hint="check the path; a folder reads every file in it, a glob such as `orders/*.csv` the files it matches",
        )
    options = {**_DEFAULT_OPTIONS.get(source.format, {}), **source.options}
    try:
        frame = context.session.spark.read.format(source.format).options(**options).load([str(p) for p in paths])
    except Exception as exc:
        raise engine_failure(context, exc, f"reading {source.format} files {relative!r}", "source") from exc
    description = {
        "type": "files",
        "connection": source.connection,
        "path": relative,
        "format": source.format,
        "files": len(paths),
    }
    return SourceFrame(frame, description, f"{source.connection}:{relative}")


def _matching_files(root: Path, relative: str) -> list[Path]:
    """Files a source path names: the file, a folder's visible files, or a glob's matches (``**`` recurses)."""
    full = root / relative
    if _GLOB_CHARS & set(relative):
        return sorted(Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
    if full.is_dir():
        # Like Spark: files whose names start with `_` or `.` (_SUCCESS, .crc, staging) are not data.
        return sorted(p for p in full.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
    return [full] if full.is_file() else []


def relative_path(context: ActivityContext, path: str, *field: str) -> str:
    """A rendered path below a connection's folder; absolute paths and `..` are refused."""
    text = str(context.render(path, *field)).strip()
    pure = PurePosixPath(text)
    if pure.is_absolute() or ".." in pure.parts:
        raise context.field_error(
            f"{text!r} must be a path below the connection's folder", *field, hint="drop the leading `/` and any `..`"
        )
    return "" if text in ("", ".") else pure.as_posix()


def _sql_frame(context: ActivityContext, text: str, field: str) -> Any:
    """The DataFrame of a Spark SQL query written in the source's ``field``; SQL errors point at the field."""
    file, line = _field_position(context, text, ("source", field))
    statements = split_statements(text, file=file, line=line)
    if len(statements) != 1 or statements[0].kind != StatementKind.QUERY:
        message = "must be one query (a SELECT), not a statement that changes tables"
        raise context.field_error(message, "source", field, hint="run changes in a `sql` activity before this one")
    frame = context.session.sql(text, file=file, line=line)
    if frame is None:
        raise context.field_error("the query returned no rows to read", "source", field)
    return frame


def _quoted_table(table: str) -> str:
    return ".".join("`" + part.strip().strip("`").replace("`", "``") + "`" for part in table.split("."))


def _field_position(context: ActivityContext, text: str, field: tuple[str, ...]) -> tuple[str, int]:
    """The pipeline file and the line a field's text starts on, so SQL errors point into it."""
    if context.document is None:
        return "<query>", 1
    path = (*context.path, *field)
    key, value = context.document.locate(path), context.document.locate_value(path)
    # A `query: |` block starts on the line after its key; an inline string on the key's own line.
    block = value.line == key.line and "\n" in text.strip()
    return context.document.file, (key.line or 1) + 1 if block else (value.line or 1)


# -- writing ---------------------------------------------------------------------------------------------------


def _write_staged(
    frame: Any, staged: Path, sink: FileLocation, context: ActivityContext, *, single: bool
) -> list[Path]:
    """Write ``frame`` at ``staged``; the data files written (DuckDB writes one file, Spark a folder of parts)."""
    if single and context.environment.engine != "duckdb":
        # Spark writes one part per partition; DuckDB always writes one file (and logs a warning on the hint).
        frame = frame.coalesce(1)
    options = {**_DEFAULT_OPTIONS.get(sink.format, {}), **sink.options}
    frame.write.mode("overwrite").format(sink.format).options(**options).save(str(staged))
    if staged.is_file():
        return [staged]
    if staged.is_dir():
        return sorted(p for p in staged.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
    return []


def _move_parts(parts: list[Path], target: Path, *, single: bool, run_id: str, suffix: str) -> list[Path]:
    if single:
        if len(parts) != 1:
            raise EngineError(
                f"the engine wrote {len(parts)} files where one was expected ({target.name})",
                hint="write to a folder instead: a sink path without a file suffix",
            )
        os.replace(parts[0], target)
        return [target]
    target.mkdir(parents=True, exist_ok=True)
    tag = f"{run_id}-{uuid.uuid4().hex[:8]}"
    moved = []
    for index, part in enumerate(parts):
        destination = target / f"part-{index:05d}-{tag}{suffix}"
        os.replace(part, destination)
        moved.append(destination)
    return moved
