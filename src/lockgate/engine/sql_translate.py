"""Spark SQL statements translated to DuckDB SQL that means the same, or refused with a reason.

Owns :func:`to_duckdb` and the repairs it makes to sqlglot's Spark -> DuckDB output. Reading statements (splitting,
classifying, table names, table options) is :mod:`lockgate.engine.sql`; this module only decides what a statement
becomes on DuckDB. It is the one place that maps sqlglot's ``UnsupportedError`` to ``SqlError``.

Rules:

* Pure: no database access; the expression given is never mutated (the repairs work on a copy).
* Translation gives DuckDB SQL that means what the Spark SQL meant, or raises ``SqlError`` naming what could
  not be translated and how to get around it. Silent differences found in sqlglot's Spark -> DuckDB output are
  repaired before generation: OUTER explode, DATE-returning date functions, Spark date patterns with quoted
  text or fractions of seconds, ``trunc`` units, bare ``DECIMAL``, qualified ``SET`` targets in
  ``UPDATE``/``MERGE``, hints and ``iff``.
* Statements the engine runs itself (maintenance, ``SHOW``, widgets, ``INSERT OVERWRITE``, ``USE CATALOG``,
  time travel) are refused here, never approximated.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from lockgate.engine.sql import (
    READ_DIALECT,
    StatementKind,
    TableName,
    classify,
    command_parts,
    is_overwrite,
    is_partition_insert,
    object_kind,
)
from lockgate.errors import SourceLocation, SqlError

_HINT_TRANSLATE = "rewrite it with constructs DuckDB supports, or run the pipeline on the Spark engine"

# The clauses :func:`~lockgate.engine.sql.table_options` reads: kept for the engine, dropped from the DuckDB SQL
_OPTION_PROPERTIES = (
    exp.FileFormatProperty,
    exp.PartitionedByProperty,
    exp.ClusterProperty,
    exp.ClusteredByProperty,
    exp.LocationProperty,
    exp.SchemaCommentProperty,
    exp.Property,  # TBLPROPERTIES entries; matched by exact type (every property subclasses it)
)


def to_duckdb(expression: exp.Expr, *, location: SourceLocation | None = None) -> str:
    """Generate DuckDB SQL for a Spark statement, or fail naming what cannot be translated.

    Table options (see :func:`~lockgate.engine.sql.table_options`) and hints are dropped; ``CREATE DATABASE`` becomes
    ``CREATE SCHEMA``. Statements without a DuckDB meaning (maintenance, ``SHOW``, widgets, other commands,
    ``INSERT OVERWRITE``, ``USE CATALOG``, time travel) raise: the engine handles those itself.

    Args:
        expression: A statement from :func:`~lockgate.engine.sql.split_statements` (optionally after
            :func:`~lockgate.engine.sql.rewrite_tables`).
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
    if isinstance(copy, exp.Create) and object_kind(copy) == "DATABASE":
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
        word = command_parts(expression)[0] if isinstance(expression, exp.Command) else expression.key
        hint = "lockgate runs this statement itself; it has no DuckDB SQL of its own"
        raise _untranslatable(f"{word.upper()} statement", location, hint=hint)
    if is_overwrite(expression):
        hint = "DuckDB has no INSERT OVERWRITE: lockgate replaces the table with the query's rows itself"
        raise _untranslatable("INSERT OVERWRITE", location, hint=hint)
    if is_partition_insert(expression):
        raise _untranslatable("INSERT ... PARTITION (...)", location, hint="select partition columns instead")
    if isinstance(expression, exp.Use) and object_kind(expression) == "CATALOG":
        raise _untranslatable(
            "USE CATALOG",
            location,
            hint="lockgate maps catalogs to environments; name tables as catalog.schema.table instead",
        )
    for table in expression.find_all(exp.Table):
        if table.args.get("version"):
            hint = "read old versions through the engine's Delta reader"
            raise _untranslatable(f"time travel on {TableName.of(table)}", location, hint=hint)


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


_INT_RESULT = (
    exp.Year,
    exp.Quarter,
    exp.Month,
    exp.WeekOfYear,
    exp.Day,
    exp.DayOfMonth,
    exp.DayOfWeek,
    exp.DayOfYear,
    exp.Hour,
    exp.Minute,
    exp.Second,
)
"""Date parts Spark returns as INT and DuckDB as BIGINT: cast, so tables get the same schema on both engines."""


def _fix_date_functions(expression: exp.Expr) -> None:
    for part in list(expression.find_all(*_INT_RESULT, exp.DateDiff)):
        if isinstance(part, exp.DateDiff) and part.args.get("unit") is not None:
            continue  # datediff(unit, a, b) is BIGINT in Spark too; datediff(end, start) is INT
        cast = exp.Cast(to=exp.DataType.build("INT"))
        part.replace(cast)
        cast.set("this", part)
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


_CALL = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\(")


def duckdb_calls(expression: exp.Expr) -> list[tuple[str, exp.Func]]:
    """The functions DuckDB is asked to call for the calls written in a statement, as ``(name, call)`` pairs.

    sqlglot translates the Spark functions it knows (``date_format(...)`` becomes ``STRFTIME(...)``) and passes
    the others through as written (``xpath(...)`` stays ``XPATH(...)``), whether DuckDB has them or not. ``name``
    is the lower-case function the DuckDB SQL of ``call`` starts with; ``call`` is the node the user wrote (its
    ``meta`` holds the position). Calls that become syntax (``CASE``, an operator) are left out, and so is every
    call of a statement :func:`to_duckdb` refuses.
    """
    try:
        prepared = _prepare_for_duckdb(expression, None)
    except SqlError:
        return []
    calls = []
    for node in prepared.find_all(exp.Func):
        if "start" not in node.meta:  # made by a repair or by sqlglot's parser, not written by the user
            continue
        try:
            text = node.sql(dialect="duckdb", unsupported_level=ErrorLevel.IGNORE)
        except Exception:  # a fragment may not generate on its own (see _failing_node)
            continue
        match = _CALL.match(text)
        if match is not None:
            calls.append((match[1].lower(), node))
    return calls
