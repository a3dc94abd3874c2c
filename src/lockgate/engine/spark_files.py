"""Delta tables on a Spark without the Delta connector: Spark moves the data, lockgate keeps the log.

Reading a table version is a Parquet read of exactly its active files (from the Delta log), typed by the table's
schema; partition columns come back from the `key=value` folders. Writing runs the DataFrame's job on Spark,
which writes Parquet files (in parallel, on the executors) that lockgate places in the table's folder and commits
as one new version with :func:`lockgate.engine.delta.commit_files`. If the job or the commit fails, the files are
removed and the table keeps its previous version. The lake folder must be the same path for the
Spark driver, its executors and lockgate (one machine, or a shared mount).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from lockgate.engine import delta

_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"


def read_snapshot(spark: Any, snapshot: delta.TableSnapshot) -> Any:
    """A DataFrame of one table version, with the table's columns in the table's order."""
    from pyspark.sql.types import StructType

    schema = StructType.fromJson(json.loads(snapshot.schema_json))
    if not snapshot.files:
        return spark.createDataFrame([], schema)
    frame = spark.read.schema(schema).option("basePath", str(snapshot.path)).parquet(*snapshot.files)
    return frame.select(*[f"`{column.name}`" for column in snapshot.columns])


def write_files(writer: Any, table_path: Path, *, partition_by: tuple[str, ...]) -> list[delta.DataFile]:
    """Run ``writer`` (a DataFrameWriter, unconfigured) and place its files in the table's folder.

    Spark writes into a staging folder of the table (hidden from readers by its `_` prefix); the files then move
    to where Delta keeps them: the table's folder, or its `key=value` partition folders. Spark names every file
    of a job with the job's UUID, so they never replace another version's files.

    Returns:
        The files, ready for :func:`delta.commit_files`; :func:`discard` them if the commit fails.
    """
    staging = table_path / f"_lockgate_staging_{uuid.uuid4().hex[:16]}"
    placed: list[delta.DataFile] = []
    try:
        writer = writer.mode("error")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        writer.parquet(str(staging))
        for file in sorted(staging.rglob("*.parquet")):
            relative = file.relative_to(staging)
            if any(part.startswith((".", "_")) for part in relative.parts):
                continue
            target = table_path / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            file.rename(target)
            placed.append(_data_file(table_path, target, relative))
        return placed
    except BaseException:
        discard(table_path, placed)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def delta_schema_json(schema: Any) -> str:
    """A Spark schema as the Delta log stores it: every column nullable (as Delta's Spark writer makes them)
    and without Spark's column metadata (char/varchar lengths become plain strings)."""
    return json.dumps(_nullable(json.loads(schema.json())))


def discard(table_path: Path, files: list[delta.DataFile]) -> None:
    """Remove files a failed write placed in the table's folder (they are in no table version)."""
    for file in files:
        (table_path / file.path).unlink(missing_ok=True)


def _nullable(node: Any) -> Any:
    if isinstance(node, dict):
        cleaned = {key: _nullable(value) for key, value in node.items() if key != "metadata"}
        if "name" in node and "nullable" in node:  # a struct field: Delta requires its metadata key
            cleaned["metadata"] = {}
        for key in ("nullable", "containsNull", "valueContainsNull"):
            if key in cleaned:
                cleaned[key] = True
        return cleaned
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    return node


def _data_file(table_path: Path, file: Path, relative: Path) -> delta.DataFile:
    import pyarrow.parquet as pq

    stat = file.stat()
    return delta.DataFile(
        path=file.relative_to(table_path).as_posix(),
        size=stat.st_size,
        modification_time_ms=int(stat.st_mtime * 1000),
        num_records=pq.read_metadata(file).num_rows,
        partition_values=_partition_values(relative),
    )


def _partition_values(relative: Path) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for part in relative.parts[:-1]:
        key, _, value = part.partition("=")
        text = unquote(value)
        values[unquote(key)] = None if text == _NULL_PARTITION else text
    return values
