"""The embedded engine: DuckDB in memory, over the environment's Delta tables.

Each Delta table ``<lake>/<schema>/<table>`` is a DuckDB view ``schema.table`` over the Parquet files of its
current snapshot; writes go through ``engine.delta`` and then repoint the view. Activities run in parallel
threads, each on its own cursor of one in-memory database, so they share views but not transactions.
Within an activity, rows written and lake tables read are counted per table (``TableMetrics``): a read counts the
rows of the table version a statement or `spark.table` resolves to, once per statement, from the Delta log.
This module is the only one that imports ``duckdb``; it translates ``duckdb.Error`` into lockgate errors.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from lockgate.engine import delta
from lockgate.engine.base import (
    Engine,
    EngineSession,
    LakeTarget,
    LazyDataFrame,
    QueryResult,
    TableMetrics,
)
from lockgate.engine.duckdb_functions import SPARK_FUNCTION_MACROS
from lockgate.engine.duckdb_statements import StatementRunner
from lockgate.engine.duckdb_views import delta_typed_projection, quote, snapshot_select
from lockgate.engine.output import format_rows
from lockgate.engine.pyspark_imports import pyspark_aliases
from lockgate.engine.sql import StatementKind, TableName, classify, rewrite_tables, split_statements
from lockgate.engine.sql_translate import to_duckdb
from lockgate.engine.table_name import TableResolver, unknown_table_error
from lockgate.errors import EngineError, LockgateError, SqlError, TableError, UserCodeError

if TYPE_CHECKING:
    from lockgate.engine.duckdb_spark import LakeSparkSession

logger = logging.getLogger(__name__)

_READ_ONLY_KINDS = frozenset({StatementKind.QUERY})
_SPARK_MODES = {
    "overwrite": "overwrite",
    "append": "append",
    "ignore": "ignore",
    "error": "error",
    "errorifexists": "error",
    "default": "error",
}


class DuckDBEngine(Engine):
    name = "duckdb"

    def open_session(self, target: LakeTarget) -> DuckDBSession:
        return DuckDBSession(target)


class DuckDBSession(EngineSession):
    """One in-memory DuckDB database whose views are the environment's Delta tables."""

    def __init__(self, target: LakeTarget):

        self.target = target
        self.names = TableResolver(target)
        self._connection = _connect(target.project_root)
        self._local = threading.local()
        self._cursors: dict[int, Any] = {}
        """Each thread's cursor, by thread ident (activities run in threads of their own)."""
        self._lock = threading.RLock()
        self._registered: dict[tuple[str, str], delta.TableSnapshot] = {}
        """The table version each lake table's view reads, by (schema, table)."""
        self._closed = False
        self._spark: LakeSparkSession | None = None
        self.statements = StatementRunner(self)

    # -- connection -------------------------------------------------------------------------------------------

    @property
    def spark(self) -> LakeSparkSession:
        """The PySpark API (sqlframe), loaded on first use: SQL-only work never needs it."""
        with self._lock:
            if self._spark is None:
                from lockgate.engine.duckdb_spark import LakeSparkSession

                self._spark = LakeSparkSession(conn=self._connection, lake=self)
            return self._spark

    def temp_view_names(self) -> set[str]:
        """Temporary views made with `df.createOrReplaceTempView` (kept by the PySpark API, not DuckDB)."""
        return set(self._spark.temp_views) if self._spark is not None else set()

    def publish_temp_view(self, name: str) -> None:
        """Mirror a DataFrame temp view (`df.createOrReplaceTempView`) as a DuckDB view in `main`."""
        assert self._spark is not None
        self.execute_ddl(f"CREATE OR REPLACE VIEW main.{quote(name)} AS {dataframe_sql(self._spark.temp_views[name])}")

    def drop_temp_view(self, name: str) -> None:
        if self._spark is not None:
            self._spark.temp_views.pop(name, None)

    def _forget_cached_schemas(self) -> None:
        if self._spark is not None:
            self._spark.forget_cached_schemas()

    def cursor(self) -> Any:
        """This thread's cursor on the shared in-memory database."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            if self._closed:
                raise EngineError("the DuckDB session is closed")
            cursor = self._connection.cursor()
            self._local.cursor = cursor
            with self._lock:
                self._cursors[threading.get_ident()] = cursor
        return cursor

    def _release_cursor(self) -> None:
        """Close this thread's cursor (an activity's thread is done with it)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            return
        self._local.cursor = None
        with self._lock:
            self._cursors.pop(threading.get_ident(), None)
            if not self._closed:
                cursor.close()

    def execute(self, sql: str, parameters: list[Any] | None = None) -> Any:
        """Run DuckDB SQL on this thread's cursor, translating DuckDB's errors."""
        try:
            return self.cursor().execute(sql, parameters) if parameters else self.cursor().execute(sql)
        except duckdb.InterruptException as exc:
            raise KeyboardInterrupt from exc
        except duckdb.Error as exc:
            raise self._translate(exc, sql) from exc

    def _translate(self, exc: Exception, sql: str) -> LockgateError:
        """`map_duckdb_error`, naming the lake table when the failing file belongs to one."""
        error = map_duckdb_error(exc, sql)
        if isinstance(error, TableError):
            match = re.search(re.escape(str(self.target.lake_root)) + r"/([^/]+)/([^/]+)/", str(exc))
            if match:
                error.message = f"table {match[1]}.{match[2]}: {error.message}"
        return error

    def execute_ddl(self, sql: str) -> None:
        """Change the shared catalog (schemas, views). Serialized: DuckDB refuses concurrent catalog writes."""
        with self._lock:
            self.execute(sql)

    def relation(self, sql: str) -> Any:
        """A lazy DuckDB relation for a SELECT, on this thread's cursor (streams without an extra copy)."""
        try:
            return self.cursor().sql(sql)
        except duckdb.InterruptException as exc:
            raise KeyboardInterrupt from exc
        except duckdb.Error as exc:
            raise self._translate(exc, sql) from exc

    def interrupt(self, thread: int | None = None) -> None:
        with self._lock:
            cursors = list(self._cursors.values()) if thread is None else [self._cursors.get(thread)]
            for cursor in cursors:
                if cursor is None:
                    continue
                try:
                    cursor.interrupt()
                except duckdb.Error:
                    logger.debug("interrupting a cursor failed", exc_info=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._spark is not None:
            self._spark.stop()
        with self._lock:
            for cursor in self._cursors.values():
                cursor.close()
            self._cursors.clear()
        self._connection.close()

    # -- tables as views --------------------------------------------------------------------------------------

    def register_all_tables(self) -> None:
        """Make every table of the lake a view now (for catalog queries); otherwise views appear on first use."""
        for schema, name, path in delta.discover_tables(self.target.lake_root):
            try:
                self.refresh_view(schema, name, path=path)
            except TableError as exc:
                # A broken table must not stop work on the others; reading it raises the error again.
                logger.debug("%s", exc)

    def refresh_view(
        self, schema: str, name: str, *, path: Path | None = None, snapshot: delta.TableSnapshot | None = None
    ) -> delta.TableSnapshot:
        """Point view ``schema.name`` at ``snapshot``, or at the table's latest version."""
        if snapshot is None:
            snapshot = delta.open_snapshot(path or self.names.table_path(schema, name), name=f"{schema}.{name}")
        with self._lock:
            self.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
            self.execute(f"CREATE OR REPLACE VIEW {quote(schema)}.{quote(name)} AS {snapshot_select(snapshot)}")
            self._registered[(schema, name)] = snapshot
        return snapshot

    def drop_view(self, schema: str, name: str) -> None:
        with self._lock:
            self.execute(f"DROP VIEW IF EXISTS {quote(schema)}.{quote(name)}")
            self._registered.pop((schema, name), None)
        self._forget_cached_schemas()

    def is_registered(self, schema: str, name: str) -> bool:
        with self._lock:
            return (schema, name) in self._registered

    def ensure_readable(self, table: TableName) -> delta.TableSnapshot | None:
        """Register a table written since the session started, or raise a clear error for a missing one.

        Returns:
            The table version its view reads; None for a view made in this session (no lake table).
        """
        assert table.schema is not None
        with self._lock:
            snapshot = self._registered.get((table.schema, table.name))
        if snapshot is not None:
            return snapshot
        if self.statements.is_session_view(table):
            return None
        path = self.names.table_path(table.schema, table.name)
        if not delta.is_delta_table(path):
            raise unknown_table_error(table, self.names)
        return self.refresh_view(table.schema, table.name, path=path)

    # -- reads from the DataFrame API -------------------------------------------------------------------------

    def prepare_table_read(self, name: str) -> TableRead:
        """``spark.table(name)``: the view to read, in place; a lake table's read counts for the activity."""
        if name in self.temp_view_names():
            return TableRead(name, None)
        parsed = self.names.parse(name)
        if parsed.schema is None and self.statements.is_session_view(TableName(None, "main", parsed.name.lower())):
            return TableRead(f"main.{parsed.name.lower()}", None)  # a view made by SQL (CREATE TEMP VIEW)
        table = self.names.resolve(parsed)
        snapshot = self.ensure_readable(table)
        if snapshot is not None:
            self.note_read(str(table), snapshot)
        return TableRead(f"{table.schema}.{table.name}", snapshot)

    def register_path_view(self, path: str, *, options: dict[str, Any]) -> TableRead:
        """A view over a Delta table given by path (`spark.read.format("delta").load(path)`); the read counts
        for the activity under ``path``, as a write to a path does."""
        version = options.get("versionAsOf")
        resolved = self.names.resolve_file_path(path)
        snapshot = delta.open_snapshot(resolved, name=path, version=int(version) if version is not None else None)
        view = f"__lockgate_path_{abs(hash((str(resolved), snapshot.version)))}"
        self.execute_ddl(f"CREATE OR REPLACE VIEW main.{quote(view)} AS {snapshot_select(snapshot)}")
        self.note_read(path, snapshot)
        return TableRead(f"main.{view}", snapshot)

    def resolve_paths(self, paths: Any) -> Any:
        if paths is None:
            return None
        if isinstance(paths, str):
            return self.resolve_path(paths)
        return [self.resolve_path(p) for p in paths]

    def resolve_path(self, path: str | None) -> str | None:
        return None if path is None else str(self.resolve_file_path(path))

    def resolve_file_path(self, path: str) -> Path:
        return self.names.resolve_file_path(path)

    # -- writes from the DataFrame API ------------------------------------------------------------------------

    def write_dataframe(
        self, df: Any, name: str, *, mode: str, partition_by: tuple[str, ...], merge_schema: bool
    ) -> None:
        table = self.names.resolve(self.names.parse(name))
        self.write_select(
            table,
            dataframe_sql(df),
            mode=_spark_mode(mode),
            partition_by=partition_by,
            merge_schema=merge_schema,
        )

    def insert_dataframe(self, df: Any, name: str, *, overwrite: bool) -> None:
        table = self.names.resolve(self.names.parse(name))
        self.ensure_readable(table)
        select = self.statements.positional_select(table, dataframe_sql(df))
        self.write_select(table, select, mode="overwrite" if overwrite else "append")

    def write_dataframe_to_path(self, df: Any, path: str, *, mode: str, partition_by: tuple[str, ...]) -> None:
        resolved = self.names.resolve_file_path(path)
        reader, counter = self.stream(dataframe_sql(df))
        delta.write_table(resolved, reader, name=path, mode=_spark_mode(mode), partition_by=partition_by)
        self.record_rows(path, counter.rows)

    def write_select(
        self,
        table: TableName,
        select_sql: str,
        *,
        mode: delta.WriteMode,
        partition_by: tuple[str, ...] = (),
        merge_schema: bool = False,
        operation: str | None = None,
    ) -> int:
        """Commit the rows of a DuckDB query as a new version of ``table``; returns the rows written."""
        assert table.schema is not None
        path = self.names.table_path(table.schema, table.name)
        reader, counter = self.stream(select_sql)
        snapshot = delta.write_table(
            path,
            reader,
            name=str(table),
            mode=mode,
            partition_by=partition_by or None,
            merge_schema=merge_schema,
            operation=operation,
        )
        if snapshot is not None:
            self.refresh_view(table.schema, table.name, snapshot=snapshot)
            self._forget_cached_schemas()
            self.record_rows(str(table), counter.rows)
        return counter.rows

    def stream(self, select_sql: str) -> tuple[Any, _RowCounter]:
        """The rows of a query as an Arrow stream for a Delta write, typed for Delta, counted as they pass.

        The stream goes DuckDB -> Arrow C stream -> arro3 -> delta-rs, so no pyarrow is loaded for a write.
        """
        from arro3.core import RecordBatchReader

        relation = self.relation(select_sql)
        projection = delta_typed_projection(list(relation.columns), [str(t) for t in relation.types])
        if projection is not None:
            relation = self.relation(f"SELECT {projection} FROM ({select_sql})")
        reader = RecordBatchReader.from_stream(relation)
        counter = _RowCounter()
        return RecordBatchReader.from_batches(reader.schema, counter.count(reader)), counter

    # -- SQL --------------------------------------------------------------------------------------------------

    def sql(self, text: Any, *, file: str = "<sql>", line: int = 1, column_offset: int = 0) -> Any:
        statements = split_statements(
            text if isinstance(text, str) else text.sql(dialect="spark"),
            file=file,
            line=line,
            column_offset=column_offset,
        )
        result = None
        for statement in statements:
            try:
                result = self.statements.run(statement)
            except LockgateError as exc:
                if exc.location is None:  # a run-time failure: point at the statement that failed
                    exc.location = statement.location
                raise
        return result

    def query(self, text: str, *, dialect: str = "spark") -> QueryResult:
        # lockgate's own reads (`lockgate query`, data-quality checks) are not the running activity's.
        with self._reads_not_counted():
            return self._query(text, dialect=dialect)

    def _query(self, text: str, *, dialect: str) -> QueryResult:
        self.register_all_tables()  # a query may read the catalog (information_schema) as well as tables
        if dialect == "duckdb":
            cursor = self.execute(text)
        else:
            statements = split_statements(text, file="<query>")
            if len(statements) != 1:
                raise SqlError(f"expected one query, got {len(statements)} statements", hint="run one SELECT at a time")
            if classify(statements[0].expression) not in _READ_ONLY_KINDS:
                raise SqlError(
                    "lockgate query only reads: this statement would change tables",
                    hint="put changes in a notebook or a sql activity and run it with `lockgate run`",
                )
            expression = rewrite_tables(statements[0].expression, self.statements.resolve_for_read)
            cursor = self.execute(to_duckdb(expression, location=statements[0].location))
        columns = tuple(column[0] for column in cursor.description or ())
        return QueryResult(columns=columns, rows=cursor.fetchall() if columns else [])

    def fetch(self, df: Any, *, limit: int) -> QueryResult:
        sql = df.duckdb_sql if isinstance(df, LazyDataFrame) and df.duckdb_sql else dataframe_sql(df)
        cursor = self.execute(f"SELECT * FROM ({sql}) LIMIT {int(limit)}")
        return QueryResult(columns=tuple(column[0] for column in cursor.description or ()), rows=cursor.fetchall())

    def render_dataframe(self, df: Any, *, limit: int = 20) -> str:
        result = self.fetch(df, limit=limit + 1)
        return format_rows(list(result.columns), result.rows, limit=limit)

    # -- activity bookkeeping ---------------------------------------------------------------------------------

    @contextmanager
    def activity_scope(self, metrics: TableMetrics) -> Iterator[None]:
        previous = getattr(self._local, "metrics", None)
        had_cursor = getattr(self._local, "cursor", None) is not None
        self._local.metrics = metrics
        try:
            yield
        finally:
            self._local.metrics = previous
            if not had_cursor:
                self._release_cursor()

    def record_rows(self, table: str, rows: int) -> None:
        metrics: TableMetrics | None = getattr(self._local, "metrics", None)
        if metrics is not None:
            metrics.add(table, rows)

    @contextmanager
    def statement_reads(self) -> Iterator[None]:
        """Count each lake table one statement reads once, when the statement has run (not if it failed)."""
        if getattr(self._local, "metrics", None) is None or getattr(self._local, "reads", None) is not None:
            yield  # nothing to count for, or an enclosing statement counts
            return
        reads: dict[str, delta.TableSnapshot] = {}
        self._local.reads = reads
        try:
            yield
        finally:
            self._local.reads = None
        for table, snapshot in reads.items():
            self._count_read(table, snapshot)

    @contextmanager
    def _reads_not_counted(self) -> Iterator[None]:
        outer = getattr(self._local, "reads", None)
        self._local.reads = {}  # collected, then dropped
        try:
            yield
        finally:
            self._local.reads = outer

    def note_read(self, table: str, snapshot: delta.TableSnapshot) -> None:
        """Count a read of ``snapshot`` (a lake table version) for this thread's activity, if one is running.

        The count is the rows of the version (see :class:`TableMetrics`), not the rows left after filters.
        """
        reads: dict[str, delta.TableSnapshot] | None = getattr(self._local, "reads", None)
        if reads is not None:
            reads.setdefault(table, snapshot)
        elif getattr(self._local, "metrics", None) is not None:
            self._count_read(table, snapshot)

    def _count_read(self, table: str, snapshot: delta.TableSnapshot) -> None:
        metrics: TableMetrics = self._local.metrics
        rows = snapshot.num_rows
        if rows is None:  # a file without stats: DuckDB counts Parquet rows from the files' footers
            rows = int(self.execute(f"SELECT count(*) FROM ({snapshot_select(snapshot)})").fetchone()[0])
        metrics.add_table_read(table, rows)

    @contextmanager
    def notebook_imports(self) -> Iterator[None]:
        with pyspark_aliases(lambda: self.spark):
            yield


@dataclass(frozen=True, slots=True)
class TableRead:
    """What a DataFrame read of a table (`spark.table`) reads."""

    view: str
    """The name DuckDB knows it by: ``schema.table``, or a view of this session."""
    snapshot: delta.TableSnapshot | None
    """The lake table version read; None for a view made in this session."""


class _RowCounter:
    def __init__(self) -> None:
        self.rows = 0

    def count(self, reader: Any) -> Iterator[Any]:
        for batch in reader:
            self.rows += batch.num_rows
            yield batch


def _connect(project_root: Path) -> Any:
    """An in-memory database set up as every session's: no extension loading, UTC, Spark's types and functions."""
    connection = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
            # Relative paths in SQL (read_csv('data/x.csv')) mean the project's files, wherever lockgate runs.
            "file_search_path": str(project_root),
        },
    )
    # Spark SQL TIMESTAMP becomes TIMESTAMPTZ; UTC makes it mean what Databricks means by default.
    connection.execute("SET GLOBAL TimeZone = 'UTC'")
    # Spark's TIMESTAMP_NTZ is DuckDB's TIMESTAMP; the PySpark API layer writes the Spark name into DuckDB SQL.
    connection.execute("CREATE TYPE timestamp_ntz AS TIMESTAMP")
    for macro in SPARK_FUNCTION_MACROS:
        connection.execute(macro)
    return connection


def function_names() -> frozenset[str]:
    """What SQL on this engine can call, lower-case: DuckDB's functions and lockgate's Spark macros (see
    :mod:`lockgate.engine.duckdb_functions`) as a session has them, and DuckDB's keywords (``coalesce``,
    ``try_cast``: syntax that looks like a call)."""
    connection = _connect(Path.cwd())
    try:
        rows = connection.execute(
            "SELECT DISTINCT lower(function_name) FROM duckdb_functions() "
            "UNION SELECT lower(keyword_name) FROM duckdb_keywords()"
        ).fetchall()
    finally:
        connection.close()
    return frozenset(str(row[0]) for row in rows)


def dataframe_sql(df: Any) -> str:
    """The DuckDB SQL of a sqlframe DataFrame, as one statement."""
    statements = df.sql(dialect="duckdb", optimize=False, pretty=False, as_list=True)
    if len(statements) != 1:
        raise EngineError(
            "this DataFrame needs several SQL statements, which lockgate cannot stream yet",
            hint="avoid .cache()/.persist() before writing",
        )
    return str(statements[0])


def _spark_mode(mode: str) -> delta.WriteMode:
    try:
        return _SPARK_MODES[mode.lower()]  # type: ignore[return-value]
    except KeyError:
        raise EngineError(f"unknown save mode {mode!r}", hint="use one of: overwrite, append, ignore, error") from None


def map_duckdb_error(exc: Exception, sql: str) -> LockgateError:
    """A lockgate error for a DuckDB error; user SQL problems are the user's, not the engine's."""
    message = str(exc).strip()
    first = message.splitlines()[0] if message else type(exc).__name__
    if isinstance(exc, duckdb.IOException | duckdb.InvalidInputException) and (
        "parquet" in first.lower() or "magic bytes" in first
    ):
        return TableError(
            f"a table's data file is unreadable: {first}",
            hint="the table may be corrupt or truncated; restore the file or rewrite the table",
        )
    if isinstance(exc, duckdb.CatalogException | duckdb.BinderException | duckdb.ParserException):
        return SqlError(first, hint=_sql_hint(sql))
    if isinstance(
        exc,
        duckdb.ConversionException
        | duckdb.InvalidInputException
        | duckdb.ConstraintException
        | duckdb.OutOfRangeException
        | duckdb.NotImplementedException,
    ):
        return UserCodeError(first, detail=message, hint=_sql_hint(sql))
    return EngineError(f"DuckDB failed: {first}", hint="rerun with --debug for details")


def _sql_hint(sql: str) -> str | None:
    text = " ".join(sql.split())
    return f"in: {text[:200]}{'...' if len(text) > 200 else ''}"
