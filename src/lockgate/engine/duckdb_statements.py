"""Spark SQL statements on the DuckDB engine, one method per statement kind.

Queries become sqlframe DataFrames (lazy, like Spark). Writes run the statement's SELECT in DuckDB and commit
the rows as a Delta version. `DELETE`, `UPDATE` and `MERGE` run against a staging copy of the table in DuckDB
and commit the result as one new version, so a failure leaves the table as it was. DDL for schemas and views
works on the lake and the session; maintenance statements (`OPTIMIZE`, `VACUUM`, ...) are accepted and skipped.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from lockgate.engine import delta
from lockgate.engine.base import LazyDataFrame
from lockgate.engine.delta import WriteMode
from lockgate.engine.duckdb_views import duckdb_type, quote
from lockgate.engine.lake_statements import (
    SHOW_TABLES_COLUMNS,
    abbreviate,
    alias_target,
    apply_use,
    checked_table_options,
    describe_rows,
    insert_columns,
    lake_table_options,
    move_table_to_trash,
    remove_empty_schema_folder,
    schema_name,
    schema_to_drop,
    show_tables_rows,
)
from lockgate.engine.sql import (
    Statement,
    StatementKind,
    TableName,
    TableOptions,
    classify,
    is_overwrite,
    rewrite_tables,
    target_table,
)
from lockgate.engine.sql_translate import to_duckdb
from lockgate.engine.table_name import TableResolver, unknown_table_error
from lockgate.errors import SqlError

if TYPE_CHECKING:
    from lockgate.engine.duckdb import DuckDBSession

logger = logging.getLogger(__name__)


class StatementRunner:
    """Runs parsed Spark SQL statements against a :class:`DuckDBSession`."""

    def __init__(self, session: DuckDBSession):
        self.session = session
        self.names: TableResolver = session.names
        self._session_views: set[tuple[str, str]] = set()

    def run(self, statement: Statement) -> Any:
        handler = _HANDLERS.get(classify(statement.expression))
        if handler is None:
            raise _unsupported(statement)
        with self.session.statement_reads():
            return handler(self, statement)

    # -- name resolution --------------------------------------------------------------------------------------

    def is_session_view(self, table: TableName) -> bool:
        return (table.schema or "", table.name) in self._session_views

    def resolve_for_read(self, name: TableName) -> TableName:
        """A table name as DuckDB must see it; session views and system tables stay as written.

        A lake table's read counts for the running activity (once per statement).
        """
        is_bare = name.schema is None and name.catalog is None
        if is_bare and name.name in self.session.temp_view_names():
            # A DataFrame's temp view: give DuckDB a view of it too, so SQL text can read it.
            self.session.publish_temp_view(name.name)
            return name
        if is_bare and self.is_session_view(TableName(catalog=None, schema="main", name=name.name.lower())):
            return name
        if TableResolver.is_system(name):
            return name
        resolved = self.names.resolve(name)
        snapshot = self.session.ensure_readable(resolved)
        if snapshot is not None:
            self.session.note_read(str(resolved), snapshot)
        return resolved

    def _resolve_target(self, statement: Statement) -> TableName:
        name = target_table(statement.expression)
        if name is None:
            raise SqlError("cannot tell which table this statement writes", location=statement.location)
        return self.names.resolve(name)

    def _duckdb_sql(
        self, expression: exp.Expr, statement: Statement, resolve: Callable[[TableName], TableName] | None = None
    ) -> str:
        rewritten = rewrite_tables(expression, resolve or self.resolve_for_read)
        return to_duckdb(rewritten, location=statement.location)

    # -- queries and writes -----------------------------------------------------------------------------------

    def _query(self, statement: Statement) -> Any:
        rewritten = rewrite_tables(statement.expression, self.resolve_for_read)
        duckdb_sql = to_duckdb(rewritten, location=statement.location)  # names what DuckDB cannot run, early
        return LazyDataFrame(lambda: self.session.spark.sql_as_dataframe(rewritten), duckdb_sql=duckdb_sql)

    def _create_table_as(self, statement: Statement) -> Any:
        expression = statement.expression
        table = self._resolve_target(statement)
        options = self._table_options(statement)
        select = expression.expression
        if expression.args.get("exists"):
            mode: WriteMode = "ignore"
        elif expression.args.get("replace"):
            mode = "overwrite"
        else:
            mode = "error"
        operation = "CREATE OR REPLACE TABLE AS SELECT" if mode == "overwrite" else "CREATE TABLE AS SELECT"
        rows = self.session.write_select(
            table,
            self._duckdb_sql(select, statement),
            mode=mode,
            partition_by=options.partitioned_by,
            operation=operation,
        )
        return self._affected(rows)

    def _insert(self, statement: Statement) -> Any:
        table = self._resolve_target(statement)
        self.session.ensure_readable(table)
        expression = statement.expression
        select = _insert_query(expression)
        columns = insert_columns(expression)
        select_sql = self.positional_select(table, self._duckdb_sql(select, statement), columns=columns)
        mode: WriteMode = "overwrite" if is_overwrite(expression) else "append"
        rows = self.session.write_select(
            table, select_sql, mode=mode, operation="INSERT OVERWRITE" if mode == "overwrite" else "INSERT INTO"
        )
        return self._affected(rows)

    def positional_select(self, table: TableName, select_sql: str, *, columns: list[str] | None = None) -> str:
        """``select_sql`` with its columns named and typed as ``table``'s, matched by position (Spark's rule)."""
        assert table.schema is not None
        snapshot = delta.open_snapshot(self.names.table_path(table.schema, table.name), name=str(table))
        target_columns = [c for c in snapshot.columns if columns is None or c.name in columns]
        if columns is not None:
            order = {name: index for index, name in enumerate(columns)}
            target_columns.sort(key=lambda c: order[c.name])
        aliases = ", ".join(f"_c{i}" for i in range(len(target_columns)))
        projections = []
        for column in snapshot.columns:
            if column in target_columns:
                source = f"_c{target_columns.index(column)}"
                projections.append(f"CAST({source} AS {duckdb_type(column.delta_type)}) AS {quote(column.name)}")
            else:
                projections.append(f"CAST(NULL AS {duckdb_type(column.delta_type)}) AS {quote(column.name)}")
        return f"SELECT {', '.join(projections)} FROM ({select_sql}) AS _insert_source({aliases})"

    def _create_table(self, statement: Statement) -> Any:
        table = self._resolve_target(statement)
        options = self._table_options(statement)
        staging = f"__lockgate_new_{uuid.uuid4().hex[:8]}"
        expression = _staging_create(statement, staging)
        self.session.execute(
            to_duckdb(expression, location=statement.location).replace("CREATE TABLE", "CREATE TEMPORARY TABLE", 1)
        )
        try:
            mode: WriteMode = (
                "ignore"
                if statement.expression.args.get("exists")
                else ("overwrite" if statement.expression.args.get("replace") else "error")
            )
            self.session.write_select(
                table,
                f"SELECT * FROM temp.main.{staging}",
                mode=mode,
                partition_by=options.partitioned_by,
                operation="CREATE TABLE",
            )
        finally:
            self.session.execute(f"DROP TABLE IF EXISTS temp.main.{staging}")
        return None

    def _rewrite_table_in_duckdb(self, statement: Statement) -> Any:
        """DELETE / UPDATE / MERGE / TRUNCATE: run on a staging copy, then commit the copy as the next version.

        The copy reads the whole table, so but for TRUNCATE the table's rows count as read.
        """
        table = self._resolve_target(statement)
        read = self.session.ensure_readable(table)
        assert table.schema is not None
        if read is not None and classify(statement.expression) != StatementKind.TRUNCATE:
            self.session.note_read(str(table), read)
        snapshot = delta.open_snapshot(self.names.table_path(table.schema, table.name), name=str(table))
        staging = f"__lockgate_stage_{uuid.uuid4().hex[:8]}"
        self.session.execute(
            f"CREATE TEMPORARY TABLE {staging} AS SELECT * FROM {quote(table.schema)}.{quote(table.name)}"
        )
        try:
            expression = alias_target(statement.expression)

            def resolve(name: TableName) -> TableName:
                if self.names.resolve(name) == table and not TableResolver.is_system(name):
                    return TableName(catalog=None, schema=None, name=staging)
                return self.resolve_for_read(name)

            cursor = self.session.execute(self._duckdb_sql(expression, statement, resolve))
            changed = cursor.fetchone()
            self.session.write_select(
                table,
                f"SELECT * FROM {staging}",
                mode="overwrite",
                partition_by=snapshot.partition_columns,
                operation=classify(statement.expression).value.upper(),
            )
        finally:
            self.session.execute(f"DROP TABLE IF EXISTS {staging}")
        return self._affected(int(changed[0]) if changed else 0)

    # -- DDL --------------------------------------------------------------------------------------------------

    def _create_view(self, statement: Statement) -> Any:
        expression = statement.expression
        name = target_table(expression)
        if name is None:
            raise SqlError("cannot tell the view's name", location=statement.location)
        schema = name.schema.lower() if name.schema else "main"
        view = (schema, name.name.lower())
        if not expression.args.get("kind", "").upper() == "VIEW":
            raise SqlError("expected CREATE VIEW", location=statement.location)
        temporary = any(isinstance(p, exp.TemporaryProperty) for p in expression.find_all(exp.TemporaryProperty))
        if not temporary:
            logger.warning(
                "%s: view %s lives for this run only on the DuckDB engine", statement.location, ".".join(view)
            )
        select_sql = self._duckdb_sql(expression.expression, statement)
        self.session.execute_ddl(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        self.session.execute_ddl(f"CREATE OR REPLACE VIEW {quote(schema)}.{quote(view[1])} AS {select_sql}")
        self._session_views.add(view)
        return None

    def _drop_view(self, statement: Statement) -> Any:
        name = target_table(statement.expression)
        if name is not None:
            self.session.drop_temp_view(name.name)
            schema = name.schema.lower() if name.schema else "main"
            self._session_views.discard((schema, name.name.lower()))
            self.session.execute_ddl(f"DROP VIEW IF EXISTS {quote(schema)}.{quote(name.name.lower())}")
        return None

    def _drop_table(self, statement: Statement) -> Any:
        """Moves the table's folder to the lake's `.trash/`, so a dropped table can be recovered."""
        table = self._resolve_target(statement)
        assert table.schema is not None
        path = self.names.table_path(table.schema, table.name)
        if not delta.is_delta_table(path):
            if statement.expression.args.get("exists"):
                return None
            raise unknown_table_error(table, self.names)
        move_table_to_trash(self.names.target.lake_root, table)
        self.session.drop_view(table.schema, table.name)
        return None

    def _create_schema(self, statement: Statement) -> Any:
        name = schema_name(statement.expression, statement.location)
        (self.names.target.lake_root / name).mkdir(parents=True, exist_ok=True)
        self.session.execute_ddl(f"CREATE SCHEMA IF NOT EXISTS {quote(name)}")
        return None

    def _drop_schema(self, statement: Statement) -> Any:
        name, tables = schema_to_drop(self.names.target.lake_root, statement)
        for table in tables:
            self._drop_table(
                Statement(
                    expression=exp.Drop(this=exp.to_table(f"{name}.{table}"), kind="TABLE"),
                    sql=f"DROP TABLE {name}.{table}",
                    location=statement.location,
                )
            )
        remove_empty_schema_folder(self.names.target.lake_root, name)
        return None

    def _use(self, statement: Statement) -> Any:
        apply_use(self.names, statement.expression)
        return None

    def _describe(self, statement: Statement) -> Any:
        expression = statement.expression
        table_node = expression.this
        name = TableName(catalog=table_node.catalog or None, schema=table_node.db or None, name=table_node.name)
        table = self.names.resolve(name)
        self.session.ensure_readable(table)
        assert table.schema is not None
        rows, columns = describe_rows(self.names.table_path(table.schema, table.name), table, statement.sql)
        return self.session.spark.createDataFrame(rows, columns)

    def _show_tables(self, statement: Statement) -> Any:
        rows = show_tables_rows(self.names.target.lake_root, statement.sql, self.names.current_schema)
        return self.session.spark.createDataFrame(rows, SHOW_TABLES_COLUMNS)

    def _ignored(self, statement: Statement) -> Any:
        logger.info("%s: skipped on the DuckDB engine: %s", statement.location, abbreviate(statement.sql))
        return None

    def _table_options(self, statement: Statement) -> TableOptions:
        return lake_table_options(statement)

    def _affected(self, rows: int) -> LazyDataFrame:
        return LazyDataFrame(lambda: self._affected_frame(rows), affected_rows=rows)

    def _affected_frame(self, rows: int) -> Any:
        count = exp.cast(exp.Literal.number(rows), "BIGINT")
        return self.session.spark.sql_as_dataframe(
            exp.select(exp.alias_(count, "num_affected_rows"), exp.alias_(count.copy(), "num_inserted_rows"))
        )


_Handler = Callable[[StatementRunner, Statement], Any]
_HANDLERS: dict[StatementKind, _Handler] = {
    StatementKind.QUERY: StatementRunner._query,
    StatementKind.CREATE_TABLE_AS: StatementRunner._create_table_as,
    StatementKind.CREATE_TABLE: StatementRunner._create_table,
    StatementKind.INSERT: StatementRunner._insert,
    StatementKind.CREATE_VIEW: StatementRunner._create_view,
    StatementKind.DROP_TABLE: StatementRunner._drop_table,
    StatementKind.DROP_VIEW: StatementRunner._drop_view,
    StatementKind.DELETE: StatementRunner._rewrite_table_in_duckdb,
    StatementKind.UPDATE: StatementRunner._rewrite_table_in_duckdb,
    StatementKind.MERGE: StatementRunner._rewrite_table_in_duckdb,
    StatementKind.TRUNCATE: StatementRunner._rewrite_table_in_duckdb,
    StatementKind.CREATE_SCHEMA: StatementRunner._create_schema,
    StatementKind.DROP_SCHEMA: StatementRunner._drop_schema,
    StatementKind.USE: StatementRunner._use,
    StatementKind.DESCRIBE: StatementRunner._describe,
    StatementKind.SHOW_TABLES: StatementRunner._show_tables,
    StatementKind.SET: StatementRunner._ignored,
    StatementKind.OPTIMIZE_OR_VACUUM: StatementRunner._ignored,
}
"""The runner's method for each kind of statement; a kind missing here is refused (:func:`_unsupported`)."""


# -- what the runner refuses from a statement's text alone -------------------------------------------------


def find_duckdb_refusal(statement: Statement) -> SqlError | None:
    """The error the DuckDB engine raises for ``statement`` before it reads or writes anything, or ``None``.

    These are the runner's own checks (:func:`translated_parts`) and :func:`to_duckdb` on every part it
    translates, so `lockgate validate` and a run cannot disagree. Errors that depend on the lake (a missing
    table, an unknown catalog) or on DuckDB's catalog of functions are not found here.
    """
    try:
        for part in translated_parts(statement):
            to_duckdb(part, location=statement.location)
    except SqlError as exc:
        return exc
    return None


def translated_parts(statement: Statement) -> list[exp.Expr]:
    """What the runner hands to :func:`to_duckdb` for ``statement``, before table names are resolved.

    Raises:
        SqlError: The runner refuses the statement before it translates anything: a kind it does not run, a
            ``LOCATION`` clause, a schema name it cannot use, ``CREATE TABLE`` without columns.
    """
    expression = statement.expression
    kind = classify(expression)
    if kind not in _HANDLERS:
        raise _unsupported(statement)
    if kind in (StatementKind.CREATE_SCHEMA, StatementKind.DROP_SCHEMA):
        schema_name(expression, statement.location)
    if kind in (StatementKind.CREATE_TABLE_AS, StatementKind.CREATE_TABLE):
        checked_table_options(statement)
    if kind == StatementKind.CREATE_TABLE:
        return [_staging_create(statement, "__lockgate_new")]
    if kind == StatementKind.INSERT:
        return [_insert_query(expression)]
    if kind in (StatementKind.CREATE_TABLE_AS, StatementKind.CREATE_VIEW):
        return [expression.expression]
    if kind in (StatementKind.DELETE, StatementKind.UPDATE, StatementKind.MERGE, StatementKind.TRUNCATE):
        return [alias_target(expression)]
    return [expression] if kind == StatementKind.QUERY else []


def _unsupported(statement: Statement) -> SqlError:
    return SqlError(
        f"this statement is not supported on the DuckDB engine: {abbreviate(statement.sql)}",
        location=statement.location,
        hint="run it on the Spark engine (--engine spark), or rewrite it",
    )


def _staging_create(statement: Statement, staging: str) -> exp.Expr:
    """``CREATE TABLE t (cols) ...`` as a plain ``CREATE TABLE <staging> (cols)``: no options, no OR REPLACE."""
    expression = statement.expression.copy()
    schema_node = expression.this
    if not isinstance(schema_node, exp.Schema):
        raise SqlError("CREATE TABLE needs a column list or AS SELECT", location=statement.location)
    schema_node.set("this", exp.to_table(staging))
    expression.set("replace", None)
    expression.set("exists", None)
    expression.set("properties", None)
    return expression


def _insert_query(expression: exp.Expr) -> exp.Expr:
    """The rows an ``INSERT`` writes, with the statement's ``WITH`` clause when it has one."""
    select: exp.Expr = expression.expression
    if expression.args.get("with_") is not None:
        select = select.copy()
        select.set("with_", expression.args["with_"])
    return select
