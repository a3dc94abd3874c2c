"""The PySpark API on DuckDB (sqlframe), wired to lockgate's Delta lake.

sqlframe turns DataFrame code into SQL; this module makes its reads and writes go through the lake:
`spark.table` / `spark.read.table` resolve `[catalog.]schema.table` to the environment's Delta tables,
`saveAsTable` / `insertInto` / `write.format("delta").save` commit Delta versions, `spark.sql` runs Spark SQL
statements (DDL and DML included) through :class:`~lockgate.engine.duckdb.DuckDBSession`.

It also builds the `pyspark` modules notebooks import (see ``pyspark_imports``), so
`from pyspark.sql import functions as F` works whether or not PySpark is installed. Loaded lazily, on first use of
`spark` or of a `pyspark` import.
"""

from __future__ import annotations

import types
import warnings
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlframe.base.exceptions import UnsupportedOperationError
from sqlframe.base.util import normalize_string, safe_parse_identifier
from sqlframe.duckdb import DuckDBDataFrame, DuckDBDataFrameReader, DuckDBDataFrameWriter, DuckDBSession
from sqlframe.duckdb import functions as duckdb_functions
from sqlframe.duckdb import types as duckdb_types
from sqlframe.duckdb import window as duckdb_window
from sqlglot import exp
from sqlglot import generator as sqlglot_generator
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.spark import Spark
from sqlglot.errors import ParseError, TokenError
from sqlglot.schema import MappingSchema

from lockgate.errors import AnalysisError, EngineError, LockgateError, SqlError

if TYPE_CHECKING:
    from lockgate.engine.delta import TableSnapshot
    from lockgate.engine.duckdb import DuckDBSession as LakeSession
    from lockgate.engine.duckdb import TableRead


# sqlframe teaches sqlglot's Spark generator to write file reads (`read_parquet(...)`) when it is imported, but
# sqlglot caches each generator's dispatch table the first time the generator is used. If lockgate generated Spark
# SQL before this import (validation, a Spark run, a `sql` activity), the cache lacks sqlframe's method and file
# reads come out as `parquet.``; dropping the cached table makes the next generator pick the method up.
getattr(sqlglot_generator, "_DISPATCH_CACHE", {}).pop(Spark.Generator, None)

# sqlframe's toPandas() reads through pandas.read_sql on a DuckDB cursor, which works but makes pandas warn on
# every call; the warning tells notebook authors nothing they can act on.
warnings.filterwarnings("ignore", message="pandas only supports SQLAlchemy connectable", category=UserWarning)


class LakeReader(DuckDBDataFrameReader):
    """`spark.read`: tables resolve through the lake; file paths through the project (dbfs:/ too)."""

    session: LakeSparkSession

    def table(self, tableName: str) -> Any:
        read = self.session.lake.prepare_table_read(tableName)
        if read.view in self.session.temp_views:
            return super().table(read.view)  # a DataFrame's temp view: sqlframe returns that DataFrame
        return self.session.table_frame(read)

    def load(self, path: Any = None, format: str | None = None, schema: Any = None, **options: Any) -> Any:
        fmt = (format or self.state_format_to_read or "").lower()
        if fmt == "delta":
            if path is None:
                raise EngineError(
                    "spark.read.format('delta').load() needs a path",
                    hint="or read a table by name with spark.table('schema.table')",
                )
            return self.session.table_frame(
                self.session.lake.register_path_view(str(path), options=self.state_options | options)
            )
        if fmt == "csv" and schema is None and not _truthy({**self.state_options, **options}.get("inferSchema")):
            # Spark reads every CSV column as a string unless asked to infer types; DuckDB would infer them.
            options = {**options, "all_varchar": True}
        frame = super().load(self.session.lake.resolve_paths(path), format=format, schema=schema, **options)
        if fmt == "json" and schema is None:
            # Spark's JSON schema inference orders columns by name; DuckDB keeps the file's order.
            return frame.select(*sorted(frame.columns))
        return frame


class LakeWriter(DuckDBDataFrameWriter):
    """`df.write`: tables are Delta tables in the environment's lake."""

    def saveAsTable(
        self,
        name: str,
        format: str | None = None,
        mode: str | None = None,
        partitionBy: str | Sequence[str] | None = None,
        **options: Any,
    ) -> Any:
        self._check_format(format or self._state_format_to_write)
        lake = self._session.lake
        lake.write_dataframe(
            self._df,
            name,
            mode=str(mode or self._mode or "errorifexists"),
            partition_by=_names(partitionBy or self._partition_by()),
            merge_schema=_truthy((self.state_options | options).get("mergeSchema")),
        )
        return self

    def insertInto(self, tableName: str, overwrite: bool | None = None) -> Any:
        self._session.lake.insert_dataframe(self._df, tableName, overwrite=bool(overwrite))
        return self

    def save(
        self,
        path: str | None = None,
        format: str | None = None,
        mode: str | None = None,
        partitionBy: str | Sequence[str] | None = None,
        **options: Any,
    ) -> None:
        fmt = (format or self._state_format_to_write or "delta").lower()
        if fmt != "delta":
            super().save(path, fmt, mode, list(_names(partitionBy)) or None, **options)
            return
        if path is None:
            raise EngineError("df.write.save() needs a path", hint="or use saveAsTable('schema.table')")
        self._session.lake.write_dataframe_to_path(
            self._df, path, mode=str(mode or self._mode or "error"), partition_by=_names(partitionBy)
        )

    def _write(self, path: str, mode: str | None, **options: Any) -> None:  # type: ignore[override]
        # df.write.parquet/csv/json(path) and .save(path) of files: paths mean the project's (dbfs:/ too).
        resolved = Path(str(self._session.lake.resolve_path(path)))
        resolved.parent.mkdir(parents=True, exist_ok=True)  # Spark creates missing folders; DuckDB's COPY does not
        super()._write(str(resolved), mode, **options)

    def partitionBy(self, *cols: str | list[str]) -> LakeWriter:
        names: list[str] = []
        for col in cols:
            names.extend([col] if isinstance(col, str) else col)
        writer = self.copy()
        writer.state_options = {**self.state_options, "__partition_by__": ",".join(names)}
        return writer

    def _partition_by(self) -> tuple[str, ...]:
        value = self.state_options.pop("__partition_by__", "")
        return tuple(name for name in str(value).split(",") if name)

    @staticmethod
    def _check_format(fmt: str | None) -> None:
        if fmt and fmt.lower() not in {"delta"}:
            raise EngineError(
                f"saveAsTable with format {fmt!r} is not supported: lake tables are Delta tables",
                hint="drop .format(...), or write files with df.write.parquet(path)",
            )

    @property
    def _session(self) -> LakeSparkSession:
        session = self._df.session
        assert isinstance(session, LakeSparkSession)
        return session


class LakeDataFrame(DuckDBDataFrame):
    """sqlframe's DataFrame plus PySpark methods it lacks that its own API can express."""

    def selectExpr(self, *exprs: str | list[str]) -> LakeDataFrame:
        flat = [e for item in exprs for e in ([item] if isinstance(item, str) else item)]
        return self.select(*[duckdb_functions.expr(e) for e in flat])

    def subtract(self, other: Any) -> LakeDataFrame:
        """Rows of this DataFrame not in ``other``, without duplicates (SQL `EXCEPT DISTINCT`)."""
        return self.distinct().exceptAll(other)

    def take(self, num: int) -> list[Any]:
        return self.limit(num).collect()

    def tail(self, num: int) -> list[Any]:
        return self.collect()[-num:] if num > 0 else []

    @property
    def dtypes(self) -> list[tuple[str, str]]:
        # Spark writes `decimal(10,2)` and `map<string,int>`; sqlframe puts a space after each comma.
        return [(f.name, f.dataType.simpleString().replace(", ", ",")) for f in self.schema.fields]

    def describe(self, *cols: str | list[str]) -> Any:
        """count, mean, stddev, min and max per column, as strings (Spark's `describe`)."""
        types = dict(self.dtypes)
        names = [c for item in cols for c in ([item] if isinstance(item, str) else item)] or [
            name for name, kind in types.items() if kind in _NUMERIC_TYPES or kind == "string"
        ]
        stats: dict[str, Callable[[str], Any]] = {
            "count": duckdb_functions.count,
            "mean": duckdb_functions.mean,
            "stddev": duckdb_functions.stddev,
            "min": duckdb_functions.min,
            "max": duckdb_functions.max,
        }
        numeric_only = {"mean", "stddev"}
        aggregates = [
            function(name).alias(f"{stat}__{index}")
            for index, name in enumerate(names)
            for stat, function in stats.items()
            if stat not in numeric_only or types.get(name) in _NUMERIC_TYPES
        ]
        values = self.agg(*aggregates).collect()[0].asDict() if aggregates else {}
        rows = [
            (stat, *[_describe_text(values.get(f"{stat}__{index}")) for index in range(len(names))]) for stat in stats
        ]
        schema = duckdb_types.StructType(
            [duckdb_types.StructField(name, duckdb_types.StringType()) for name in ("summary", *names)]
        )
        return self.session.createDataFrame(rows, schema)

    def summary(self, *statistics: str) -> Any:
        if statistics and set(statistics) - {"count", "mean", "stddev", "min", "max"}:
            raise EngineError(
                "df.summary() supports count, mean, stddev, min and max on the DuckDB engine",
                hint="percentiles need the Spark engine; use df.describe() or percentile_approx",
            )
        described = self.describe()
        return described.filter(described["summary"].isin(list(statistics))) if statistics else described

    def sample(self, withReplacement: Any = None, fraction: float | None = None, seed: int | None = None) -> Any:
        """A Bernoulli sample of about ``fraction`` of the rows. The DuckDB engine ignores ``seed``."""
        if isinstance(withReplacement, float) and fraction is None:
            withReplacement, fraction = None, withReplacement
        if withReplacement:
            raise EngineError("sampling with replacement needs the Spark engine", hint="use sample(fraction)")
        if fraction is None or not 0.0 <= fraction <= 1.0:
            raise EngineError(f"sample() needs a fraction between 0 and 1, got {fraction!r}")
        return self.filter(duckdb_functions.rand() < fraction)

    def unpersist(self, blocking: bool = False) -> LakeDataFrame:
        return self

    def createOrReplaceTempView(self, name: str) -> None:
        # sqlframe registers the view in its catalog under a one-part name, which the catalog refuses once it
        # holds a lake table (`schema.table`), and which makes it refuse lake tables later. Registered as
        # `main.<name>`, where DuckDB shows the view too, every name in the catalog has two parts.
        name = normalize_string(name, from_dialect="input")
        frame = self.copy()._convert_leaf_to_cte()
        self.session.temp_views[name] = frame
        columns = [column.alias_or_name for column in self._get_outer_select_columns(frame.expression)]
        self.session.catalog.add_table(exp.table_(exp.to_identifier(name), db="main"), columns)

    def createTempView(self, name: str) -> None:
        if name in self.session.temp_views:
            raise AnalysisError(f"temporary view {name!r} already exists", hint="use createOrReplaceTempView")
        self.createOrReplaceTempView(name)

    def createOrReplaceGlobalTempView(self, name: str) -> None:
        self.createOrReplaceTempView(name)

    @property
    def rdd(self) -> Any:
        return _needs_spark("RDDs")()

    def foreach(self, *_args: Any) -> None:
        _needs_spark("df.foreach (Python run per row)")()

    def mapInPandas(self, *_args: Any, **_kwargs: Any) -> Any:
        return _needs_spark("mapInPandas (Python run per batch)")()


class LakeRuntimeConfig:
    """`spark.conf`: the session time zone is DuckDB's; every other key is kept, as Spark keeps it.

    Settings such as `spark.sql.shuffle.partitions` tune a cluster and mean nothing to DuckDB; notebooks set them
    routinely, so they are stored and read back rather than refused.
    """

    _TIME_ZONE = "spark.sql.session.timeZone"

    def __init__(self, session: LakeSparkSession):
        self._session = session
        self._values: dict[str, str] = {}

    def set(self, key: str, value: Any) -> None:
        if key == self._TIME_ZONE:
            self._session.execute_sql(f"SET TimeZone = '{str(value).replace(chr(39), '')}'")
        else:
            self._values[key] = str(value).lower() if isinstance(value, bool) else str(value)

    def get(self, key: str, default: Any = None) -> Any:
        if key == self._TIME_ZONE:
            return self._session.execute_sql("SELECT current_setting('TimeZone')").fetchone()[0]
        if key in self._values:
            return self._values[key]
        if default is not None:
            return default
        raise EngineError(f"spark.conf has no value for {key!r}", hint=f"set it first: spark.conf.set({key!r}, ...)")

    def unset(self, key: str) -> None:
        self._values.pop(key, None)

    def getAll(self) -> dict[str, str]:
        return dict(self._values)

    def isModifiable(self, key: str) -> bool:
        return True


class LakeSparkSession(DuckDBSession):
    """The `spark` object notebooks see on the DuckDB engine."""

    _reader = LakeReader
    _writer = LakeWriter
    _df = LakeDataFrame

    lake: LakeSession

    def __init__(self, conn: Any = None, *args: Any, lake: LakeSession | None = None, **kwargs: Any) -> None:
        super().__init__(conn, *args, **kwargs)
        if lake is not None:
            self.lake = lake

    @property
    def _cur(self) -> Any:
        # One DuckDB cursor per thread: activities run in parallel threads over one in-memory database.
        return self.lake.cursor()

    def _execute(self, sql: str) -> None:
        self._last_result = self._cur.execute(sql)

    def execute_sql(self, sql: str) -> Any:
        """Run DuckDB SQL on this thread's cursor (lockgate's own statements, not user SQL)."""
        return self.lake.execute(sql)

    @cached_property
    def conf(self) -> LakeRuntimeConfig:  # type: ignore[override]
        return LakeRuntimeConfig(self)

    def sql(self, sqlQuery: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(sqlQuery, exp.Expr):
            # sqlframe's own readers build expressions and call sql(); user code passes text.
            return super().sql(sqlQuery, *args, **kwargs)
        if args or kwargs.get("args") is not None or set(kwargs) - {"dialect"}:
            raise UnsupportedOperationError(
                "spark.sql() with parameters is not supported on the DuckDB engine; format the values into the SQL text"
            )
        return self.lake.sql(sqlQuery)

    def sql_as_dataframe(self, spark_sql: Any) -> Any:
        """sqlframe's own `sql()` for a query the lake has already resolved and checked."""
        return super().sql(spark_sql, qualify=False)

    def table(self, tableName: str) -> Any:
        return self.read.table(tableName)

    def table_frame(self, read: TableRead) -> LakeDataFrame:
        """A DataFrame of all columns of a table or view (sqlframe's own reader gives a frame of another class).

        A lake table's columns come from its Delta version; a session view's, from DuckDB's catalog.
        """
        table = exp.to_table(
            normalize_string(read.view, from_dialect="input", is_table=True), dialect=self.input_dialect
        )
        self.catalog.add_table(table, _column_mapping(read.snapshot, self.input_dialect) if read.snapshot else None)
        columns = self.catalog.get_columns_from_schema(table)
        return LakeDataFrame(self, exp.Select().from_(table).select(*columns, dialect=self.input_dialect))

    def forget_cached_schemas(self) -> None:
        """Drop sqlframe's cached column lists after a table's schema may have changed."""
        self.catalog._schema = MappingSchema()

    @property
    def sparkContext(self) -> Any:
        raise EngineError(
            "spark.sparkContext (RDDs) needs the Spark engine",
            hint="run with --engine spark (install it with: pip install 'lockgate[spark]')",
        )

    @property
    def udf(self) -> Any:
        return _needs_spark("Python UDFs")()


_NUMERIC_TYPES = frozenset({"tinyint", "smallint", "int", "bigint", "float", "double"}) | frozenset(
    f"decimal({p},{s})" for p in range(1, 39) for s in range(0, p + 1)
)


def _column_mapping(snapshot: TableSnapshot, dialect: Dialect) -> dict[str, str] | None:
    """A table version's columns as sqlframe's catalog keeps them (names as DuckDB reports them, Spark types);
    None when a type has no Spark SQL spelling sqlglot reads, so that sqlframe asks DuckDB instead."""
    mapping = {}
    for column in snapshot.columns:
        identifier = safe_parse_identifier(column.name, dialect="duckdb")
        identifier._meta = {"case_sensitive": True}
        name = normalize_string(identifier, from_dialect="execution", to_dialect="output")
        key = normalize_string(name, from_dialect="output", to_dialect="input", is_column=True)
        try:
            mapping[key] = exp.DataType.build(column.delta_type, dialect=dialect).sql(dialect=dialect)
        except (ParseError, TokenError, ValueError):
            return None
    return mapping


def _describe_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"true", "1", "yes"}


def _names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _spark_session_class(session: Callable[[], LakeSparkSession]) -> type:
    """`pyspark.sql.SparkSession` inside notebooks: its builder returns the run's session."""

    class Builder:
        def appName(self, _name: str) -> Builder:
            return self

        def master(self, _master: str) -> Builder:
            return self

        def config(self, *_args: Any, **_kwargs: Any) -> Builder:
            return self

        def enableHiveSupport(self) -> Builder:
            return self

        def getOrCreate(self) -> LakeSparkSession:
            return session()

    class SparkSession:
        builder = Builder()

        @staticmethod
        def getActiveSession() -> LakeSparkSession:
            return session()

        @staticmethod
        def active() -> LakeSparkSession:
            return session()

    return SparkSession


def _needs_spark(feature: str) -> Any:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise EngineError(
            f"{feature}: needs the Spark engine",
            hint="use built-in functions from pyspark.sql.functions, or run with --engine spark "
            "(pip install 'lockgate[spark]')",
        )

    return refuse


_INT_FUNCTIONS = (
    "year",
    "quarter",
    "month",
    "weekofyear",
    "dayofmonth",
    "dayofweek",
    "dayofyear",
    "hour",
    "minute",
    "second",
    "datediff",
)
"""Functions Spark types INT where DuckDB gives BIGINT; their results are cast so tables match across engines."""


def _int_result(function: Callable[..., Any]) -> Callable[..., Any]:
    def as_int(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs).cast("int")

    as_int.__name__, as_int.__doc__ = function.__name__, function.__doc__
    return as_int


def _functions_module() -> types.ModuleType:
    """`pyspark.sql.functions`: sqlframe's functions, plus `udf`/`pandas_udf` that say they need Spark."""
    module = types.ModuleType("pyspark.sql.functions", duckdb_functions.__doc__)
    module.__dict__.update({k: v for k, v in vars(duckdb_functions).items() if not k.startswith("__")})
    for name in _INT_FUNCTIONS:
        module.__dict__[name] = _int_result(getattr(duckdb_functions, name))
    module.udf = _needs_spark("Python UDFs")  # type: ignore[attr-defined]
    module.pandas_udf = _needs_spark("pandas UDFs")  # type: ignore[attr-defined]
    return module


def pyspark_modules(session: Callable[[], LakeSparkSession]) -> dict[str, types.ModuleType]:
    """The `pyspark` modules notebooks import on the DuckDB engine, by module name."""
    import sqlframe.duckdb as engine_module

    pyspark = types.ModuleType("pyspark", "lockgate: PySpark API on DuckDB (sqlframe)")
    pyspark.__path__ = []
    sql = types.ModuleType("pyspark.sql")
    sql.__path__ = []
    for name in engine_module.__all__:
        setattr(sql, name.removeprefix("DuckDB"), getattr(engine_module, name))
    functions = _functions_module()
    sql.SparkSession = _spark_session_class(session)  # type: ignore[attr-defined]
    sql.functions = functions  # type: ignore[attr-defined]
    sql.types = duckdb_types  # type: ignore[attr-defined]
    sql.window = duckdb_window  # type: ignore[attr-defined]
    utils = types.ModuleType("pyspark.sql.utils")
    errors = types.ModuleType("pyspark.errors")
    for module in (utils, errors):
        module.AnalysisException = AnalysisError  # type: ignore[attr-defined]
        module.ParseException = SqlError  # type: ignore[attr-defined]
        module.PySparkException = LockgateError  # type: ignore[attr-defined]
    sql.utils = utils  # type: ignore[attr-defined]
    pyspark.sql = sql  # type: ignore[attr-defined]
    pyspark.errors = errors  # type: ignore[attr-defined]
    return {
        "pyspark": pyspark,
        "pyspark.sql": sql,
        "pyspark.sql.functions": functions,
        "pyspark.sql.types": duckdb_types,
        "pyspark.sql.window": duckdb_window,
        "pyspark.sql.utils": utils,
        "pyspark.sql.dataframe": sql,
        "pyspark.sql.column": sql,
        "pyspark.sql.session": sql,
        "pyspark.errors": errors,
    }
