"""Spark SQL as written for Databricks, read with sqlglot: statements, what they do and the tables they name.

Owns: splitting SQL text into located statements, classifying statements, finding and rewriting table names, and
Delta table options. It maps sqlglot's ``ParseError`` and ``TokenError`` to ``SqlError``. Parameters in the text
(``${name}``, ``CREATE WIDGET``) are :mod:`lockgate.engine.sql_parameters`; turning a statement into DuckDB SQL is
:mod:`lockgate.engine.sql_translate`.

Rules:

* Pure: no database access; functions never mutate the expression they are given (rewrites return copies).
* Statements sqlglot cannot parse, or misparses (``OPTIMIZE``, ``VACUUM``, ``SHOW``, ``CREATE WIDGET``, ...), are
  kept whole as ``exp.Command``; :func:`classify` still says what they are.
* Locations are 1-based and point into the user's file: ``split_statements(..., line=cell.line)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from lockgate.errors import SourceLocation, SqlError

READ_DIALECT = "spark"
"""The sqlglot dialect notebook and ``.sql`` files are read with."""

_SPARK = Dialect.get_or_raise(READ_DIALECT)
_HINT_SYNTAX = "lockgate reads Spark SQL as Databricks runs it; check the statement's syntax"


class StatementKind(StrEnum):
    """What a statement does, as far as the engine needs to know."""

    QUERY = "query"
    CREATE_TABLE_AS = "create_table_as"
    CREATE_TABLE = "create_table"
    INSERT = "insert"
    CREATE_VIEW = "create_view"
    DROP_TABLE = "drop_table"
    DROP_VIEW = "drop_view"
    DELETE = "delete"
    UPDATE = "update"
    MERGE = "merge"
    TRUNCATE = "truncate"
    CREATE_SCHEMA = "create_schema"
    DROP_SCHEMA = "drop_schema"
    USE = "use"
    DESCRIBE = "describe"
    SHOW_TABLES = "show_tables"
    SET = "set"
    OPTIMIZE_OR_VACUUM = "optimize_or_vacuum"
    CREATE_WIDGET = "create_widget"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class TableName:
    """A possibly qualified table name ``catalog.schema.name``, parts as written (not case-folded)."""

    catalog: str | None
    """The Unity Catalog catalog (``main``); ``None`` when not written."""
    schema: str | None
    """The schema, also called database (``silver``); ``None`` when not written."""
    name: str
    """The table or view name."""

    def __str__(self) -> str:
        return ".".join(part for part in (self.catalog, self.schema, self.name) if part)

    @classmethod
    def parse(cls, text: str) -> TableName:
        """Read a dotted name such as ``main.silver.patients`` (backticks allowed).

        Raises:
            SqlError: ``text`` is not a table name.
        """
        try:
            return cls.of(exp.to_table(text, dialect=READ_DIALECT))
        except (ParseError, TokenError) as exc:
            raise SqlError(f"not a table name: {text!r}", hint="write catalog.schema.table") from exc

    @classmethod
    def of(cls, table: exp.Table) -> TableName:
        """The name a sqlglot table node carries (parts as written)."""
        return cls(table.catalog or None, table.db or None, table.name)


@dataclass(frozen=True, slots=True)
class Statement:
    """One parsed SQL statement with its original text and where it starts in the user's file."""

    expression: exp.Expr
    """The sqlglot syntax tree (Spark dialect)."""
    sql: str
    """The statement's text as written, without the terminating semicolon."""
    location: SourceLocation
    """The file and the 1-based line where the statement starts."""

    @property
    def kind(self) -> StatementKind:
        """The statement's :class:`StatementKind`."""
        return classify(self.expression)


@dataclass(frozen=True, slots=True)
class TableOptions:
    """The Delta/Databricks clauses of a ``CREATE`` that DuckDB has no use for, kept for the engine."""

    format: str | None = None
    """``USING <format>`` in lower case (``delta``, ``parquet``); ``None`` when not written (Delta)."""
    partitioned_by: tuple[str, ...] = ()
    """``PARTITIONED BY`` columns."""
    clustered_by: tuple[str, ...] = ()
    """``CLUSTER BY`` (liquid clustering) columns."""
    location: str | None = None
    """``LOCATION`` path (an external table)."""
    properties: dict[str, str] = field(default_factory=dict)
    """``TBLPROPERTIES`` as text."""
    comment: str | None = None
    """The table ``COMMENT``."""


# --- splitting ----------------------------------------------------------------------------------------------

_COMMAND_WORDS = frozenset({"OPTIMIZE", "VACUUM", "SHOW", "MSCK", "FSCK", "CLEAR", "RESET", "REORG"})
"""First words of statements sqlglot cannot parse (or misparses): kept as ``exp.Command`` (no warning)."""


def split_statements(sql: str, *, file: str, line: int = 1, column_offset: int = 0) -> list[Statement]:
    """Split SQL text into parsed statements, each located in the user's file.

    Args:
        sql: One or more ``;``-separated Spark SQL statements (comments and a trailing ``;`` allowed).
        file: The file the SQL comes from, for locations.
        line: The file line where ``sql`` starts (``Cell.line`` for a notebook cell).
        column_offset: Characters before the SQL on each file line (``Cell.column_offset``).

    Returns:
        The statements in order; ``[]`` for empty or comment-only text.

    Raises:
        SqlError: The text does not tokenize or parse, located at the error.
    """
    try:
        tokens = _SPARK.tokenize(sql)
    except TokenError as exc:
        raise _shifted(_token_error(exc, sql, file, line), column_offset) from exc
    statements = []
    for chunk in _chunks(tokens):
        text = sql[chunk[0].start : chunk[-1].end + 1]
        try:
            expression = _parse_chunk(chunk, sql, text, file=file, line=line)
        except SqlError as exc:
            raise _shifted(exc, column_offset) from exc.__cause__
        statements.append(Statement(expression, text, SourceLocation(file, line + chunk[0].line - 1)))
    return statements


def _chunks(tokens: list[Token]) -> Iterator[list[Token]]:
    chunk: list[Token] = []
    for token in [*tokens, None]:
        if token is None or token.token_type == TokenType.SEMICOLON:
            if chunk:
                yield chunk
            chunk = []
        else:
            chunk.append(token)


def _parse_chunk(chunk: list[Token], sql: str, text: str, *, file: str, line: int) -> exp.Expr:
    first = chunk[0].text.upper().split()[0]  # some keywords are one token of two words: MSCK REPAIR
    second = chunk[1].text.upper() if len(chunk) > 1 else ""
    if first in _COMMAND_WORDS or (first in ("CREATE", "REMOVE") and second == "WIDGET"):
        word = text[: len(chunk[0].text)]
        return exp.Command(this=word.upper(), expression=exp.Literal.string(text[len(word) :].strip()))
    try:
        parsed = _SPARK.parser(error_level=ErrorLevel.IMMEDIATE).parse(chunk, sql)
    except ParseError as exc:
        raise _parse_error(exc, file, line) from exc
    return next(node for node in parsed if node is not None)


def _shifted(error: SqlError, column_offset: int) -> SqlError:
    location = error.location
    if column_offset and location is not None and location.col is not None:
        error.location = SourceLocation(location.file, location.line, location.col + column_offset)
    return error


def text_position(sql: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    return sql.count("\n", 0, offset) + 1, offset - sql.rfind("\n", 0, offset)


def _parse_error(exc: ParseError, file: str, line: int) -> SqlError:
    error = exc.errors[0] if exc.errors else {}
    err_line, col, highlight = error.get("line"), error.get("col"), error.get("highlight") or ""
    if isinstance(col, int) and highlight and "\n" not in highlight:
        col = max(col - len(highlight) + 1, 1)  # sqlglot points at the token's end; users want its start
    location = SourceLocation(file, line + err_line - 1 if isinstance(err_line, int) else None, col)
    message = error.get("description") or str(exc).split("\n", 1)[0]
    message = re.sub(r"<Token token_type: [\w.]+, text: (.*?), line: .*?>", r"'\1'", message)
    near = f" near {highlight!r}" if highlight else ""
    return SqlError(f"cannot parse SQL{near}: {message}", hint=_HINT_SYNTAX, location=location)


def _token_error(exc: TokenError, sql: str, file: str, line: int) -> SqlError:
    # The tokenizer's own message ("Missing ' from 3:41": line, then offset) is on the chained cause.
    cause = str(exc.__cause__ or exc)
    match = re.search(r"Missing (.+) from \d+:(\d+)", cause)
    if match is None:
        return SqlError(f"cannot read SQL: {cause}", hint=_HINT_SYNTAX, location=SourceLocation(file, line))
    err_line, col = text_position(sql, int(match[2]))
    return SqlError(
        f"cannot read SQL: unterminated {match[1]}",
        hint=f"close the {match[1]} that starts here",
        location=SourceLocation(file, line + err_line - 1, col),
    )


# --- classification -----------------------------------------------------------------------------------------

_MAINTENANCE_COMMANDS = frozenset({"OPTIMIZE", "VACUUM", "MSCK", "FSCK", "CLEAR", "REORG"})
_KINDS: dict[type[exp.Expr], StatementKind] = {
    exp.Query: StatementKind.QUERY,
    exp.Values: StatementKind.QUERY,
    exp.Insert: StatementKind.INSERT,
    exp.Merge: StatementKind.MERGE,
    exp.Delete: StatementKind.DELETE,
    exp.Update: StatementKind.UPDATE,
    exp.TruncateTable: StatementKind.TRUNCATE,
    exp.Use: StatementKind.USE,
    exp.Describe: StatementKind.DESCRIBE,
    exp.Set: StatementKind.SET,
    exp.Analyze: StatementKind.OPTIMIZE_OR_VACUUM,
    exp.Refresh: StatementKind.OPTIMIZE_OR_VACUUM,
    exp.Cache: StatementKind.OPTIMIZE_OR_VACUUM,
    exp.Uncache: StatementKind.OPTIMIZE_OR_VACUUM,
}
_DDL_KINDS: dict[tuple[type[exp.Expr], str], StatementKind] = {
    (exp.Create, "VIEW"): StatementKind.CREATE_VIEW,
    (exp.Create, "SCHEMA"): StatementKind.CREATE_SCHEMA,
    (exp.Create, "DATABASE"): StatementKind.CREATE_SCHEMA,
    (exp.Drop, "TABLE"): StatementKind.DROP_TABLE,
    (exp.Drop, "VIEW"): StatementKind.DROP_VIEW,
    (exp.Drop, "SCHEMA"): StatementKind.DROP_SCHEMA,
    (exp.Drop, "DATABASE"): StatementKind.DROP_SCHEMA,
}


def classify(expression: exp.Expr) -> StatementKind:
    """Say what a statement does.

    ``OPTIMIZE``/``ZORDER``, ``VACUUM``, ``ANALYZE``, ``REFRESH``, ``CACHE``/``UNCACHE``, ``MSCK``/``FSCK``
    ``REPAIR``, ``REORG`` and ``CLEAR CACHE`` are ``OPTIMIZE_OR_VACUUM``: maintenance the engine may skip.
    """
    kind = next((kind for node_type, kind in _KINDS.items() if isinstance(expression, node_type)), None)
    if kind is not None:
        return kind
    if isinstance(expression, exp.Create) and object_kind(expression) == "TABLE":
        has_query = source_query(expression) is not None
        return StatementKind.CREATE_TABLE_AS if has_query else StatementKind.CREATE_TABLE
    if isinstance(expression, exp.Command):
        word, rest = command_parts(expression)
        following = rest.split(None, 1)[0].upper() if rest else ""
        if word.split(" ", 1)[0] in _MAINTENANCE_COMMANDS:
            return StatementKind.OPTIMIZE_OR_VACUUM
        if word == "SHOW" and following == "TABLES":
            return StatementKind.SHOW_TABLES
        if word == "CREATE" and following == "WIDGET":
            return StatementKind.CREATE_WIDGET
    return _DDL_KINDS.get((type(expression), object_kind(expression)), StatementKind.OTHER)


def object_kind(expression: exp.Expr) -> str:
    """What a ``CREATE``, ``DROP`` or ``USE`` names (``TABLE``, ``VIEW``, ``SCHEMA``, ``DATABASE``, ``CATALOG``,
    ...), upper-case; ``""`` when the statement names no kind."""
    return str(expression.args.get("kind") or "").upper()


def command_parts(expression: exp.Command) -> tuple[str, str]:
    """A statement kept whole (see :func:`split_statements`): its first word(s) upper-case, and the rest."""
    this, rest = expression.args.get("this"), expression.args.get("expression")
    rest_text = rest.name if isinstance(rest, exp.Literal) else str(rest or "")
    return str(this or "").strip().upper(), rest_text.strip()


def is_overwrite(expression: exp.Expr) -> bool:
    """Whether the statement is an ``INSERT OVERWRITE``."""
    return isinstance(expression, exp.Insert) and bool(expression.args.get("overwrite"))


def is_partition_insert(expression: exp.Expr) -> bool:
    """Whether the statement is an ``INSERT INTO t PARTITION (...)``."""
    target = _target_node(expression) if isinstance(expression, exp.Insert) else None
    return target is not None and bool(target.args.get("partition"))


def source_query(expression: exp.Expr) -> exp.Expr | None:
    """The query (``SELECT``/``VALUES``) whose rows a ``CREATE TABLE AS`` or ``INSERT`` writes, if any."""
    query = expression.args.get("expression") if isinstance(expression, exp.Create | exp.Insert) else None
    return query if isinstance(query, exp.Query | exp.Values) else None


# --- table names --------------------------------------------------------------------------------------------


def _target_node(expression: exp.Expr) -> exp.Table | None:
    node: object = None
    if isinstance(expression, exp.Insert | exp.Merge | exp.Update | exp.Delete | exp.Alter):
        node = expression.this
    elif isinstance(expression, exp.Create | exp.Drop) and object_kind(expression) in ("TABLE", "VIEW"):
        node = (expression.args.get("tables") or [expression.this])[0]
    elif isinstance(expression, exp.TruncateTable):
        node = (expression.expressions or [None])[0]
    node = node.this if isinstance(node, exp.Schema) else node
    return node if isinstance(node, exp.Table) else None


def _real_tables(expression: exp.Expr) -> Iterator[exp.Table]:
    """Every table node naming a real table (targets included): no CTEs, table functions or schemas."""
    if isinstance(expression, exp.Use | exp.Command) or classify(expression) in (
        StatementKind.CREATE_SCHEMA,
        StatementKind.DROP_SCHEMA,
    ):
        return
    is_other_create = isinstance(expression, exp.Create) and object_kind(expression) not in ("TABLE", "VIEW")
    skip = expression.this if is_other_create else None  # CREATE FUNCTION f: f is no table
    for table in expression.find_all(exp.Table):
        named = isinstance(table.this, exp.Identifier) and bool(table.name)
        in_hint = isinstance(table.parent, exp.JoinHint)  # /*+ BROADCAST(a) */ names an alias, not a table
        if table is not skip and named and not in_hint and not _is_cte_reference(table):
            yield table


def _is_cte_reference(table: exp.Table) -> bool:
    if table.args.get("db") or table.args.get("catalog"):
        return False
    child: exp.Expr = table
    node = table.parent
    while node is not None:
        if isinstance(node, exp.With):
            # Inside a CTE body only the CTEs defined before it are visible (all of them when RECURSIVE).
            position = next((i for i, cte in enumerate(node.expressions) if cte is child), None)
            visible = node.expressions if node.args.get("recursive") else node.expressions[:position]
        else:
            with_ = node.args.get("with_")
            visible = with_.expressions if isinstance(with_, exp.With) and with_ is not child else []
        if any(cte.alias_or_name.lower() == table.name.lower() for cte in visible):
            return True
        child, node = node, node.parent
    return False


def table_references(expression: exp.Expr) -> list[TableName]:
    """The tables a statement reads, in order of appearance, without duplicates.

    CTE names, table functions (``range(10)``) and the statement's own target (see :func:`target_table`)
    are left out. Path tables such as ``delta.`/data/x``` give ``TableName(None, "delta", "/data/x")``.
    """
    target = _target_node(expression)
    names = [TableName.of(table) for table in _real_tables(expression) if table is not target]
    return list(dict.fromkeys(names))


def target_table(expression: exp.Expr) -> TableName | None:
    """The table or view a statement writes, creates, alters, truncates or drops; ``None`` for reads."""
    node = _target_node(expression)
    return TableName.of(node) if node is not None else None


def rewrite_tables(expression: exp.Expr, resolve: Callable[[TableName], TableName]) -> exp.Expr:
    """Return a copy with every table name (targets included, CTE names not) replaced by ``resolve(name)``.

    Columns qualified with a table's schema (``silver.patients.id``) follow the rename.
    """
    copy = expression.copy()
    renamed: dict[TableName, TableName] = {}
    for table in list(_real_tables(copy)):
        renamed[TableName.of(table)] = new = resolve(TableName.of(table))
        _set_parts(table, new)
    for column in list(copy.find_all(exp.Column)):
        if column.args.get("db"):
            parts = [column.text(key).lower() for key in ("catalog", "db", "table") if column.text(key)]
            found = [new for old, new in renamed.items() if _parts(old)[-len(parts) :] == parts]
            if found:
                _set_parts(column, found[0], name_key="table")
    return copy


def _parts(name: TableName) -> list[str]:
    return [part.lower() for part in (name.catalog, name.schema, name.name) if part]


def _set_parts(node: exp.Expr, name: TableName, *, name_key: str = "this") -> None:
    for key, value in ((name_key, name.name), ("db", name.schema), ("catalog", name.catalog)):
        current = node.args.get(key)
        if value is None:
            node.set(key, None)
        elif not (isinstance(current, exp.Identifier) and current.name == value):
            node.set(key, exp.to_identifier(value))


# --- table options ------------------------------------------------------------------------------------------


def table_options(expression: exp.Expr) -> TableOptions:
    """The ``USING``, ``PARTITIONED BY``, ``CLUSTER BY``, ``LOCATION``, ``TBLPROPERTIES`` and ``COMMENT``
    clauses of a ``CREATE`` (empty options for any other statement)."""
    properties = expression.args.get("properties") if isinstance(expression, exp.Create) else None
    found: dict[str, str] = {}
    columns: dict[str, tuple[str, ...]] = {}
    tblproperties: dict[str, str] = {}
    for prop in properties.expressions if isinstance(properties, exp.Properties) else []:
        if isinstance(prop, exp.FileFormatProperty):
            found["format"] = prop.name.lower()
        elif isinstance(prop, exp.LocationProperty | exp.SchemaCommentProperty):
            found["location" if isinstance(prop, exp.LocationProperty) else "comment"] = prop.name
        elif isinstance(prop, exp.PartitionedByProperty):
            items = prop.this.expressions if isinstance(prop.this, exp.Schema) else [prop.this]
            columns["partitioned_by"] = tuple(item.name for item in items)
        elif isinstance(prop, exp.ClusterProperty):
            columns["clustered_by"] = tuple(item.name for item in prop.expressions)
        elif type(prop) is exp.Property:
            key, value = prop.this, prop.args.get("value")
            key_text = key.name if isinstance(key, exp.Literal) else key.sql(dialect=READ_DIALECT)
            tblproperties[key_text] = value.name if isinstance(value, exp.Literal) else str(value)
    return TableOptions(
        format=found.get("format"),
        partitioned_by=columns.get("partitioned_by", ()),
        clustered_by=columns.get("clustered_by", ()),
        location=found.get("location"),
        properties=tblproperties,
        comment=found.get("comment"),
    )
