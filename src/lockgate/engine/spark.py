"""The Spark engine: PySpark (`local[*]`, a standalone cluster, or Spark Connect) over the environment's lake.

Notebooks get real `pyspark` objects: the `spark` they see is the run's SparkSession with table access routed
through the lake (``spark_api``), and their DataFrames are PySpark's own. Lake tables are the same Delta tables
the embedded engine reads and writes: a read is a Parquet scan of the version's active files, a write is a Spark
job writing Parquet plus a Delta commit by lockgate (``spark_files``), so neither engine needs the other and no
Delta connector jar is needed. SQL is Spark SQL, run by Spark itself after lockgate has pointed its table names
at the lake (``spark_statements``).

Each activity's thread tags its Spark jobs, so a timeout or Ctrl-C cancels exactly that activity's jobs.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from lockgate.engine import delta, spark_files
from lockgate.engine.base import Engine, EngineSession, LakeTarget, QueryResult, TableMetrics
from lockgate.engine.output import format_rows
from lockgate.engine.spark_session import open_spark, release_spark
from lockgate.engine.sql import StatementKind, TableName, classify, split_statements
from lockgate.engine.table_name import TableResolver, unknown_table_error
from lockgate.errors import EngineError, LockgateError, SqlError, UserCodeError
from lockgate.model.project import SparkSettings

logger = logging.getLogger(__name__)

_VIEW_PREFIX = "__lockgate_"
_INTERNAL_VIEW = re.compile(r"`?__lockgate_(?:view_)?([a-z0-9_]+?)__([a-z0-9_]+?)(?:__v\d+)?`?(?=\W|$)")


class SparkEngine(Engine):
    name = "spark"

    def __init__(self, settings: SparkSettings | None = None):
        self.settings = settings or SparkSettings()

    def open_session(self, target: LakeTarget) -> SparkLakeSession:
        return SparkLakeSession(target, self.settings)


class SparkLakeSession(EngineSession):
    """One run's SparkSession whose table names are the environment's Delta tables."""

    def __init__(self, target: LakeTarget, settings: SparkSettings):
        from lockgate.engine.spark_api import LakeSpark, register_session
        from lockgate.engine.spark_statements import SparkStatementRunner

        self.target = target
        self.names = TableResolver(target)
        self.real, self.spark_target = open_spark(settings)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._snapshots: dict[tuple[str, str], delta.TableSnapshot] = {}
        """The table version each lake table reads as in this run, by (schema, table)."""
        self._tags: dict[int, str] = {}
        """Each activity thread's Spark job tag, by thread ident."""
        self._interrupted: set[int] = set()
        self._closed = False
        self.statements = SparkStatementRunner(self)
        self._spark = LakeSpark(self)
        self._unregister = register_session(self)

    @property
    def spark(self) -> Any:
        return self._spark

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._unregister()
        release_spark(self.real, self.spark_target)

    # -- reading tables ---------------------------------------------------------------------------------------

    def snapshot(self, table: TableName, *, version: int | None = None) -> delta.TableSnapshot:
        """The version of lake table ``table`` this run reads (the newest one it knows, or ``version``)."""
        assert table.schema is not None
        path = self.names.table_path(table.schema, table.name)
        if version is not None:
            return delta.open_snapshot(path, name=str(table), version=version)
        with self._lock:
            known = self._snapshots.get((table.schema, table.name))
        if known is not None:
            return known
        if not delta.is_delta_table(path):
            raise unknown_table_error(table, self.names)
        snapshot = delta.open_snapshot(path, name=str(table))
        with self._lock:
            self._snapshots[(table.schema, table.name)] = snapshot
        return snapshot

    def table_frame(self, name: str, *, version: int | None = None) -> Any:
        """`spark.table(name)`: a DataFrame of the lake table (or of a view of this run)."""
        parsed = self.names.parse(name)
        view = self.statements.session_view(parsed)
        if view is not None:
            return self.real.table(view)
        table = self.names.resolve(parsed)
        snapshot = self.snapshot(table, version=version)
        self.note_read(str(table), snapshot)
        return spark_files.read_snapshot(self.real, snapshot)

    def path_frame(self, path: str, *, version: int | None = None) -> Any:
        """`spark.read.format("delta").load(path)`; the read counts under ``path``."""
        resolved = self.names.resolve_file_path(path)
        snapshot = delta.open_snapshot(resolved, name=path, version=version)
        self.note_read(path, snapshot)
        return spark_files.read_snapshot(self.real, snapshot)

    def view_of(self, table: TableName, *, version: int | None = None) -> str:
        """The name of a temp view of ``table`` (at ``version``), for SQL text; made on first use."""
        assert table.schema is not None
        snapshot = self.snapshot(table, version=version)
        view = f"{_VIEW_PREFIX}{table.schema}__{table.name}__v{snapshot.version}"
        if not self.real.catalog.tableExists(view):
            spark_files.read_snapshot(self.real, snapshot).createOrReplaceTempView(view)
        self.note_read(str(table), snapshot)
        return view

    def is_temp_view(self, name: str) -> bool:
        """Whether a one-part name is a temp view of this run's Spark session (`df.createOrReplaceTempView`)."""
        return bool(self.real.catalog.tableExists(name))

    # -- writing tables ---------------------------------------------------------------------------------------

    def write_table(
        self,
        df: Any,
        table: TableName,
        *,
        mode: delta.WriteMode,
        partition_by: tuple[str, ...] = (),
        merge_schema: bool = False,
        operation: str | None = None,
    ) -> int:
        """Commit ``df``'s rows as a new version of lake table ``table``; returns the rows written."""
        assert table.schema is not None
        path = self.names.table_path(table.schema, table.name)
        snapshot, rows = self._write(
            df, path, name=str(table), mode=mode, partition_by=partition_by, merge=merge_schema, operation=operation
        )
        if snapshot is not None:
            with self._lock:
                self._snapshots[(table.schema, table.name)] = snapshot
            self.record_rows(str(table), rows)
        return rows

    def write_path(self, df: Any, path: str, *, mode: delta.WriteMode, partition_by: tuple[str, ...]) -> None:
        """`df.write.format("delta").save(path)`: a Delta table at a path of the project."""
        resolved = self.names.resolve_file_path(path)
        snapshot, rows = self._write(df, resolved, name=path, mode=mode, partition_by=partition_by)
        if snapshot is not None:
            self.record_rows(path, rows)

    def forget(self, table: TableName) -> None:
        """Forget the version this run knew of ``table`` (it was dropped or replaced outside a write)."""
        assert table.schema is not None
        with self._lock:
            self._snapshots.pop((table.schema, table.name), None)

    def _write(
        self,
        df: Any,
        path: Path,
        *,
        name: str,
        mode: delta.WriteMode,
        partition_by: tuple[str, ...],
        merge: bool = False,
        operation: str | None = None,
    ) -> tuple[delta.TableSnapshot | None, int]:
        from lockgate.engine.spark_api import raw_writer

        if not delta.should_write(path, name=name, mode=mode):
            return None, 0
        commit_mode: Literal["append", "overwrite"] = (
            "append" if mode == "append" and delta.is_delta_table(path) else "overwrite"
        )
        if commit_mode == "append":
            partition_by = delta.open_snapshot(path, name=name).partition_columns
        path.mkdir(parents=True, exist_ok=True)
        with self.spark_errors(f"writing table {name}"):
            files = spark_files.write_files(raw_writer(df), path, partition_by=partition_by)
        try:
            snapshot = delta.commit_files(
                path,
                files,
                schema_json=spark_files.delta_schema_json(df.schema),
                name=name,
                mode=commit_mode,
                partition_by=partition_by,
                merge_schema=merge,
                operation=operation,
            )
        except BaseException:
            spark_files.discard(path, files)
            raise
        return snapshot, sum(file.num_records for file in files)

    # -- SQL --------------------------------------------------------------------------------------------------

    def sql(self, text: Any, *, file: str = "<sql>", line: int = 1, column_offset: int = 0) -> Any:
        statements = split_statements(str(text), file=file, line=line, column_offset=column_offset)
        result = None
        for statement in statements:
            try:
                with self.spark_errors():
                    result = self.statements.run(statement)
            except LockgateError as exc:
                if exc.location is None:
                    exc.location = statement.location
                raise
        return result

    def query(self, text: str, *, dialect: str = "spark") -> QueryResult:
        if dialect != "spark":
            raise EngineError(
                f"the Spark engine runs Spark SQL, not {dialect}", hint="run the query with --engine duckdb"
            )
        statements = split_statements(text, file="<query>")
        if len(statements) != 1:
            raise SqlError(f"expected one query, got {len(statements)} statements", hint="run one SELECT at a time")
        if classify(statements[0].expression) != StatementKind.QUERY:
            raise SqlError("this statement would change tables; a query only reads", hint="run it in a notebook")
        with self._reads_not_counted(), self.spark_errors():
            frame = self.statements.run(statements[0])
            return QueryResult(tuple(frame.columns), [tuple(row) for row in frame.collect()])

    def fetch(self, df: Any, *, limit: int) -> QueryResult:
        with self.spark_errors():
            return QueryResult(tuple(df.columns), [tuple(row) for row in df.limit(limit).collect()])

    def render_dataframe(self, df: Any, *, limit: int = 20) -> str:
        result = self.fetch(df, limit=limit + 1)
        return format_rows(list(result.columns), result.rows, limit=limit)

    def resolve_file_path(self, path: str) -> Path:
        return self.names.resolve_file_path(path)

    @contextmanager
    def spark_errors(self, doing: str | None = None) -> Iterator[None]:
        """Turn PySpark's errors into lockgate's, naming lake tables as users wrote them."""
        try:
            yield
        except LockgateError:
            raise
        except Exception as exc:
            error = translate_spark_error(exc, doing)
            if error is None:
                raise
            if self._was_interrupted():
                raise KeyboardInterrupt from exc
            raise error from exc

    # -- activities -------------------------------------------------------------------------------------------

    @contextmanager
    def activity_scope(self, metrics: TableMetrics) -> Iterator[None]:
        previous = getattr(self._local, "metrics", None)
        self._local.metrics = metrics
        thread = threading.get_ident()
        tag = f"lockgate-{id(self):x}-{thread}"
        outer = thread in self._tags
        if not outer:
            self.real.addTag(tag)
            with self._lock:
                self._tags[thread] = tag
        try:
            yield
        finally:
            self._local.metrics = previous
            if not outer:
                with self._lock:
                    self._tags.pop(thread, None)
                    self._interrupted.discard(thread)
                self.real.removeTag(tag)

    def interrupt(self, thread: int | None = None) -> None:
        with self._lock:
            threads = list(self._tags) if thread is None else [thread]
            tags = [self._tags.get(t) for t in threads]
            self._interrupted.update(threads)
        for tag in tags:
            if tag is not None:
                try:
                    self.real.interruptTag(tag)
                except Exception:  # the job may have ended; nothing to cancel then
                    logger.debug("cancelling Spark jobs tagged %s failed", tag, exc_info=True)

    def _was_interrupted(self) -> bool:
        with self._lock:
            return threading.get_ident() in self._interrupted

    def record_rows(self, table: str, rows: int) -> None:
        metrics: TableMetrics | None = getattr(self._local, "metrics", None)
        if metrics is not None:
            metrics.add(table, rows)

    def note_read(self, table: str, snapshot: delta.TableSnapshot) -> None:
        """Count a read of a table version for this thread's activity (its rows, from the Delta log)."""
        metrics: TableMetrics | None = getattr(self._local, "metrics", None)
        if metrics is None or getattr(self._local, "not_counted", False):
            return
        rows = snapshot.num_rows
        if rows is None:
            rows = spark_files.read_snapshot(self.real, snapshot).count()
        metrics.add_table_read(table, rows)

    @contextmanager
    def _reads_not_counted(self) -> Iterator[None]:
        outer = getattr(self._local, "not_counted", False)
        self._local.not_counted = True
        try:
            yield
        finally:
            self._local.not_counted = outer

    @contextmanager
    def notebook_imports(self) -> Iterator[None]:
        from lockgate.engine.spark_api import builder_returns

        with builder_returns(self):
            yield


def readable_names(message: str) -> str:
    """A Spark message with lockgate's internal view names put back as the tables users wrote."""
    return _INTERNAL_VIEW.sub(lambda m: f"{m[1]}.{m[2]}", message)


def translate_spark_error(exc: Exception, doing: str | None = None) -> LockgateError | None:
    """A lockgate error for a PySpark error (None for other exceptions, which stay as they are)."""
    try:
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]
        from pyspark.errors import AnalysisException, PySparkException
    except ImportError:  # pragma: no cover - the engine cannot run without PySpark
        return None
    message = readable_names(str(exc).strip())
    first = message.splitlines()[0] if message else type(exc).__name__
    prefix = f"{doing}: " if doing else ""
    if isinstance(exc, AnalysisException):
        return SqlError(prefix + first, hint="check the table and column names against the tables' schemas")
    if isinstance(exc, PySparkException | Py4JError):
        return UserCodeError(prefix + first, detail=message)
    return None
