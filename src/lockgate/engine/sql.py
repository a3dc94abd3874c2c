"""Spark SQL as written for Databricks, read with sqlglot and translated for DuckDB.

Owns: splitting SQL text into located statements, widget/parameter substitution, classifying statements,
finding and rewriting table names, Delta table options, and Spark -> DuckDB generation. It is the one place
that maps sqlglot errors (``ParseError``, ``TokenError``, ``UnsupportedError``) to ``SqlError``.

Rules:

* Pure: no database access; functions never mutate the expression they are given (rewrites return copies).
* Translation gives DuckDB SQL that means what the Spark SQL meant, or raises ``SqlError`` naming what could
  not be translated. Silent differences found in sqlglot's Spark -> DuckDB output are repaired before
  generation: OUTER explode, DATE-returning date functions, Spark date patterns with quoted text or fractions
  of seconds, ``trunc`` units, bare ``DECIMAL``, qualified ``SET`` targets in ``UPDATE``/``MERGE``, hints
  and ``iff``.
* Locations are 1-based and point into the user's file: ``split_statements(..., line=cell.line)``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.tokenizer_core import Token, TokenType

from lockgate.errors import SourceLocation, SqlError

READ_DIALECT = "spark"
"""The sqlglot dialect notebook and ``.sql`` files are read with."""

_SPARK = Dialect.get_or_raise(READ_DIALECT)
_HINT_SYNTAX = "lockgate reads Spark SQL as Databricks runs it; check the statement's syntax"
_HINT_TRANSLATE = "rewrite it with constructs DuckDB supports, or run the pipeline on the Spark engine"


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
            return _name_of(exp.to_table(text, dialect=READ_DIALECT))
        except (ParseError, TokenError) as exc:
            raise SqlError(f"not a table name: {text!r}", hint="write catalog.schema.table") from exc


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


@dataclass(frozen=True, slots=True)
class WidgetDefinition:
    """A SQL ``CREATE WIDGET`` statement: the parameter it declares and its default."""

    kind: str
    """``text``, ``dropdown``, ``combobox`` or ``multiselect``."""
    name: str
    default: str | None
    """The ``DEFAULT`` value, unquoted."""
    choices: str | None = None
    """The ``CHOICES`` clause as written (a query)."""


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


def _position(sql: str, offset: int) -> tuple[int, int]:
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
    err_line, col = _position(sql, int(match[2]))
    return SqlError(
        f"cannot read SQL: unterminated {match[1]}",
        hint=f"close the {match[1]} that starts here",
        location=SourceLocation(file, line + err_line - 1, col),
    )


# --- parameters ---------------------------------------------------------------------------------------------

_TEXT_PARAMETER = re.compile(r"\$\{(?P<dollar>[A-Za-z_][\w.]*)\}|\{\{\s*(?P<braces>[A-Za-z_][\w.]*)\s*\}\}")
_MARKER = re.compile(r"(?<![\w)\]}`:.\"'$]):(?P<name>[A-Za-z_]\w*)")
_LITERAL = re.compile(r"--[^\n]*|/\*.*?(?:\*/|$)|'(?:\\.|[^'\\])*'?|\"(?:\\.|[^\"\\])*\"?|`[^`]*`?", re.DOTALL)


def substitute_parameters(sql: str, values: Mapping[str, str], *, file: str | None = None, line: int = 1) -> str:
    """Replace Databricks widget and parameter references by their values.

    ``${name}`` and ``{{name}}`` become the raw text everywhere, as in Databricks (so ``'${d}'`` and
    ``${schema}.table`` both work). Named parameter markers ``:name`` become a SQL string literal, only
    outside string literals, quoted identifiers and comments (``x::int`` and ``col:field`` are left alone).

    Args:
        sql: The SQL text.
        values: Parameter values by name.
        file: The file, to locate errors (optional).
        line: The file line where ``sql`` starts.

    Returns:
        The SQL with every reference replaced.

    Raises:
        SqlError: A reference names a parameter that has no value.
    """

    def lookup(name: str, offset: int, text: str) -> str:
        if name in values:
            return values[name]
        close = difflib.get_close_matches(name, list(values), n=1)
        suggestion = f"did you mean '{close[0]}'? " if close else ""
        err_line, col = _position(text, offset)
        raise SqlError(
            f"unknown parameter '{name}'",
            hint=f"{suggestion}defined: {', '.join(sorted(values)) or '(none)'}; "
            "pass it as a notebook parameter or declare a widget",
            location=SourceLocation(file, line + err_line - 1, col) if file is not None else None,
        )

    text = _TEXT_PARAMETER.sub(lambda m: lookup(m["dollar"] or m["braces"], m.start(), sql), sql)
    out, done = [], 0
    for literal in [*_LITERAL.finditer(text), None]:  # markers only in the code between literals
        end = literal.start() if literal is not None else len(text)
        for marker in _MARKER.finditer(text, done, end):
            value = lookup(marker["name"], marker.start(), text)
            out += [text[done : marker.start()], exp.Literal.string(value).sql(dialect=READ_DIALECT)]
            done = marker.end()
        if literal is not None:
            out.append(text[done : literal.end()])
            done = literal.end()
    out.append(text[done:])
    return "".join(out)


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
    if isinstance(expression, exp.Create) and _kind_of(expression) == "TABLE":
        has_query = source_query(expression) is not None
        return StatementKind.CREATE_TABLE_AS if has_query else StatementKind.CREATE_TABLE
    if isinstance(expression, exp.Command):
        word, rest = _command_parts(expression)
        following = rest.split(None, 1)[0].upper() if rest else ""
        if word.split(" ", 1)[0] in _MAINTENANCE_COMMANDS:
            return StatementKind.OPTIMIZE_OR_VACUUM
        if word == "SHOW" and following == "TABLES":
            return StatementKind.SHOW_TABLES
        if word == "CREATE" and following == "WIDGET":
            return StatementKind.CREATE_WIDGET
    return _DDL_KINDS.get((type(expression), _kind_of(expression)), StatementKind.OTHER)


def _kind_of(expression: exp.Expr) -> str:
    return str(expression.args.get("kind") or "").upper()


def _command_parts(expression: exp.Command) -> tuple[str, str]:
    this, rest = expression.args.get("this"), expression.args.get("expression")
    rest_text = rest.name if isinstance(rest, exp.Literal) else str(rest or "")
    return str(this or "").strip().upper(), rest_text.strip()


def is_overwrite(expression: exp.Expr) -> bool:
    """Whether the statement is an ``INSERT OVERWRITE``."""
    return isinstance(expression, exp.Insert) and bool(expression.args.get("overwrite"))


def source_query(expression: exp.Expr) -> exp.Expr | None:
    """The query (``SELECT``/``VALUES``) whose rows a ``CREATE TABLE AS`` or ``INSERT`` writes, if any."""
    query = expression.args.get("expression") if isinstance(expression, exp.Create | exp.Insert) else None
    return query if isinstance(query, exp.Query | exp.Values) else None


_WIDGET = re.compile(
    r"WIDGET\s+(?P<kind>\w+)\s+(?P<name>`[^`]+`|\w+)"
    r"(?:\s+DEFAULT\s+(?P<default>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"))?"
    r"(?:\s+CHOICES\s+(?P<choices>.+))?\s*",
    re.IGNORECASE | re.DOTALL,
)


def widget_definition(expression: exp.Expr) -> WidgetDefinition | None:
    """Read a ``CREATE WIDGET TEXT name DEFAULT 'x'`` statement; ``None`` for any other statement."""
    if not isinstance(expression, exp.Command) or classify(expression) != StatementKind.CREATE_WIDGET:
        return None
    match = _WIDGET.fullmatch(_command_parts(expression)[1])
    if match is None:
        return None
    default = match["default"] and _SPARK.tokenize(match["default"])[0].text  # unescaped by the tokenizer
    return WidgetDefinition(match["kind"].lower(), match["name"].strip("`"), default, match["choices"])


# --- table names --------------------------------------------------------------------------------------------


def _name_of(table: exp.Table) -> TableName:
    return TableName(table.catalog or None, table.db or None, table.name)


def _target_node(expression: exp.Expr) -> exp.Table | None:
    node: object = None
    if isinstance(expression, exp.Insert | exp.Merge | exp.Update | exp.Delete | exp.Alter):
        node = expression.this
    elif isinstance(expression, exp.Create | exp.Drop) and _kind_of(expression) in ("TABLE", "VIEW"):
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
    is_other_create = isinstance(expression, exp.Create) and _kind_of(expression) not in ("TABLE", "VIEW")
    skip = expression.this if is_other_create else None  # CREATE FUNCTION f: f is no table
    for table in expression.find_all(exp.Table):
        named = isinstance(table.this, exp.Identifier) and bool(table.name)
        if table is not skip and named and not _is_cte_reference(table):
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
    names = [_name_of(table) for table in _real_tables(expression) if table is not target]
    return list(dict.fromkeys(names))


def target_table(expression: exp.Expr) -> TableName | None:
    """The table or view a statement writes, creates, alters, truncates or drops; ``None`` for reads."""
    node = _target_node(expression)
    return _name_of(node) if node is not None else None


def rewrite_tables(expression: exp.Expr, resolve: Callable[[TableName], TableName]) -> exp.Expr:
    """Return a copy with every table name (targets included, CTE names not) replaced by ``resolve(name)``.

    Columns qualified with a table's schema (``silver.patients.id``) follow the rename.
    """
    copy = expression.copy()
    renamed: dict[TableName, TableName] = {}
    for table in list(_real_tables(copy)):
        renamed[_name_of(table)] = new = resolve(_name_of(table))
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

_OPTION_PROPERTIES = (
    exp.FileFormatProperty,
    exp.PartitionedByProperty,
    exp.ClusterProperty,
    exp.ClusteredByProperty,
    exp.LocationProperty,
    exp.SchemaCommentProperty,
    exp.Property,  # TBLPROPERTIES entries; matched by exact type (every property subclasses it)
)


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


# --- DuckDB generation --------------------------------------------------------------------------------------


def to_duckdb(expression: exp.Expr, *, location: SourceLocation | None = None) -> str:
    """Generate DuckDB SQL for a Spark statement, or fail naming what cannot be translated.

    Table options (see :func:`table_options`) and hints are dropped; ``CREATE DATABASE`` becomes
    ``CREATE SCHEMA``. Statements without a DuckDB meaning (maintenance, ``SHOW``, widgets, other commands,
    ``INSERT OVERWRITE``, ``USE CATALOG``, time travel) raise: the engine handles those itself.

    Args:
        expression: A statement from :func:`split_statements` (optionally after :func:`rewrite_tables`).
        location: Where the statement is, for the error.

    Returns:
        One DuckDB statement, without a trailing semicolon.

    Raises:
        SqlError: The statement, or a construct in it, has no faithful DuckDB translation.
    """
    prepared = _prepare_for_duckdb(expression, location)
    try:
        return prepared.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        reason = str(exc).split("\n", 1)[0].rstrip(".")
        raise _untranslatable(_describe(_failing_node(prepared)), location, reason=reason) from exc


def _failing_node(expression: exp.Expr) -> exp.Expr | None:
    """The deepest node whose DuckDB generation fails: the construct to name in the error."""
    found: tuple[int, exp.Expr] | None = None
    for node in expression.walk():
        if found is None or node.depth > found[0]:
            try:
                node.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
            except UnsupportedError:
                found = (node.depth, node)
            except Exception:  # a fragment may not generate on its own: then it is no candidate
                continue
    return found[1] if found is not None else None


def _describe(node: exp.Expr | None) -> str:
    if node is None:
        return "this statement"
    text = node.sql(dialect=READ_DIALECT, unsupported_level=ErrorLevel.IGNORE)
    if isinstance(node, exp.Func) and not text.upper().startswith(node.sql_name()):
        text = f"{node.sql_name()}(...)"  # sqlglot may print the node as something else (a CAST)
    return text if len(text) <= 80 else text[:77] + "..."


def _untranslatable(
    what: str, location: SourceLocation | None, *, hint: str = _HINT_TRANSLATE, reason: str | None = None
) -> SqlError:
    detail = f": {reason}" if reason else ""
    return SqlError(f"cannot translate {what} from Spark SQL to DuckDB{detail}", hint=hint, location=location)


def _prepare_for_duckdb(expression: exp.Expr, location: SourceLocation | None) -> exp.Expr:
    _reject_engine_statements(expression, location)
    copy = expression.copy()
    properties = copy.args.get("properties") if isinstance(copy, exp.Create) else None
    for prop in list(properties.expressions) if isinstance(properties, exp.Properties) else []:
        if type(prop) in _OPTION_PROPERTIES:
            prop.pop()
    if isinstance(properties, exp.Properties) and not properties.expressions:
        properties.pop()
    for comment in list(copy.find_all(exp.CommentColumnConstraint)):  # DuckDB has no inline COMMENT
        (comment.parent if isinstance(comment.parent, exp.ColumnConstraint) else comment).pop()
    if isinstance(copy, exp.Create) and _kind_of(copy) == "DATABASE":
        copy.set("kind", "SCHEMA")
    if isinstance(copy, exp.Use):
        copy.set("kind", None)  # USE SCHEMA s / USE DATABASE s
    for hint in list(copy.find_all(exp.Hint)):  # BROADCAST, REPARTITION, ...: plans, not meaning
        hint.pop()
    for dtype in list(copy.find_all(exp.DataType)):  # Spark's bare DECIMAL is (10, 0); DuckDB's is (18, 3)
        if dtype.is_type("decimal") and not dtype.expressions:
            dtype.replace(exp.DataType.build("DECIMAL(10, 0)"))
    for call in list(copy.find_all(exp.Anonymous)):
        if call.name.upper() == "IFF" and len(call.expressions) == 3:  # Databricks' synonym of if()
            call.replace(exp.If(this=call.expressions[0], true=call.expressions[1], false=call.expressions[2]))
    _unqualify_set_targets(copy)
    _fix_outer_explode(copy, location)
    _fix_date_functions(copy)
    _fix_time_formats(copy, location)
    return copy


def _reject_engine_statements(expression: exp.Expr, location: SourceLocation | None) -> None:
    if isinstance(expression, exp.Command) or classify(expression) == StatementKind.OPTIMIZE_OR_VACUUM:
        word = _command_parts(expression)[0] if isinstance(expression, exp.Command) else expression.key
        hint = "lockgate's engine handles this statement itself (see classify()); it is not DuckDB SQL"
        raise _untranslatable(f"{word.upper()} statement", location, hint=hint)
    if is_overwrite(expression):
        hint = "DuckDB has no INSERT OVERWRITE: the engine replaces the target with source_query()'s rows"
        raise _untranslatable("INSERT OVERWRITE", location, hint=hint)
    target = _target_node(expression) if isinstance(expression, exp.Insert) else None
    if target is not None and target.args.get("partition"):
        raise _untranslatable("INSERT ... PARTITION (...)", location, hint="select partition columns instead")
    if isinstance(expression, exp.Use) and _kind_of(expression) == "CATALOG":
        raise _untranslatable("USE CATALOG", location, hint="the engine maps catalogs (see rewrite_tables())")
    for table in expression.find_all(exp.Table):
        if table.args.get("version"):
            hint = "read old versions through the engine's Delta reader"
            raise _untranslatable(f"time travel on {_name_of(table)}", location, hint=hint)


def _unqualify_set_targets(expression: exp.Expr) -> None:
    """Spark allows ``UPDATE t SET t.a = 1`` and ``MERGE ... UPDATE SET t.a = s.a``; DuckDB wants ``a``."""
    for assignment in (item for update in expression.find_all(exp.Update) for item in update.expressions):
        column = assignment.this if isinstance(assignment, exp.EQ) else None
        if isinstance(column, exp.Column) and column.table:
            column.replace(exp.column(column.this.copy()))


def _fix_outer_explode(expression: exp.Expr, location: SourceLocation | None) -> None:
    """``LATERAL VIEW OUTER explode(a)`` and ``explode_outer(a)`` keep a NULL row for a NULL or empty ``a``.

    sqlglot turns both into a plain ``UNNEST`` that drops those rows, so explode ``[NULL]`` instead.
    """
    for lateral in list(expression.find_all(exp.Lateral)):
        if lateral.args.get("outer"):
            call = lateral.this
            if not isinstance(call, exp.Explode) or isinstance(call, exp.Posexplode):
                raise _untranslatable(f"LATERAL VIEW OUTER {call.sql(dialect=READ_DIALECT)}", location)
            lateral.set("outer", False)
            call.set("this", _null_if_empty(call.this))
    for call in list(expression.find_all(exp.Explode)):
        if isinstance(call, exp.PosexplodeOuter):
            raise _untranslatable("posexplode_outer()", location)
        if type(call).__name__ == "_ExplodeOuter":  # sqlglot's private class for explode_outer()
            call.replace(exp.Explode(this=_null_if_empty(call.this)))


def _null_if_empty(array: exp.Expr) -> exp.Expr:
    empty = exp.or_(
        exp.Is(this=array.copy(), expression=exp.Null()),
        exp.EQ(this=exp.ArraySize(this=array.copy()), expression=exp.Literal.number(0)),
    )
    return exp.Case(ifs=[exp.If(this=empty, true=exp.Array(expressions=[exp.Null()]))], default=array)


_DATE_RESULT = (exp.TsOrDsAdd, exp.AddMonths, exp.DateFromUnixDate, exp.DateTrunc)
"""Spark functions that return DATE but come out of sqlglot's DuckDB SQL as TIMESTAMP (date_add, ...)."""
_TRUNC_UNITS = {"YYYY": "YEAR", "YY": "YEAR", "MM": "MONTH", "MON": "MONTH", "DD": "DAY"}


def _fix_date_functions(expression: exp.Expr) -> None:
    for node in list(expression.find_all(*_DATE_RESULT, exp.TimestampTrunc)):
        unit = node.args.get("unit")
        normal = _TRUNC_UNITS.get(unit.name.upper()) if isinstance(unit, exp.Expr) else None
        if isinstance(node, exp.DateTrunc | exp.TimestampTrunc) and unit is not None and normal is not None:
            node.set("unit", exp.Literal.string(normal) if unit.is_string else exp.var(normal))
        if isinstance(node, _DATE_RESULT):
            cast = exp.Cast(to=exp.DataType.build("DATE"))
            node.replace(cast)
            cast.set("this", node)


_FORMATTED = (exp.TimeToStr, exp.StrToTime, exp.StrToDate, exp.StrToUnix, exp.UnixToStr, exp.TsOrDsToDate)
_FORMAT_TOKEN = re.compile(r"%(?:[-:]?[A-Za-z](?:strict)?|%)|'(?:[^']|'')*'|([A-Za-z])\1*|.", re.DOTALL)
_FRACTIONS = {3: "%f_three", 6: "%f", 9: "%f_nine"}  # sqlglot's names for DuckDB's %g, %f, %n


def _fix_time_formats(expression: exp.Expr, location: SourceLocation | None) -> None:
    """Spark date patterns: translate quoted text and ``SSS``; refuse the pattern letters DuckDB lacks.

    sqlglot turns a Spark pattern into strftime form while parsing, but keeps ``'T'`` quotes and unknown
    letters (``SSS``, ``XXX``) as they are, which DuckDB then prints or matches literally.
    """
    for node in list(expression.find_all(*_FORMATTED)):
        pattern = node.args.get("format")
        if pattern is None:
            continue
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            hint = "write the pattern as one literal, e.g. 'yyyy-MM-dd'"
            what = f"a date pattern that is not a string literal ({pattern.sql(dialect=READ_DIALECT)})"
            raise _untranslatable(what, location, hint=hint)
        out = []
        for match in _FORMAT_TOKEN.finditer(pattern.name):
            token = match.group()
            if token.startswith("'"):
                out.append(("'" if token == "''" else token[1:-1].replace("''", "'")).replace("%", "%%"))
            elif match[1] == "S" and len(token) in _FRACTIONS:
                out.append(_FRACTIONS[len(token)])
            elif match[1]:
                hint = "DuckDB's strftime/strptime have no equivalent; use a simpler pattern"
                raise _untranslatable(f"date pattern letter {token!r}", location, hint=hint)
            else:
                out.append(token)
        pattern.replace(exp.Literal.string("".join(out)))
