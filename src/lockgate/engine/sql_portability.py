"""Which engines run a Spark SQL statement: the constructs only DuckDB or only Spark accepts, found without running.

Owns :func:`find_engine_gaps` and the function names it compares. Spark's built-in functions and keywords are
``spark_functions.txt`` and ``spark_keywords.txt``, generated from a real Spark by
``scripts/update_spark_functions.py`` (Spark is not needed to read them). DuckDB's are ``duckdb_names.txt``, from
``scripts/update_duckdb_functions.py``; when the installed duckdb is another version than the file's, the
installed duckdb is asked instead (once per process, about 0.07 s), so a stale file costs time, never accuracy.

Rules:

* Pure, but for reading those files (and, for another duckdb version, asking duckdb).
* The DuckDB side is what the DuckDB engine itself refuses
  (:func:`~lockgate.engine.duckdb_statements.find_duckdb_refusal`) and the calls
  :func:`~lockgate.engine.sql_translate.duckdb_calls` says it passes to DuckDB: never a second list of rules, so
  `lockgate validate` and a run cannot disagree.
* A call that neither engine knows is a user's function (``spark.udf.register``): never reported.
* A gap points at the call (1-based, in the user's file) when sqlglot recorded where it is, else at the statement.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.tokenizer_core import Token, TokenType

from lockgate.engine.duckdb_functions import SPARK_FUNCTION_MACROS
from lockgate.engine.duckdb_statements import find_duckdb_refusal, translated_parts
from lockgate.engine.sql import READ_DIALECT, Statement, StatementKind, command_parts
from lockgate.engine.sql_translate import duckdb_calls
from lockgate.errors import SourceLocation

logger = logging.getLogger(__name__)

SPARK_FUNCTIONS_FILE = "spark_functions.txt"
SPARK_KEYWORDS_FILE = "spark_keywords.txt"
DUCKDB_NAMES_FILE = "duckdb_names.txt"

_SPARK = Dialect.get_or_raise(READ_DIALECT)
_HEADER_VERSION = re.compile(r"^# (?:DuckDB|Spark) (\S+?):")
_MACRO_NAME = re.compile(r"CREATE MACRO (\w+)", re.IGNORECASE)

_FILES = "Spark SQL reads files with FROM {spark}; for both engines, read them in a Python cell with {python}"
_SPARK_FORMS: dict[str, str] = {
    "read_parquet": _FILES.format(spark="parquet.`path`", python="spark.read.parquet(path)"),
    "read_csv": _FILES.format(spark="csv.`path`", python="spark.read.option('header', True).csv(path)"),
    "read_csv_auto": _FILES.format(spark="csv.`path`", python="spark.read.option('header', True).csv(path)"),
    "read_json": _FILES.format(spark="json.`path`", python="spark.read.json(path)"),
    "read_json_auto": _FILES.format(spark="json.`path`", python="spark.read.json(path)"),
    "read_ndjson": _FILES.format(spark="json.`path`", python="spark.read.json(path)"),
    "strftime": "use date_format(ts, 'yyyy-MM-dd'), with Spark's pattern letters instead of %Y-%m-%d",
    "strptime": "use to_timestamp(text, 'yyyy-MM-dd HH:mm:ss'), with Spark's pattern letters instead of %Y-%m-%d",
    "epoch_ms": "use timestamp_millis(n) for milliseconds to a timestamp, unix_millis(ts) for the reverse",
    "epoch_us": "use timestamp_micros(n) for microseconds to a timestamp, unix_micros(ts) for the reverse",
    "epoch": "use unix_seconds(ts)",
    "today": "use current_date()",
    "list_value": "use array(...)",
    "list_pack": "use array(...)",
    "struct_pack": "use named_struct('name', value, ...) or struct(value AS name, ...)",
    "regexp_matches": "use regexp_like(text, pattern), or text RLIKE pattern",
    "regexp_full_match": "use regexp_like(text, '^...$')",
    "string_split": "use split(text, pattern)",
    "str_split": "use split(text, pattern)",
    "string_to_array": "use split(text, pattern)",
    "list_contains": "use array_contains(array, value)",
    "list_has": "use array_contains(array, value)",
    "array_has": "use array_contains(array, value)",
    "array_length": "use array_size(array)",
    "list": "use collect_list(value)",
    "group_concat": "use string_agg(value, ',')",
    "arg_max": "use max_by(value, ordering)",
    "arg_min": "use min_by(value, ordering)",
    "argmax": "use max_by(value, ordering)",
    "argmin": "use min_by(value, ordering)",
    "generate_series": "use sequence(start, stop) for an array, range(start, stop) for rows",
    "unnest": "use explode(array)",
    "strpos": "use instr(text, part)",
    "starts_with": "use startswith(text, prefix)",
    "prefix": "use startswith(text, prefix)",
    "ends_with": "use endswith(text, suffix)",
    "suffix": "use endswith(text, suffix)",
    "json_extract": "use get_json_object(json, '$.path')",
    "json_extract_string": "use get_json_object(json, '$.path')",
    "list_sort": "use array_sort(array)",
    "list_distinct": "use array_distinct(array)",
    "list_concat": "use concat(array1, array2)",
    "array_concat": "use concat(array1, array2)",
    "list_transform": "use transform(array, x -> ...)",
    "list_filter": "use filter(array, x -> ...)",
    "gen_random_uuid": "use uuid()",
    "format": "use format_string('%s ...', value, ...), with printf-style patterns instead of {}",
    "struct_extract": "use struct.field",
    "map_extract": "use element_at(map, key)",
}
"""Spark SQL for DuckDB functions users reach for; `tests/engine/test_sql_portability.py` checks both sides."""
_SPARK_FORM_DEFAULT = (
    "write it with Spark SQL's built-in functions; a function of your own must be registered on Spark "
    "(spark.udf.register) under a name DuckDB does not have"
)
_DUCKDB_HINT = (
    "lockgate passes it to DuckDB as written and DuckDB has no function of that name: "
    "rewrite it with functions both engines have, or run the pipeline on Spark"
)


@dataclass(frozen=True, slots=True)
class EngineGap:
    """A construct that one engine cannot run."""

    engine: str
    """The engine that cannot run it: ``duckdb`` or ``spark``."""
    message: str
    """What cannot run, e.g. ``function strftime() is not in Spark SQL``."""
    location: SourceLocation
    """Where it is written."""
    hint: str | None = None
    """How to write it for both engines, when there is an obvious way."""


def find_engine_gaps(
    sql: str, statements: Iterable[Statement], *, engines: Collection[str], line: int = 1, column_offset: int = 0
) -> list[EngineGap]:
    """What in ``statements`` one of ``engines`` cannot run, in file order.

    Args:
        sql: The text the statements were split from.
        statements: ``split_statements(sql, file=..., line=line, column_offset=column_offset)``.
        engines: The engines to check for (``duckdb``, ``spark``); others are ignored.
        line: The file line where ``sql`` starts, as given to ``split_statements``.
        column_offset: Characters before the SQL on each file line, as given to ``split_statements``.

    Returns:
        One gap per construct: for DuckDB, the first refusal of a statement, or each Spark function it calls that
        DuckDB lacks; for Spark, each DuckDB function it calls that Spark lacks.
    """
    gaps: list[EngineGap] = []
    checked = [statement for statement in statements if not _is_widget_statement(statement)]
    for statement in checked:
        if "duckdb" in engines:
            gaps += _duckdb_gaps(sql, statement, line=line, column_offset=column_offset)
        if "spark" in engines:
            gaps += _spark_gaps(sql, statement, line=line, column_offset=column_offset)
    if "spark" in engines and checked:
        found = {gap.location for gap in gaps}
        gaps += [gap for gap in _unplaced_spark_gaps(sql, checked, line, column_offset) if gap.location not in found]
    return sorted(gaps, key=lambda gap: (gap.location.line or 0, gap.location.col or 0, gap.engine))


def _is_widget_statement(statement: Statement) -> bool:
    """``CREATE WIDGET`` / ``REMOVE WIDGET``: parameters, handled before the SQL reaches either engine."""
    if statement.kind == StatementKind.CREATE_WIDGET:
        return True
    if not isinstance(statement.expression, exp.Command):
        return False
    word, rest = command_parts(statement.expression)
    return word == "REMOVE" and rest.upper().startswith("WIDGET")


def _duckdb_gaps(sql: str, statement: Statement, *, line: int, column_offset: int) -> list[EngineGap]:
    try:
        refusal = find_duckdb_refusal(statement)
    except Exception:  # sqlglot cannot generate the statement at all (to_date() without arguments)
        logger.debug("%s: not checked for DuckDB", statement.location, exc_info=True)
        return []
    if refusal is not None:
        return [EngineGap("duckdb", refusal.message, refusal.location or statement.location, refusal.hint)]
    gaps = []
    for part in translated_parts(statement):
        for name, call in duckdb_calls(part):
            # A call sqlglot does not know and Spark does not have is a user's function (spark.udf.register).
            known = name in spark_functions() or not isinstance(call, exp.Anonymous)
            if known and name not in duckdb_names():
                written = _written_name(sql, call)
                what = f"function {written}() does not exist in DuckDB"
                if written != name:
                    what = f"function {written}() becomes {name}() on DuckDB, which does not exist there"
                where = _call_location(call, statement, line, column_offset)
                gaps.append(EngineGap("duckdb", what, where, _DUCKDB_HINT))
    return gaps


def _spark_gaps(sql: str, statement: Statement, *, line: int, column_offset: int) -> list[EngineGap]:
    gaps = []
    for call in statement.expression.find_all(exp.Func):
        start, end = call.meta.get("start"), call.meta.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(call.parent, exp.Dot):
            continue  # not written by the user, or a catalog's function (main.default.f(x))
        name = _written_name(sql, call)
        if _is_duckdb_only(name):
            where = _call_location(call, statement, line, column_offset)
            gaps.append(_spark_gap(name, where))
    return gaps


def _unplaced_spark_gaps(sql: str, statements: list[Statement], line: int, column_offset: int) -> Iterator[EngineGap]:
    """Calls sqlglot parses with a function parser of its own (``arg_max(...)``), which records no position."""
    file = statements[0].location.file
    tokens = _SPARK.tokenize(sql)
    parsers = _SPARK.parser_class.FUNCTION_PARSERS
    for before, token, after in zip([None, *tokens], tokens, [*tokens[1:], None], strict=False):
        is_call = after is not None and after.token_type == TokenType.L_PAREN
        qualified = before is not None and before.token_type == TokenType.DOT
        name = token.text.lower()
        if is_call and not qualified and token.text.upper() in parsers and _is_duckdb_only(name):
            yield _spark_gap(name, _token_location(token, file, line, column_offset))


def _is_duckdb_only(name: str) -> bool:
    spark_knows = name in spark_functions() or name in _spark_call_syntax()
    return not spark_knows and name in duckdb_names()


def _spark_gap(name: str, where: SourceLocation) -> EngineGap:
    hint = _SPARK_FORMS.get(name, _SPARK_FORM_DEFAULT)
    return EngineGap("spark", f"function {name}() is not in Spark SQL", where, hint)


def _written_name(sql: str, call: exp.Func) -> str:
    """The function name as the user wrote it (lower case); a call's node may stand for several names (nvl)."""
    start, end = call.meta.get("start"), call.meta.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        return call.sql_name().lower()
    return sql[start : end + 1].strip("`").lower()


def _call_location(call: exp.Expr, statement: Statement, line: int, column_offset: int) -> SourceLocation:
    meta = call.meta
    if not all(isinstance(meta.get(key), int) for key in ("line", "col", "start", "end")):
        return statement.location
    col = meta["col"] - (meta["end"] - meta["start"])  # sqlglot's col is where the name ends
    return SourceLocation(statement.location.file, line + meta["line"] - 1, col + column_offset)


def _token_location(token: Token, file: str, line: int, column_offset: int) -> SourceLocation:
    return SourceLocation(file, line + token.line - 1, token.col - (token.end - token.start) + column_offset)


# --- the names ----------------------------------------------------------------------------------------------


@cache
def spark_functions() -> frozenset[str]:
    """Spark's built-in function names, lower case (``SHOW SYSTEM FUNCTIONS``)."""
    return _read_names(SPARK_FUNCTIONS_FILE)[1]


@cache
def spark_keywords() -> frozenset[str]:
    """Spark SQL's keywords, lower case: syntax such as ``try_cast(x AS INT)`` looks like a call."""
    return _read_names(SPARK_KEYWORDS_FILE)[1]


@cache
def _spark_call_syntax() -> frozenset[str]:
    """Spark keywords written like a call, which sqlglot parses with a parser of their own (``try_cast``)."""
    parser = _SPARK.parser_class
    return spark_keywords() & {name.lower() for name in (*parser.FUNCTION_PARSERS, *parser.NO_PAREN_FUNCTION_PARSERS)}


@cache
def duckdb_names() -> frozenset[str]:
    """What SQL on the DuckDB engine can call, lower case: DuckDB's functions, its keywords, lockgate's macros."""
    shipped_version, names = _read_names(DUCKDB_NAMES_FILE)
    try:
        installed = version("duckdb")
    except PackageNotFoundError:
        installed = None
    if installed != shipped_version:
        # Loads duckdb and opens a database (about 0.07 s): only when the shipped list is another version's.
        from lockgate.engine.duckdb import function_names

        return function_names()
    macros = {match[1].lower() for macro in SPARK_FUNCTION_MACROS for match in _MACRO_NAME.finditer(macro)}
    return names | macros


def _read_names(file: str) -> tuple[str | None, frozenset[str]]:
    """A names file of this package: the version its first line names, and its names (``#`` lines are comments)."""
    lines = resources.files(__package__).joinpath(file).read_text(encoding="utf-8").splitlines()
    match = _HEADER_VERSION.match(lines[0]) if lines else None
    names = frozenset(text.strip() for text in lines if text.strip() and not text.startswith("#"))
    return (match[1] if match else None), names
