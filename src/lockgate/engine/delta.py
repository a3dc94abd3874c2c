"""Delta Lake tables through the `deltalake` package: the only module that imports it.

Every write commits a new table version; a write that fails or is interrupted commits nothing, so readers keep
seeing the previous version. Readers get a :class:`TableSnapshot` (version, active files, columns), which engines
turn into scans without depending on a Delta connector of their own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lockgate.errors import TableError

logger = logging.getLogger(__name__)

WriteMode = Literal["append", "overwrite", "error", "ignore"]
LOG_DIR = "_delta_log"
OPERATION_KEY = "lockgate.operation"
# Reader features whose data files cannot be read as plain Parquet; we refuse rather than return wrong rows.
_UNSUPPORTED_READER_FEATURES = {"deletionVectors", "columnMapping", "v2Checkpoint"}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    delta_type: str
    """Delta's type name: `string`, `long`, `date`, `decimal(10,2)`, `array<...>`..."""
    nullable: bool = True


@dataclass(frozen=True, slots=True)
class TableSnapshot:
    """One version of a Delta table, as a reader needs it."""

    path: Path
    version: int
    files: tuple[str, ...]
    columns: tuple[Column, ...]
    partition_columns: tuple[str, ...]
    num_rows: int | None = None
    """Rows in this version, summed from the Delta log's per-file stats; None when a file has no stats."""
    schema_json: str = ""
    """The table's schema as Delta stores it: Spark's StructType JSON."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    version: int
    timestamp_ms: int | None
    operation: str
    parameters: dict[str, Any]


def is_delta_table(path: Path) -> bool:
    return (path / LOG_DIR).is_dir()


def discover_tables(lake_root: Path) -> Iterator[tuple[str, str, Path]]:
    """``(schema, table, path)`` for every Delta table at ``<lake_root>/<schema>/<table>``."""
    if not lake_root.is_dir():
        return
    for schema_dir in sorted(lake_root.iterdir()):
        if not schema_dir.is_dir() or schema_dir.name.startswith((".", "_")):
            continue
        for table_dir in sorted(schema_dir.iterdir()):
            if is_delta_table(table_dir):
                yield schema_dir.name, table_dir.name, table_dir


def open_snapshot(path: Path, *, name: str, version: int | None = None) -> TableSnapshot:
    """The table's latest version (or ``version``) with its active data files.

    Raises:
        TableError: the table is missing, corrupt, or uses a feature we cannot read correctly.
    """
    return _snapshot_of(_open(path, name=name, version=version), path=path, name=name)


def _snapshot_of(table: Any, *, path: Path, name: str) -> TableSnapshot:
    _check_readable(table, name=name)
    metadata = table.metadata()
    return TableSnapshot(
        path=path,
        version=table.version(),
        files=tuple(table.file_uris()),
        columns=tuple(Column(f.name, _type_name(f.type), f.nullable) for f in table.schema().fields),
        partition_columns=tuple(metadata.partition_columns),
        num_rows=_row_count(table),
        schema_json=table.schema().to_json(),
    )


def _row_count(table: Any) -> int | None:
    """The version's rows by the log's file stats (`numRecords`): no data file is opened."""
    actions = table.get_add_actions(flatten=False)
    if "num_records" not in actions.column_names:
        return None
    counts = actions.column("num_records").to_pylist()
    return None if None in counts else sum(counts)


def write_table(
    path: Path,
    data: Any,
    *,
    name: str,
    mode: WriteMode,
    partition_by: tuple[str, ...] | None = None,
    merge_schema: bool = False,
    operation: str | None = None,
) -> TableSnapshot | None:
    """Commit ``data`` (an Arrow stream or table) as a new version of the table at ``path``.

    Returns that version, or None when ``ignore`` mode found the table already there.

    ``overwrite`` replaces rows and schema (as `CREATE OR REPLACE TABLE` does); ``append`` adds rows and, with
    ``merge_schema``, new columns. ``operation`` (``MERGE``, ``DELETE``...) is recorded in the commit, because
    delta-rs records every write as ``WRITE``; :func:`table_history` reports it.

    Raises:
        TableError: the table exists in ``error`` mode, or the write was refused (schema mismatch, I/O).
    """
    from deltalake import CommitProperties, write_deltalake
    from deltalake.exceptions import DeltaError

    if not should_write(path, name=name, mode=mode):
        return None
    exists = is_delta_table(path)
    schema_mode: Literal["overwrite", "merge"] | None = None
    if mode == "overwrite":
        schema_mode = "overwrite"
    elif merge_schema:
        schema_mode = "merge"
    path.mkdir(parents=True, exist_ok=True)
    # An open table is updated in place by the write, so its new snapshot costs no second log replay.
    table = _open(path, name=name, version=None) if exists else None
    try:
        write_deltalake(
            table if table is not None else str(path),
            data,
            mode="append" if mode == "append" else "overwrite",
            schema_mode=schema_mode,
            partition_by=list(partition_by) if partition_by and not (exists and mode == "append") else None,
            commit_properties=CommitProperties(custom_metadata={OPERATION_KEY: operation}) if operation else None,
        )
    except (DeltaError, OSError, ValueError) as exc:
        raise TableError(f"writing table {name} failed: {_first_line(exc)}", hint=_write_hint(str(exc), mode)) from exc
    if table is None:
        return open_snapshot(path, name=name)
    return _snapshot_of(table, path=path, name=name)


def should_write(path: Path, *, name: str, mode: WriteMode) -> bool:
    """Whether a write in ``mode`` goes ahead: False for ``ignore`` on an existing table.

    Raises:
        TableError: the table exists and ``mode`` is ``error``.
    """
    if not is_delta_table(path):
        return True
    if mode == "error":
        raise TableError(
            f"table {name} already exists", hint="use mode('overwrite') or mode('append'), or CREATE OR REPLACE TABLE"
        )
    return mode != "ignore"


@dataclass(frozen=True, slots=True)
class DataFile:
    """A Parquet file another engine wrote inside a table's folder, to be committed to the table's log."""

    path: str
    """Relative to the table's folder, with `/` separators."""
    size: int
    modification_time_ms: int
    num_records: int
    partition_values: dict[str, str | None] = field(default_factory=dict)


def commit_files(
    path: Path,
    files: list[DataFile],
    *,
    schema_json: str,
    name: str,
    mode: Literal["append", "overwrite"],
    partition_by: tuple[str, ...] = (),
    merge_schema: bool = False,
    operation: str | None = None,
) -> TableSnapshot:
    """Commit data files already written in the table's folder as one new version (the table is made if new).

    This is how a Spark without the Delta connector writes Delta tables: Spark writes Parquet in parallel, and
    the commit (a few JSON lines in the log) is made here. ``schema_json`` is the data's schema in Spark's JSON
    form, which is Delta's schema format. An ``append`` must match the table's columns, unless ``merge_schema``
    adds the new ones; an ``overwrite`` replaces rows and schema.

    Raises:
        TableError: the schema does not fit the table, or the commit was refused.
    """
    from deltalake import CommitProperties, Schema
    from deltalake.exceptions import DeltaError
    from deltalake.transaction import AddAction, create_table_with_add_actions

    actions = [
        AddAction(
            file.path,
            file.size,
            file.partition_values,
            file.modification_time_ms,
            True,
            json.dumps({"numRecords": file.num_records}),
        )
        for file in files
    ]
    properties = CommitProperties(custom_metadata={OPERATION_KEY: operation}) if operation else None
    try:
        if not is_delta_table(path):
            create_table_with_add_actions(
                str(path),
                Schema.from_json(schema_json),
                actions,
                mode="error",
                partition_by=list(partition_by) or None,
                commit_properties=properties,
            )
            return open_snapshot(path, name=name)
        table = _open(path, name=name, version=None)
        if mode == "append":
            schema_json = _appended_schema(table.schema().to_json(), schema_json, name=name, merge=merge_schema)
        table.create_write_transaction(
            actions,
            mode,
            Schema.from_json(schema_json),
            partition_by=list(table.metadata().partition_columns) if mode == "append" else list(partition_by) or None,
            commit_properties=properties,
        )
    except (DeltaError, OSError, ValueError) as exc:
        raise TableError(f"writing table {name} failed: {_first_line(exc)}", hint=_write_hint(str(exc), mode)) from exc
    return open_snapshot(path, name=name)


def _appended_schema(table_json: str, data_json: str, *, name: str, merge: bool) -> str:
    """The table's schema after appending data of ``data_json``'s schema (nullability aside, as Delta does)."""
    table_fields = json.loads(table_json)["fields"]
    data_fields = json.loads(data_json)["fields"]
    known = {field["name"].lower(): field for field in table_fields}
    mismatched = [
        f"{field['name']} ({field['type']}, table has {known[field['name'].lower()]['type']})"
        for field in data_fields
        if field["name"].lower() in known and field["type"] != known[field["name"].lower()]["type"]
    ]
    new = [field for field in data_fields if field["name"].lower() not in known]
    if mismatched:
        raise TableError(
            f"cannot append to table {name}: column types differ: {', '.join(mismatched)}",
            hint="cast the columns to the table's types, or overwrite the table",
        )
    if new and not merge:
        raise TableError(
            f"cannot append to table {name}: it has no column {', '.join(f['name'] for f in new)}",
            hint="use option('mergeSchema', 'true') to add the columns, or overwrite the table",
        )
    return json.dumps({"type": "struct", "fields": [*table_fields, *new]})


def table_history(path: Path, *, name: str) -> list[HistoryEntry]:
    """The table's commits, newest first."""
    table = _open(path, name=name, version=None)
    entries = []
    for item in table.history():
        entries.append(
            HistoryEntry(
                version=int(item.get("version", -1)),
                timestamp_ms=item.get("timestamp"),
                operation=str(item.get(OPERATION_KEY) or item.get("operation", "")),
                parameters=dict(item.get("operationParameters") or {}),
            )
        )
    return entries


def _open(path: Path, *, name: str, version: int | None) -> Any:
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    if not is_delta_table(path):
        raise TableError(
            f"table {name} does not exist (no Delta log at {path})",
            hint="run the pipeline or notebook that creates it first",
        )
    try:
        return DeltaTable(str(path), version=version)
    except TableNotFoundError as exc:
        raise TableError(
            f"table {name} at {path} has no readable versions: {_first_line(exc)}",
            hint="the Delta log is empty or truncated; restore it or remove the folder and rerun "
            "the pipeline that writes it",
        ) from exc
    except (DeltaError, OSError, ValueError) as exc:
        hint = (
            "restore the table's _delta_log from a backup, or remove the folder and rerun the pipeline that writes it"
        )
        if version is not None:
            hint = f"version {version} may not exist; see the table's history"
        raise TableError(f"table {name} at {path} is corrupt or unreadable: {_first_line(exc)}", hint=hint) from exc


def _check_readable(table: Any, *, name: str) -> None:
    features = set(table.protocol().reader_features or ())
    unsupported = sorted(features & _UNSUPPORTED_READER_FEATURES)
    if unsupported:
        raise TableError(
            f"table {name} uses Delta reader features lockgate cannot read yet: {', '.join(unsupported)}",
            hint="read it with the Spark engine, or rewrite it without these features",
        )


def _type_name(delta_type: Any) -> str:
    # Nested types carry a `type` string too ("array"), so test for them before taking it as a primitive's name.
    kind = type(delta_type).__name__
    if kind == "ArrayType":
        return f"array<{_type_name(delta_type.element_type)}>"
    if kind == "MapType":
        return f"map<{_type_name(delta_type.key_type)},{_type_name(delta_type.value_type)}>"
    if kind == "StructType":
        inner = ",".join(f"{f.name}:{_type_name(f.type)}" for f in delta_type.fields)
        return f"struct<{inner}>"
    primitive = getattr(delta_type, "type", None)
    return primitive if isinstance(primitive, str) else str(delta_type)


def _write_hint(message: str, mode: str) -> str:
    if "schema" in message.lower() and mode == "append":
        return "the data's columns differ from the table's; use option('mergeSchema', 'true') or overwrite"
    return "check the data's types and the lake folder's permissions; the table's earlier versions are intact"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
