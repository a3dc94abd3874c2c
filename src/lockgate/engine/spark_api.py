"""The `spark` notebooks see on the Spark engine: the run's real SparkSession, with table access routed through
the lake.

`spark.sql`, `spark.table`, `spark.read` and `spark.catalog` resolve `[catalog.]schema.table` names to the
environment's Delta tables and file paths (`dbfs:/...`, relative ones) to the project's; everything else is
PySpark's own. DataFrames stay PySpark's: while a lockgate session is open, `df.write` and `df.writeTo` of a
DataFrame of that session return writers whose table writes (`saveAsTable`, `insertInto`, `format("delta")
.save`) commit Delta versions through the lake, and whose file writes resolve paths like reads do. A DataFrame
of any other SparkSession in the process writes as PySpark does.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lockgate.engine.delta import WriteMode
from lockgate.errors import EngineError

if TYPE_CHECKING:
    from lockgate.engine.spark import SparkLakeSession

logger = logging.getLogger(__name__)

_MODES: dict[str, WriteMode] = {
    "overwrite": "overwrite",
    "append": "append",
    "ignore": "ignore",
    "error": "error",
    "errorifexists": "error",
    "default": "error",
}
_FILE_FORMATS = ("parquet", "csv", "json", "orc", "text", "avro", "xml")


class LakeSpark:
    """The run's SparkSession as notebooks see it (see the module's description)."""

    def __init__(self, lake: SparkLakeSession):
        self._lake = lake
        self._real = lake.real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    def __repr__(self) -> str:
        return (
            f"<lockgate SparkSession on {self._lake.spark_target.master}, environment {self._lake.target.environment}>"
        )

    def sql(self, sqlQuery: str, args: Any = None, **kwargs: Any) -> Any:
        if args is not None or kwargs:
            raise EngineError(
                "spark.sql() with parameters is not supported by lockgate yet",
                hint="format the values into the SQL text, or read them from widgets",
            )
        return self._lake.sql(sqlQuery)

    def table(self, tableName: str) -> Any:
        return self._lake.table_frame(tableName)

    @property
    def read(self) -> LakeReader:
        return LakeReader(self._lake, self._real.read)

    @property
    def catalog(self) -> LakeCatalog:
        return LakeCatalog(self._lake)

    def newSession(self) -> LakeSpark:
        return self

    def stop(self) -> None:
        """Notebooks written for a cluster sometimes stop Spark at the end; the run owns the session."""
        logger.info("spark.stop() ignored: lockgate stops Spark when the run ends")


class LakeCatalog:
    """`spark.catalog`: lake tables by name; the rest is Spark's catalog (temp views, functions)."""

    def __init__(self, lake: SparkLakeSession):
        self._lake = lake

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lake.real.catalog, name)

    def tableExists(self, tableName: str, dbName: str | None = None) -> bool:
        name = self._lake.names.parse(f"{dbName}.{tableName}" if dbName else tableName)
        if self._lake.statements.session_view(name) is not None:
            return True
        table = self._lake.names.resolve(name)
        assert table.schema is not None
        return (self._lake.names.table_path(table.schema, table.name) / "_delta_log").is_dir()

    def currentDatabase(self) -> str:
        return self._lake.names.current_schema

    def setCurrentDatabase(self, dbName: str) -> None:
        self._lake.names.current_schema = dbName.lower()


class LakeReader:
    """`spark.read`: Delta tables through the lake, files at the project's paths; otherwise PySpark's reader."""

    def __init__(self, lake: SparkLakeSession, reader: Any):
        self._lake = lake
        self._reader = reader
        self._format: str | None = None
        self._options: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def format(self, source: str) -> LakeReader:
        self._format = source.lower()
        self._reader = self._reader.format(source)
        return self

    def option(self, key: str, value: Any) -> LakeReader:
        self._options[key] = value
        self._reader = self._reader.option(key, value)
        return self

    def options(self, **options: Any) -> LakeReader:
        self._options.update(options)
        self._reader = self._reader.options(**options)
        return self

    def schema(self, schema: Any) -> LakeReader:
        self._reader = self._reader.schema(schema)
        return self

    def table(self, tableName: str) -> Any:
        return self._lake.table_frame(tableName, version=_version(self._options))

    def load(self, path: Any = None, format: str | None = None, schema: Any = None, **options: Any) -> Any:
        if (format or self._format or "").lower() == "delta":
            if path is None:
                raise EngineError("spark.read.format('delta').load() needs a path", hint="or use spark.table(name)")
            return self._lake.path_frame(str(path), version=_version(self._options | options))
        return self._reader.load(self._paths(path), format=format, schema=schema, **options)

    def _paths(self, paths: Any) -> Any:
        if paths is None:
            return None
        if isinstance(paths, str):
            return str(self._lake.resolve_file_path(paths))
        return [str(self._lake.resolve_file_path(p)) for p in paths]

    def _file_reader(self, fmt: str) -> Callable[..., Any]:
        def read(path: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(path, str) and args and all(isinstance(a, str) for a in args):
                return getattr(self._reader, fmt)(*self._paths([path, *args]), **kwargs)  # parquet(p1, p2)
            return getattr(self._reader, fmt)(self._paths(path), *args, **kwargs)

        return read

    def __getattribute__(self, name: str) -> Any:
        if name in _FILE_FORMATS:
            return object.__getattribute__(self, "_file_reader")(name)
        return object.__getattribute__(self, name)


class LakeWriter:
    """`df.write` of a DataFrame of a lockgate session (see the module's description)."""

    def __init__(self, lake: SparkLakeSession, df: Any, writer: Any):
        self._lake = lake
        self._df = df
        self._writer = writer
        self._format: str | None = None
        self._mode: str | None = None
        self._options: dict[str, Any] = {}
        self._partition_by: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)

    def format(self, source: str) -> LakeWriter:
        self._format = source.lower()
        self._writer = self._writer.format(source)
        return self

    def mode(self, saveMode: str | None) -> LakeWriter:
        self._mode = saveMode
        self._writer = self._writer.mode(saveMode)
        return self

    def option(self, key: str, value: Any) -> LakeWriter:
        self._options[key] = value
        self._writer = self._writer.option(key, value)
        return self

    def options(self, **options: Any) -> LakeWriter:
        self._options.update(options)
        self._writer = self._writer.options(**options)
        return self

    def partitionBy(self, *cols: str | list[str]) -> LakeWriter:
        self._partition_by = _names(cols)
        self._writer = self._writer.partitionBy(*self._partition_by)
        return self

    def saveAsTable(
        self, name: str, format: str | None = None, mode: str | None = None, partitionBy: Any = None, **options: Any
    ) -> None:
        fmt = (format or self._format or "delta").lower()
        if fmt != "delta":
            raise EngineError(
                f"saveAsTable with format {fmt!r} is not supported: lake tables are Delta tables",
                hint="drop .format(...), or write files with df.write.parquet(path)",
            )
        self._lake.write_table(
            self._df,
            self._lake.names.resolve(self._lake.names.parse(name)),
            mode=_mode(mode or self._mode or "errorifexists"),
            partition_by=_names(partitionBy) or self._partition_by,
            merge_schema=_truthy((self._options | options).get("mergeSchema")),
        )

    def insertInto(self, tableName: str, overwrite: bool | None = None) -> None:
        table = self._lake.names.resolve(self._lake.names.parse(tableName))
        self._lake.statements.insert_frame(self._df, table, columns=None, overwrite=bool(overwrite))

    def save(
        self,
        path: str | None = None,
        format: str | None = None,
        mode: str | None = None,
        partitionBy: Any = None,
        **options: Any,
    ) -> None:
        fmt = (format or self._format or "delta").lower()
        if fmt != "delta":
            resolved = None if path is None else str(self._lake.resolve_file_path(path))
            self._writer.save(resolved, format=fmt, mode=mode, partitionBy=partitionBy, **options)
            return
        if path is None:
            raise EngineError("df.write.save() needs a path", hint="or use saveAsTable('schema.table')")
        self._lake.write_path(
            self._df,
            path,
            mode=_mode(mode or self._mode or "errorifexists"),
            partition_by=_names(partitionBy) or self._partition_by,
        )

    def _file_writer(self, fmt: str) -> Callable[..., Any]:
        def write(path: str, *args: Any, **kwargs: Any) -> Any:
            return getattr(self._writer, fmt)(str(self._lake.resolve_file_path(path)), *args, **kwargs)

        return write

    def __getattribute__(self, name: str) -> Any:
        if name in _FILE_FORMATS:
            return object.__getattribute__(self, "_file_writer")(name)
        return object.__getattribute__(self, name)


class LakeWriterV2:
    """`df.writeTo(name)` of a DataFrame of a lockgate session: Delta tables in the lake."""

    def __init__(self, lake: SparkLakeSession, df: Any, name: str):
        self._lake = lake
        self._df = df
        self._table = lake.names.resolve(lake.names.parse(name))
        self._partition_by: tuple[str, ...] = ()
        self._options: dict[str, Any] = {}

    def using(self, provider: str) -> LakeWriterV2:
        if provider.lower() != "delta":
            raise EngineError(f"writeTo(...).using({provider!r}): lake tables are Delta tables", hint="drop .using()")
        return self

    def option(self, key: str, value: Any) -> LakeWriterV2:
        self._options[key] = value
        return self

    def options(self, **options: Any) -> LakeWriterV2:
        self._options.update(options)
        return self

    def tableProperty(self, _property: str, _value: str) -> LakeWriterV2:
        return self

    def partitionedBy(self, col: Any, *cols: Any) -> LakeWriterV2:
        self._partition_by = tuple(str(getattr(c, "_name", c)) for c in (col, *cols))
        return self

    def create(self) -> None:
        self._write("error")

    def createOrReplace(self) -> None:
        self._write("overwrite")

    def replace(self) -> None:
        self._lake.snapshot(self._table)  # replace needs the table to exist, as in Spark
        self._write("overwrite")

    def append(self) -> None:
        self._lake.snapshot(self._table)
        self._write("append", merge_schema=_truthy(self._options.get("mergeSchema")))

    def _write(self, mode: WriteMode, *, merge_schema: bool = False) -> None:
        self._lake.write_table(
            self._df, self._table, mode=mode, partition_by=self._partition_by, merge_schema=merge_schema
        )


# -- routing DataFrame writes -----------------------------------------------------------------------------------

_registry_lock = threading.Lock()
_sessions: dict[int, SparkLakeSession] = {}
"""Open lockgate sessions, by the id of their PySpark session."""
_patched: dict[type, tuple[Any, Any]] = {}
"""DataFrame classes whose `write`/`writeTo` are routed, with the originals."""


def register_session(lake: SparkLakeSession) -> Callable[[], None]:
    """Route writes of ``lake``'s DataFrames through it until the returned function is called."""
    frame_class = type(lake.real.range(0))
    with _registry_lock:
        _sessions[id(lake.real)] = lake
        if frame_class not in _patched:
            _patched[frame_class] = (frame_class.write, frame_class.writeTo)
            frame_class.write = property(_routed_write)
            frame_class.writeTo = _routed_write_to

    def unregister() -> None:
        with _registry_lock:
            _sessions.pop(id(lake.real), None)
            if not _sessions:
                for cls, (write, write_to) in _patched.items():
                    cls.write, cls.writeTo = write, write_to  # type: ignore[attr-defined]
                _patched.clear()

    return unregister


def raw_writer(df: Any) -> Any:
    """PySpark's own DataFrameWriter of ``df``."""
    for cls in type(df).__mro__:
        if cls in _patched:
            return _patched[cls][0].fget(df)
    return df.write


def _lake_of(df: Any) -> SparkLakeSession | None:
    return _sessions.get(id(df.sparkSession))


def _routed_write(df: Any) -> Any:
    lake = _lake_of(df)
    writer = raw_writer(df)
    return writer if lake is None else LakeWriter(lake, df, writer)


def _routed_write_to(df: Any, table: str) -> Any:
    lake = _lake_of(df)
    if lake is not None:
        return LakeWriterV2(lake, df, table)
    for cls in type(df).__mro__:
        if cls in _patched:
            return _patched[cls][1](df, table)
    raise AttributeError("writeTo")


@contextmanager
def builder_returns(lake: SparkLakeSession) -> Iterator[None]:
    """While a run's notebooks execute, `SparkSession.builder.getOrCreate()` and `SparkSession.active()` in them
    give the run's `spark`, as they give the cluster's session on Databricks."""
    from pyspark.sql import SparkSession

    originals = {
        "getActiveSession": SparkSession.__dict__["getActiveSession"],
        "active": SparkSession.__dict__["active"],
    }
    get_or_create = SparkSession.Builder.getOrCreate
    proxy = lake.spark
    SparkSession.getActiveSession = classmethod(lambda cls: proxy)  # type: ignore[method-assign,assignment]
    SparkSession.active = classmethod(lambda cls: proxy)  # type: ignore[method-assign,assignment]
    SparkSession.Builder.getOrCreate = lambda self: proxy  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(SparkSession, name, original)
        SparkSession.Builder.getOrCreate = get_or_create  # type: ignore[method-assign]


def _version(options: dict[str, Any]) -> int | None:
    value = options.get("versionAsOf")
    return None if value is None else int(value)


def _mode(mode: str) -> WriteMode:
    try:
        return _MODES[mode.lower()]
    except KeyError:
        raise EngineError(f"unknown save mode {mode!r}", hint="use one of: overwrite, append, ignore, error") from None


def _names(value: str | Sequence[Any] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    names: list[str] = []
    for item in value:
        names.extend(_names(item))
    return tuple(names)


def _truthy(value: Any) -> bool:
    return str(value).lower() in {"true", "1", "yes"}
