"""Spark SQL statements on the Spark engine, one method per statement kind.

Spark runs every query itself: lockgate only renames the lake tables a statement names to temp views of their
current versions, then hands Spark the statement as written (regenerated in the Spark dialect). Statements that
change tables compute the new rows with Spark and commit them as one Delta version through the session:
`CREATE TABLE [AS SELECT]`, `INSERT INTO/OVERWRITE`, and `DELETE`, `UPDATE`, `MERGE INTO` and `TRUNCATE`, which
Spark only runs on tables of a Delta connector; here they become a query computing the table's new rows (the
whole table is rewritten, as the embedded engine does). Views of this run live in Spark's session catalog.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from lockgate.engine.base import LazyDataFrame
from lockgate.engine.delta import WriteMode
from lockgate.engine.lake_statements import (
    SHOW_TABLES_COLUMNS,
    abbreviate,
    alias_target,
    apply_use,
    describe_rows,
    insert_columns,
    lake_table_options,
    move_table_to_trash,
    remove_empty_schema_folder,
    schema_name,
    schema_to_drop,
    show_tables_rows,
)
from lockgate.engine.spark_merge import merge_select
from lockgate.engine.sql import (
    Statement,
    StatementKind,
    TableName,
    classify,
    is_overwrite,
    is_partition_insert,
    rewrite_tables,
    target_table,
)
from lockgate.engine.table_name import TableResolver, unknown_table_error
from lockgate.errors import SqlError

if TYPE_CHECKING:
    from lockgate.engine.spark import SparkLakeSession

logger = logging.getLogger(__name__)

DIALECT = "spark"


class SparkStatementRunner:
    """Runs parsed Spark SQL statements against a :class:`SparkLakeSession`."""

    def __init__(self, session: SparkLakeSession):
        self.session = session
        self.names: TableResolver = session.names
        self._views: dict[tuple[str, str], str] = {}
        """Views made by `CREATE VIEW schema.name` in this run, to the Spark temp view holding each."""
        self._handlers: dict[StatementKind, Callable[[Statement], Any]] = {
            StatementKind.QUERY: self._query,
            StatementKind.CREATE_TABLE_AS: self._create_table_as,
            StatementKind.CREATE_TABLE: self._create_table,
            StatementKind.INSERT: self._insert,
            StatementKind.CREATE_VIEW: self._create_view,
            StatementKind.DROP_TABLE: self._drop_table,
            StatementKind.DROP_VIEW: self._drop_view,
            StatementKind.DELETE: self._delete,
            StatementKind.UPDATE: self._update,
            StatementKind.MERGE: self._merge,
            StatementKind.TRUNCATE: self._truncate,
            StatementKind.CREATE_SCHEMA: self._create_schema,
            StatementKind.DROP_SCHEMA: self._drop_schema,
            StatementKind.USE: self._use,
            StatementKind.DESCRIBE: self._describe,
            StatementKind.SHOW_TABLES: self._show_tables,
            StatementKind.SET: self._set,
            StatementKind.OPTIMIZE_OR_VACUUM: self._ignored,
        }

    def run(self, statement: Statement) -> Any:
        handler = self._handlers.get(classify(statement.expression))
        if handler is None:
            raise SqlError(
                f"this statement is not supported by lockgate's Spark engine: {abbreviate(statement.sql)}",
                location=statement.location,
                hint="rewrite it, or ask for it in an issue",
            )
        return handler(statement)

    # -- names ------------------------------------------------------------------------------------------------

    def session_view(self, name: TableName) -> str | None:
        """The Spark view a name means in this run: a `CREATE VIEW` of this run, or a DataFrame's temp view."""
        if name.catalog is None:
            schema = (name.schema or "").lower()
            view = self._views.get((schema or self.names.current_schema, name.name.lower()))
            if view is not None:
                return view
            if not schema and self.session.is_temp_view(name.name):
                return name.name
        return None

    def resolve_for_read(self, name: TableName) -> TableName:
        """A table name as Spark must see it: a lake table becomes a temp view of its current version."""
        view = self.session_view(name)
        if view is not None:
            return TableName(catalog=None, schema=None, name=view)
        if TableResolver.is_system(name):
            return name
        return TableName(catalog=None, schema=None, name=self.session.view_of(self.names.resolve(name)))

    def _spark_sql(self, expression: exp.Expr, resolve: Callable[[TableName], TableName] | None = None) -> str:
        return rewrite_tables(expression, resolve or self.resolve_for_read).sql(dialect=DIALECT)

    def _frame(self, expression: exp.Expr) -> Any:
        return self.session.real.sql(self._spark_sql(expression))

    def _target(self, statement: Statement) -> TableName:
        name = target_table(statement.expression)
        if name is None:
            raise SqlError("cannot tell which table this statement writes", location=statement.location)
        return self.names.resolve(name)

    # -- queries and writes -----------------------------------------------------------------------------------

    def _query(self, statement: Statement) -> Any:
        return self._frame(statement.expression)

    def _create_table_as(self, statement: Statement) -> Any:
        expression = statement.expression
        table = self._target(statement)
        options = lake_table_options(statement)
        mode = _create_mode(expression)
        rows = self.session.write_table(
            self._frame(expression.expression),
            table,
            mode=mode,
            partition_by=options.partitioned_by,
            operation="CREATE OR REPLACE TABLE AS SELECT" if mode == "overwrite" else "CREATE TABLE AS SELECT",
        )
        return self._affected(rows)

    def _create_table(self, statement: Statement) -> Any:
        table = self._target(statement)
        options = lake_table_options(statement)
        schema_node = statement.expression.this
        if not isinstance(schema_node, exp.Schema) or not schema_node.expressions:
            raise SqlError("CREATE TABLE needs a column list or AS SELECT", location=statement.location)
        columns = ", ".join(column.sql(dialect=DIALECT) for column in schema_node.expressions)
        empty = self.session.real.createDataFrame([], columns)
        mode = _create_mode(statement.expression)
        self.session.write_table(empty, table, mode=mode, partition_by=options.partitioned_by, operation="CREATE TABLE")
        return None

    def _insert(self, statement: Statement) -> Any:
        expression = statement.expression
        if is_partition_insert(expression):
            raise SqlError(
                "INSERT ... PARTITION (...) is not supported on lockgate's Spark engine",
                location=statement.location,
                hint="filter the rows and use INSERT INTO, or replace the table's rows with a MERGE",
            )
        source = expression.expression
        if expression.args.get("with_") is not None:
            source = source.copy()
            source.set("with_", expression.args["with_"])
        rows = self.insert_frame(
            self._frame(source),
            self._target(statement),
            columns=insert_columns(expression),
            overwrite=is_overwrite(expression),
        )
        return self._affected(rows)

    def insert_frame(self, frame: Any, table: TableName, *, columns: list[str] | None, overwrite: bool) -> int:
        """Write ``frame``'s rows into ``table`` by position (Spark's `INSERT` rule), cast to the table's types;
        with ``columns``, into those columns, the others NULL. Returns the rows written."""
        snapshot = self.session.snapshot(table)
        targets = [c for c in snapshot.columns if columns is None or c.name.lower() in columns]
        if columns is not None:
            targets.sort(key=lambda c: columns.index(c.name.lower()))
        if len(frame.columns) != len(targets):
            raise SqlError(
                f"INSERT into {table} gives {len(frame.columns)} columns for {len(targets)}",
                hint="list the columns to insert, e.g. INSERT INTO t (a, b) SELECT ...",
            )
        positional = frame.toDF(*[f"_c{i}" for i in range(len(targets))])
        projection = [
            f"CAST(_c{targets.index(c)} AS {c.delta_type}) AS `{c.name}`"
            if c in targets
            else f"CAST(NULL AS {c.delta_type}) AS `{c.name}`"
            for c in snapshot.columns
        ]
        mode: WriteMode = "overwrite" if overwrite else "append"
        return self.session.write_table(
            positional.selectExpr(*projection),
            table,
            mode=mode,
            partition_by=snapshot.partition_columns,
            operation="INSERT OVERWRITE" if overwrite else "INSERT INTO",
        )

    def _delete(self, statement: Statement) -> Any:
        expression = alias_target(statement.expression)
        where = expression.args.get("where")
        keep = exp.false() if where is None else exp.not_(exp.func("COALESCE", where.this.copy(), exp.false()))
        return self._rewrite(statement, expression, [exp.Star()], keep, changed=None)

    def _update(self, statement: Statement) -> Any:
        expression = alias_target(statement.expression)
        where = expression.args.get("where")
        condition = exp.true() if where is None else exp.func("COALESCE", where.this.copy(), exp.false())
        assignments = {eq.this.name.lower(): eq.expression for eq in expression.expressions}
        table = self._target(statement)
        columns = self.session.snapshot(table).columns
        unknown = sorted(set(assignments) - {c.name.lower() for c in columns})
        if unknown:
            raise SqlError(
                f"UPDATE sets unknown column(s) of {table}: {', '.join(unknown)}", location=statement.location
            )
        projection: list[exp.Expr] = []
        for column in columns:
            value = assignments.get(column.name.lower())
            current = exp.column(column.name, table=expression.this.alias_or_name, quoted=True)
            if value is None:
                projection.append(current)
                continue
            updated = exp.If(this=condition.copy(), true=exp.cast(value.copy(), column.delta_type), false=current)
            projection.append(exp.alias_(updated, column.name, quoted=True))
        return self._rewrite(statement, expression, projection, exp.true(), changed=condition)

    def _truncate(self, statement: Statement) -> Any:
        table = self._target(statement)
        return self._rewrite(statement, exp.Delete(this=exp.to_table(str(table))), [exp.Star()], exp.false(), None)

    def _rewrite(
        self,
        statement: Statement,
        expression: exp.Expr,
        projection: list[exp.Expr],
        keep: exp.Expr,
        changed: exp.Expr | None,
    ) -> Any:
        """Replace a table's rows with ``SELECT projection FROM table WHERE keep``, as one new version.

        The affected rows are those dropped, or, with ``changed``, those matching it.
        """
        table = self._target(statement)
        snapshot = self.session.snapshot(table)
        source = exp.select(*projection).from_(expression.this.copy()).where(keep)
        frame = self._frame(source)
        before = 0
        if changed is None:
            before = (
                snapshot.num_rows
                if snapshot.num_rows is not None
                else self._frame(exp.select("*").from_(expression.this.copy())).count()
            )
        else:
            counted = self._frame(
                exp.select(exp.func("COUNT", exp.Star())).from_(expression.this.copy()).where(changed)
            )
            changed_rows = int(counted.collect()[0][0])
        rows = self.session.write_table(
            frame,
            table,
            mode="overwrite",
            partition_by=snapshot.partition_columns,
            operation=classify(statement.expression).value.upper(),
        )
        return self._affected(before - rows if changed is None else changed_rows)

    def _merge(self, statement: Statement) -> Any:
        table = self._target(statement)
        snapshot = self.session.snapshot(table)
        plan = merge_select(alias_target(statement.expression), snapshot.columns, location=statement.location)
        frame = self._frame(plan.select)
        counts = {row[0]: int(row[1]) for row in frame.groupBy(plan.action_column).count().collect()}
        self.session.write_table(
            frame.where(plan.kept).drop(plan.action_column),
            table,
            mode="overwrite",
            partition_by=snapshot.partition_columns,
            operation="MERGE",
        )
        return self._affected(sum(counts.get(action, 0) for action in plan.affecting))

    # -- DDL --------------------------------------------------------------------------------------------------

    def _create_view(self, statement: Statement) -> Any:
        expression = statement.expression
        name = target_table(expression)
        if name is None:
            raise SqlError("cannot tell the view's name", location=statement.location)
        schema = name.schema.lower() if name.schema else ""
        frame = self._frame(expression.expression)
        if not schema:
            frame.createOrReplaceTempView(name.name.lower())
            return None
        view = f"__lockgate_view_{schema}__{name.name.lower()}"
        frame.createOrReplaceTempView(view)
        self._views[(schema, name.name.lower())] = view
        logger.info("%s: view %s.%s lives for this run", statement.location, schema, name.name)
        return None

    def _drop_view(self, statement: Statement) -> Any:
        name = target_table(statement.expression)
        if name is not None:
            view = self._views.pop(((name.schema or "").lower(), name.name.lower()), None)
            self.session.real.catalog.dropTempView(view or name.name.lower())
        return None

    def _drop_table(self, statement: Statement) -> Any:
        table = self._target(statement)
        assert table.schema is not None
        if not self.session.names.table_path(table.schema, table.name).is_dir():
            if statement.expression.args.get("exists"):
                return None
            raise unknown_table_error(table, self.names)
        move_table_to_trash(self.names.target.lake_root, table)
        self.session.forget(table)
        return None

    def _create_schema(self, statement: Statement) -> Any:
        (self.names.target.lake_root / schema_name(statement.expression, statement.location)).mkdir(
            parents=True, exist_ok=True
        )
        return None

    def _drop_schema(self, statement: Statement) -> Any:
        name, tables = schema_to_drop(self.names.target.lake_root, statement)
        for table in tables:
            move_table_to_trash(self.names.target.lake_root, TableName(None, name, table))
            self.session.forget(TableName(None, name, table))
        remove_empty_schema_folder(self.names.target.lake_root, name)
        return None

    def _use(self, statement: Statement) -> Any:
        apply_use(self.names, statement.expression)
        return None

    def _describe(self, statement: Statement) -> Any:
        table = self.names.resolve(TableName.of(statement.expression.this))
        snapshot = self.session.snapshot(table)
        rows, columns = describe_rows(snapshot.path, table, statement.sql)
        return self.session.real.createDataFrame(rows, columns)

    def _show_tables(self, statement: Statement) -> Any:
        rows = show_tables_rows(self.names.target.lake_root, statement.sql, self.names.current_schema)
        return self.session.real.createDataFrame(rows, SHOW_TABLES_COLUMNS)

    def _set(self, statement: Statement) -> Any:
        return self.session.real.sql(statement.sql)

    def _ignored(self, statement: Statement) -> Any:
        logger.info("%s: skipped on lockgate's Spark engine: %s", statement.location, abbreviate(statement.sql))
        return None

    def _affected(self, rows: int) -> LazyDataFrame:
        return LazyDataFrame(
            lambda: self.session.real.createDataFrame(
                [(rows, rows)], "num_affected_rows bigint, num_inserted_rows bigint"
            ),
            affected_rows=rows,
        )


def _create_mode(expression: exp.Expr) -> WriteMode:
    if expression.args.get("exists"):
        return "ignore"
    return "overwrite" if expression.args.get("replace") else "error"
