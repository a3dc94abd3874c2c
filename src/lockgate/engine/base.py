"""The engine interface: what a run needs from DuckDB or Spark.

An :class:`Engine` opens one :class:`EngineSession` per run (or per `lockgate query`). The session owns the
`spark` object notebooks see, resolves `schema.table` names to the environment's Delta tables, and can be
interrupted from another thread. Notebook execution itself is engine-neutral (``notebook_runtime``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class LakeTarget:
    """Where an environment's tables and files are."""

    environment: str
    lake_root: Path
    """Folder whose `<schema>/<table>` sub-folders are Delta tables."""
    catalog: str
    """Catalog name three-part table names use for this environment."""
    project_root: Path
    """Relative file paths in notebooks resolve here."""
    catalog_aliases: tuple[str, ...] = ("spark_catalog", "hive_metastore", "main")


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows of a query, with column names, as Python values."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class TableMetrics:
    """Rows read and written per table during one activity attempt, filled in as the work happens.

    Reads are counted in one of two ways. The engine notes every lake table a SQL statement or a DataFrame read
    (`spark.table`) names, once per statement or call, with :meth:`add_table_read`: the rows of the table version
    read, from the Delta log, not the rows left after filters. An activity that counts the rows it reads itself
    (copy, lookup) calls :meth:`add_read`; its exact counts then replace the engine's notes, so no source is
    counted twice under two names.
    """

    rows_written: dict[str, int] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    _reads_counted_exactly: bool = field(default=False, init=False, repr=False)

    def add(self, table: str, rows: int) -> None:
        """Count rows written to ``table``."""
        self.rows_written[table] = self.rows_written.get(table, 0) + rows

    def add_read(self, table: str, rows: int) -> None:
        """Count rows read from ``table`` (or a file path), exactly: the engine's notes of reads are dropped."""
        if not self._reads_counted_exactly:
            self.rows_read.clear()
            self._reads_counted_exactly = True
        self.rows_read[table] = self.rows_read.get(table, 0) + rows

    def add_table_read(self, table: str, rows: int) -> None:
        """Note a read of lake table ``table`` whose version has ``rows`` rows (ignored once reads are exact)."""
        if not self._reads_counted_exactly:
            self.rows_read[table] = self.rows_read.get(table, 0) + rows


class LazyDataFrame:
    """What `spark.sql()` returns: a DataFrame made on first use.

    Most SQL in notebooks runs for its effect (`CREATE TABLE ... AS`) or is only displayed, so the DataFrame
    machinery is not loaded unless user code touches the result. ``duckdb_sql`` lets an engine display a query
    without building the DataFrame; ``affected_rows`` marks the result of a write (`num_affected_rows`).
    """

    def __init__(self, build: Callable[[], Any], *, duckdb_sql: str | None = None, affected_rows: int | None = None):
        self.duckdb_sql = duckdb_sql
        self.affected_rows = affected_rows
        self._build = build
        self._frame: Any = None

    @property
    def is_write_result(self) -> bool:
        return self.affected_rows is not None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._frame is None:
            self._frame = self._build()
        return getattr(self._frame, name)

    def __repr__(self) -> str:
        if self.is_write_result:
            return f"DataFrame[num_affected_rows: bigint, num_inserted_rows: bigint] ({self.affected_rows} rows)"
        return "DataFrame[...]"


class EngineSession(ABC):
    """One engine session: a `spark` object bound to one environment's lake."""

    @property
    @abstractmethod
    def spark(self) -> Any:
        """The object notebooks know as `spark` (PySpark's SparkSession API)."""

    @abstractmethod
    def sql(self, text: str, *, file: str = "<sql>", line: int = 1, column_offset: int = 0) -> Any:
        """Run Spark SQL statements (as written for Databricks); the last one's DataFrame, or None."""

    @abstractmethod
    def query(self, text: str, *, dialect: str = "spark") -> QueryResult:
        """Run one read-only query and return its rows (for `lockgate query`)."""

    @abstractmethod
    def fetch(self, df: Any, *, limit: int) -> QueryResult:
        """Run a DataFrame's query and return up to ``limit`` rows."""

    @abstractmethod
    def resolve_file_path(self, path: str) -> Path:
        """A notebook's file path on this machine (`dbfs:/x`, `/dbfs/x` and relative paths are the project's)."""

    @abstractmethod
    def render_dataframe(self, df: Any, *, limit: int = 20) -> str:
        """A text table of a DataFrame's first rows, for `display()` and logs."""

    @abstractmethod
    @contextmanager
    def activity_scope(self, metrics: TableMetrics) -> Iterator[None]:
        """Make this thread's work count towards ``metrics``; used once per activity attempt.

        Resources the engine made for the thread during the scope (a DuckDB cursor) are released at its end.
        """

    @abstractmethod
    @contextmanager
    def notebook_imports(self) -> Iterator[None]:
        """Make `import pyspark...` inside notebooks resolve to this engine's API."""

    @abstractmethod
    def interrupt(self, thread: int | None = None) -> None:
        """Stop the queries running now (from another thread), or only ``thread``'s; they raise there."""

    @abstractmethod
    def close(self) -> None:
        """Release the engine's resources; idempotent."""

    def __enter__(self) -> EngineSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Engine(ABC):
    """A way to run work: opens sessions."""

    name: str

    @abstractmethod
    def open_session(self, target: LakeTarget) -> EngineSession:
        """Open a session on ``target``. Raises ``EngineError`` if the engine cannot start."""
