"""Statement helpers both engines share: reading a statement's parts, and lake folder operations (DDL).

A dropped table's folder moves to the lake's `.trash/`, so it can be recovered; a schema is a folder of the lake.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path
from typing import Any

from sqlglot import exp

from lockgate.engine import delta
from lockgate.engine.sql import Statement, TableName, TableOptions, table_options
from lockgate.engine.table_name import TableResolver
from lockgate.errors import SourceLocation, SqlError

logger = logging.getLogger(__name__)


def move_table_to_trash(lake_root: Path, table: TableName) -> Path:
    """Move a table's folder to the lake's `.trash/`; returns where it went."""
    assert table.schema is not None
    trash = lake_root / ".trash" / f"{table.schema}.{table.name}.{int(time.time() * 1000)}"
    trash.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(lake_root / table.schema / table.name), str(trash))
    logger.info("dropped %s; its files are kept in %s", table, trash)
    return trash


def schema_tables(lake_root: Path, schema: str) -> list[str]:
    """The tables of ``schema`` in the lake."""
    return [t for s, t, _ in delta.discover_tables(lake_root) if s == schema]


def remove_empty_schema_folder(lake_root: Path, schema: str) -> None:
    folder = lake_root / schema
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()  # only ever an empty schema folder: dropped tables wait in the lake's .trash


SHOW_TABLES_COLUMNS = "database string, tableName string, isTemporary boolean"
DESCRIBE_COLUMNS = "col_name string, data_type string, comment string"
HISTORY_COLUMNS = "version long, timestamp_ms long, operation string"


def show_tables_rows(lake_root: Path, sql: str, current_schema: str) -> list[tuple[str, str, bool]]:
    """The rows of `SHOW TABLES [IN schema]` (:data:`SHOW_TABLES_COLUMNS`)."""
    match = SHOW_TABLES_IN.search(sql)
    schema = (match["schema"] if match else current_schema).lower()
    return [(schema, table, False) for table in schema_tables(lake_root, schema)]


def describe_rows(path: Path, table: TableName, sql: str) -> tuple[list[tuple[Any, ...]], str]:
    """The rows of `DESCRIBE [HISTORY] table` and their columns (:data:`HISTORY_COLUMNS` or
    :data:`DESCRIBE_COLUMNS`)."""
    if "HISTORY" in sql.upper().split()[:3]:
        history = [(h.version, h.timestamp_ms, h.operation) for h in delta.table_history(path, name=str(table))]
        return history, HISTORY_COLUMNS
    snapshot = delta.open_snapshot(path, name=str(table))
    return [(c.name, c.delta_type, None) for c in snapshot.columns], DESCRIBE_COLUMNS


def schema_to_drop(lake_root: Path, statement: Statement) -> tuple[str, list[str]]:
    """`DROP SCHEMA`'s schema and the tables to drop with it (refused unless empty or CASCADE)."""
    name = schema_name(statement.expression, statement.location)
    tables = schema_tables(lake_root, name)
    if tables and not statement.expression.args.get("cascade"):
        raise SqlError(
            f"schema {name} is not empty ({len(tables)} tables)",
            location=statement.location,
            hint="drop its tables first, or use DROP SCHEMA ... CASCADE",
        )
    return name, tables


def checked_table_options(statement: Statement) -> TableOptions:
    """A `CREATE`'s options; `LOCATION` is refused (each environment's tables live in its lake)."""
    options = table_options(statement.expression)
    if options.location:
        raise SqlError(
            "LOCATION is not supported: lockgate places each environment's tables in its lake",
            location=statement.location,
            hint="remove the LOCATION clause",
        )
    return options


def lake_table_options(statement: Statement) -> TableOptions:
    """:func:`checked_table_options`, warning that a `USING` other than Delta is ignored."""
    options = checked_table_options(statement)
    if options.format and options.format.lower() != "delta":
        logger.warning("%s: USING %s ignored; lake tables are Delta tables", statement.location, options.format)
    return options


def apply_use(names: TableResolver, expression: exp.Expr) -> None:
    """`USE [CATALOG] name` / `USE catalog.schema`: check the catalog, switch the current schema."""
    kind = str(expression.args.get("kind") or "").upper()
    name = expression.this.name if expression.this is not None else ""
    if kind == "CATALOG":
        names.resolve(TableName(catalog=name, schema="x", name="x"))
        return
    parts = [part.name for part in expression.this.parts] if isinstance(expression.this, exp.Table) else [name]
    if len(parts) == 2:
        names.resolve(TableName(catalog=parts[0], schema=parts[1], name="x"))
    names.current_schema = parts[-1].lower()


def insert_columns(expression: exp.Expr) -> list[str] | None:
    target = expression.this
    if isinstance(target, exp.Schema):
        return [column.name.lower() for column in target.expressions]
    return None


def alias_target(expression: exp.Expr) -> exp.Expr:
    """Give the written table an alias equal to its name, so `t.col` still resolves after renaming."""
    expression = expression.copy()
    target = expression.this
    if isinstance(target, exp.Table) and not target.alias:
        target.set("alias", exp.TableAlias(this=exp.to_identifier(target.name)))
    return expression


def schema_name(expression: exp.Expr, location: SourceLocation) -> str:
    """The schema a CREATE/DROP SCHEMA names (sqlglot keeps DROP's under `tables`)."""
    tables = expression.args.get("tables") or []
    node = expression.this if expression.this is not None else (tables[0] if tables else None)
    name = (node.name or node.db) if isinstance(node, exp.Table) else (node.name if node is not None else "")
    if not SCHEMA_NAME.match(name or ""):
        raise SqlError(f"{name!r} is not a schema name", location=location, hint="use letters, digits and '_'")
    return str(name).lower()


SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SHOW_TABLES_IN = re.compile(r"\bSHOW\s+TABLES\s+(?:IN|FROM)\s+`?(?P<schema>\w+)`?", re.IGNORECASE)


def abbreviate(sql: str) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= 80 else text[:77] + "..."
