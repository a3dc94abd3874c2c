"""Delta Lake tables through the `deltalake` package: the only module that imports it.

Every write commits a new table version; a write that fails or is interrupted commits nothing, so readers keep
seeing the previous version. Readers get a :class:`TableSnapshot` (version, active files, columns), which engines
turn into scans without depending on a Delta connector of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
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

    exists = is_delta_table(path)
    if exists and mode == "ignore":
        return None
    if exists and mode == "error":
        raise TableError(
            f"table {name} already exists", hint="use mode('overwrite') or mode('append'), or CREATE OR REPLACE TABLE"
        )
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
