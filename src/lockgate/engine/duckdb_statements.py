"""Spark SQL statements on the DuckDB engine, one method per statement kind.

Queries become sqlframe DataFrames (lazy, like Spark). Writes run the statement's SELECT in DuckDB and commit
the rows as a Delta version. `DELETE`, `UPDATE` and `MERGE` run against a staging copy of the table in DuckDB
and commit the result as one new version, so a failure leaves the table as it was. DDL for schemas and views
works on the lake and the session; maintenance statements (`OPTIMIZE`, `VACUUM`, ...) are accepted and skipped.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from lockgate.engine import delta
from lockgate.engine.base import LazyDataFrame
from lockgate.engine.delta import WriteMode
from lockgate.engine.duckdb_views import duckdb_type, quote
from lockgate.engine.sql import (
    Statement,
    StatementKind,
    TableName,
    classify,
    is_overwrite,
    rewrite_tables,
    table_options,
    target_table,
)
from lockgate.engine.sql_translate import to_duckdb
from lockgate.engine.table_name import TableResolver, unknown_table_error
from lockgate.errors import SourceLocation, SqlError

if TYPE_CHECKING:
    from lockgate.engine.duckdb import DuckDBSession

logger = logging.getLogger(__name__)


class StatementRunner:
    """Runs parsed Spark SQL statements against a :class:`DuckDBSession`."""

    def __init__(self, session: DuckDBSession):
        self.session = session
        self.names: TableResolver = session.names
        self._session_views: set[tuple[str, str]] = set()
        self._handlers: dict[StatementKind, Callable[[Statement], Any]] = {
            StatementKind.QUERY: self._query,
            StatementKind.CREATE_TABLE_AS: self._create_table_as,
            StatementKind.CREATE_TABLE: self._create_table,
            StatementKind.INSERT: self._insert,
            StatementKind.CREATE_VIEW: self._create_view,
            StatementKind.DROP_TABLE: self._drop_table,
            StatementKind.DROP_VIEW: self._drop_view,
            StatementKind.DELETE: self._rewrite_table_in_duckdb,
            StatementKind.UPDATE: self._rewrite_table_in_duckdb,
            StatementKind.MERGE: self._rewrite_table_in_duckdb,
            StatementKind.TRUNCATE: self._rewrite_table_in_duckdb,
            StatementKind.CREATE_SCHEMA: self._create_schema,
            StatementKind.DROP_SCHEMA: self._drop_schema,
            StatementKind.USE: self._use,
            StatementKind.DESCRIBE: self._describe,
            StatementKind.SHOW_TABLES: self._show_tables,
            StatementKind.SET: self._ignored,
            StatementKind.OPTIMIZE_OR_VACUUM: self._ignored,
        }

    def run(self, statement: Statement) -> Any:
        kind = classify(statement.expression)
        handler = self._handlers.get(kind)
        if handler is None:
            raise SqlError(
                f"this statement is not supported on the DuckDB engine: {_abbreviate(statement.sql)}",
                location=statement.location,
                hint="run it on the Spark engine (--engine spark), or rewrite it",
            )
        with self.session.statement_reads():
            return handler(statement)

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
        select = expression.expression
        if expression.args.get("with_") is not None:
            select = select.copy()
            select.set("with_", expression.args["with_"])
        columns = _insert_columns(expression)
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
        expression = statement.expression.copy()
        schema_node = expression.this
        if isinstance(schema_node, exp.Schema):
            schema_node.set("this", exp.to_table(staging))
        else:
            raise SqlError("CREATE TABLE needs a column list or AS SELECT", location=statement.location)
        expression.set("replace", None)
        expression.set("exists", None)
        expression.set("properties", None)
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
            expression = _alias_target(statement.expression)

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
        trash = self.names.target.lake_root / ".trash" / f"{table.schema}.{table.name}.{int(time.time() * 1000)}"
        trash.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), str(trash))
        self.session.drop_view(table.schema, table.name)
        logger.info("dropped %s; its files are kept in %s", table, trash)
        return None

    def _create_schema(self, statement: Statement) -> Any:
        name = _schema_name(statement.expression, statement.location)
        (self.names.target.lake_root / name).mkdir(parents=True, exist_ok=True)
        self.session.execute_ddl(f"CREATE SCHEMA IF NOT EXISTS {quote(name)}")
        return None

    def _drop_schema(self, statement: Statement) -> Any:
        name = _schema_name(statement.expression, statement.location)
        folder = self.names.target.lake_root / name
        tables = [t for s, t, _ in delta.discover_tables(self.names.target.lake_root) if s == name]
        if tables and not statement.expression.args.get("cascade"):
            raise SqlError(
                f"schema {name} is not empty ({len(tables)} tables)",
                location=statement.location,
                hint="drop its tables first, or use DROP SCHEMA ... CASCADE",
            )
        for table in tables:
            self._drop_table(
                Statement(
                    expression=exp.Drop(this=exp.to_table(f"{name}.{table}"), kind="TABLE"),
                    sql=f"DROP TABLE {name}.{table}",
                    location=statement.location,
                )
            )
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # only ever an empty schema folder: dropped tables wait in the lake's .trash
        return None

    def _use(self, statement: Statement) -> Any:
        expression = statement.expression
        kind = str(expression.args.get("kind") or "").upper()
        name = expression.this.name if expression.this is not None else ""
        if kind == "CATALOG":
            self.names.resolve(TableName(catalog=name, schema="x", name="x"))
            return None
        parts = [part.name for part in expression.this.parts] if isinstance(expression.this, exp.Table) else [name]
        if len(parts) == 2:
            self.names.resolve(TableName(catalog=parts[0], schema=parts[1], name="x"))
        self.names.current_schema = parts[-1].lower()
        return None

    def _describe(self, statement: Statement) -> Any:
        expression = statement.expression
        table_node = expression.this
        name = TableName(catalog=table_node.catalog or None, schema=table_node.db or None, name=table_node.name)
        table = self.names.resolve(name)
        self.session.ensure_readable(table)
        assert table.schema is not None
        path = self.names.table_path(table.schema, table.name)
        if "HISTORY" in statement.sql.upper().split()[:3]:
            history = [(h.version, h.timestamp_ms, h.operation) for h in delta.table_history(path, name=str(table))]
            return self.session.spark.createDataFrame(history, "version long, timestamp_ms long, operation string")
        snapshot = delta.open_snapshot(path, name=str(table))
        rows = [(c.name, c.delta_type, None) for c in snapshot.columns]
        return self.session.spark.createDataFrame(rows, "col_name string, data_type string, comment string")

    def _show_tables(self, statement: Statement) -> Any:
        match = _SHOW_TABLES_IN.search(statement.sql)
        schema = (match["schema"] if match else self.names.current_schema).lower()
        rows = [(s, t, False) for s, t, _ in delta.discover_tables(self.names.target.lake_root) if s == schema]
        return self.session.spark.createDataFrame(rows, "database string, tableName string, isTemporary boolean")

    def _ignored(self, statement: Statement) -> Any:
        logger.info("%s: skipped on the DuckDB engine: %s", statement.location, _abbreviate(statement.sql))
        return None

    def _table_options(self, statement: Statement) -> Any:
        options = table_options(statement.expression)
        if options.location:
            raise SqlError(
                "LOCATION is not supported: lockgate places each environment's tables in its lake",
                location=statement.location,
                hint="remove the LOCATION clause",
            )
        if options.format and options.format.lower() not in {"delta"}:
            logger.warning("%s: USING %s ignored; lake tables are Delta tables", statement.location, options.format)
        return options

    def _affected(self, rows: int) -> LazyDataFrame:
        return LazyDataFrame(lambda: self._affected_frame(rows), affected_rows=rows)

    def _affected_frame(self, rows: int) -> Any:
        count = exp.cast(exp.Literal.number(rows), "BIGINT")
        return self.session.spark.sql_as_dataframe(
            exp.select(exp.alias_(count, "num_affected_rows"), exp.alias_(count.copy(), "num_inserted_rows"))
        )


def _insert_columns(expression: exp.Expr) -> list[str] | None:
    target = expression.this
    if isinstance(target, exp.Schema):
        return [column.name.lower() for column in target.expressions]
    return None


def _alias_target(expression: exp.Expr) -> exp.Expr:
    """Give the written table an alias equal to its name, so `t.col` still resolves after renaming."""
    expression = expression.copy()
    target = expression.this
    if isinstance(target, exp.Table) and not target.alias:
        target.set("alias", exp.TableAlias(this=exp.to_identifier(target.name)))
    return expression


def _schema_name(expression: exp.Expr, location: SourceLocation) -> str:
    """The schema a CREATE/DROP SCHEMA names (sqlglot keeps DROP's under `tables`)."""
    tables = expression.args.get("tables") or []
    node = expression.this if expression.this is not None else (tables[0] if tables else None)
    name = (node.name or node.db) if isinstance(node, exp.Table) else (node.name if node is not None else "")
    if not _SCHEMA_NAME.match(name or ""):
        raise SqlError(f"{name!r} is not a schema name", location=location, hint="use letters, digits and '_'")
    return str(name).lower()


_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHOW_TABLES_IN = re.compile(r"\bSHOW\s+TABLES\s+(?:IN|FROM)\s+`?(?P<schema>\w+)`?", re.IGNORECASE)


def _abbreviate(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 80 else text[:77] + "..."
