"""Data-quality checks evaluated on an engine session: one Spark SQL query per check, results as data.

Key contracts:
- Engine-neutral: every check is Spark SQL run with :meth:`EngineSession.query`; identifiers are quoted with
  backticks, a check's `where` filters the rows it looks at.
- A row-level check (not_null, unique, accepted_values, expression, sql) counts its failing rows with one query
  and, only when some fail, fetches ``sample_size`` of them with a second one. `row_count` and `freshness` look
  at the table as a whole and keep no sample.
- A check that cannot run (unknown table or column, SQL that does not parse) raises a lockgate error naming the
  check, the table and the column, never a bare engine message. A check that runs and fails is a result, not an
  error: callers decide (:func:`build_check_failure` makes the error for the failing `error` checks).
- :class:`CheckResult` is JSON-able through :meth:`CheckResult.as_dict` (sample values become JSON types).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from lockgate.engine.base import EngineSession
from lockgate.errors import AnalysisError, CheckFailedError, SqlError, TableNotFoundError, UserCodeError
from lockgate.model.checks import (
    AcceptedValuesCheck,
    Check,
    ExpressionCheck,
    FreshnessCheck,
    NotNullCheck,
    RowCountCheck,
    SqlCheck,
    UniqueCheck,
)
from lockgate.model.duration import format_duration
from lockgate.model.suggest import did_you_mean, format_choices
from lockgate.services.project import Project, table_key

__all__ = [
    "CheckResult",
    "build_check_failure",
    "declared_checks",
    "evaluate_check",
    "evaluate_checks",
    "render_check_results",
    "run_declared_checks",
]

SHOWN_SAMPLE_ROWS = 5
"""Failing rows shown per check in reports and error messages (the run record keeps ``sample_size``)."""
_CELL_WIDTH = 40


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one check on one table."""

    table: str
    label: str
    """The check's `name`, or its type and columns: `not_null(id)`."""
    check_type: str
    severity: str
    """`error` fails the activity; `warn` only reports."""
    passed: bool
    failing_rows: int
    """Rows breaking the rule (for `unique`: duplicated key values); 0 for `row_count` and `freshness`."""
    message: str
    sql: str
    """The query returning the failing rows (for `row_count` and `freshness`: the one measuring the table)."""
    sample: list[dict[str, Any]] = field(default_factory=list)
    """Up to ``sample_size`` failing rows, column -> JSON value."""

    @property
    def is_error(self) -> bool:
        """A failed check of severity `error`: what fails an activity."""
        return not self.passed and self.severity == "error"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_checks(
    session: EngineSession, table: str, checks: Iterable[Check], *, sample_size: int = 10
) -> list[CheckResult]:
    """Run ``checks`` on ``table`` (`schema.table`), in order.

    Raises:
        TableNotFoundError: the table does not exist.
        SqlError: a check names a column the table lacks, or its SQL does not parse.
        UserCodeError: a check's SQL failed while running (a bad cast in an `expression`, say).
    """
    return [evaluate_check(session, table, check, sample_size=sample_size) for check in checks]


def evaluate_check(session: EngineSession, table: str, check: Check, *, sample_size: int = 10) -> CheckResult:
    """Run one check on ``table``; see :func:`evaluate_checks` for the errors."""
    try:
        return _evaluate(_Target(session, table, quote_table(table), sample_size), check)
    except TableNotFoundError as exc:
        raise TableNotFoundError(f"check {check.label!r}: {exc.message}", hint=exc.hint) from exc
    except AnalysisError as exc:
        raise _analysis_error(session, table, check, exc) from exc
    except UserCodeError as exc:
        raise UserCodeError(
            f"check {check.label!r} on {table} failed: {exc.message}", hint=exc.hint, detail=exc.detail
        ) from exc


def declared_checks(project: Project, table: str) -> tuple[Check, ...]:
    """The checks `tables/*.yaml` declares for ``table`` (any case, catalog or backticks ignored)."""
    source = project.declared_table(table)
    return source.declaration.checks if source is not None else ()


def run_declared_checks(
    session: EngineSession, project: Project, tables: Iterable[str], *, sample_size: int = 10
) -> list[CheckResult]:
    """Run the declared checks of each of ``tables`` that has some (each table once, in the order given).

    The runner calls this after an activity writes tables; :func:`build_check_failure` on the results tells
    whether the activity fails.
    """
    results: list[CheckResult] = []
    seen: set[str] = set()
    for table in tables:
        source = project.declared_table(table)
        if source is None or table_key(table) in seen:
            continue
        seen.add(table_key(table))
        results += evaluate_checks(session, source.name, source.declaration.checks, sample_size=sample_size)
    return results


def build_check_failure(results: Sequence[CheckResult]) -> CheckFailedError | None:
    """The error for the failed `error` checks among ``results`` (None when there are none).

    Its message lists every failed check (warnings too, marked) with the first failing rows, so the run record
    shows which rows broke which rule; the hint is the query that lists all of them.
    """
    errors = [result for result in results if result.is_error]
    if not errors:
        return None
    tables = ", ".join(dict.fromkeys(result.table for result in errors))
    summary = ", ".join(f"{result.label} ({_count_text(result)})" for result in errors)
    noun = "check" if len(errors) == 1 else "checks"
    message = f"{len(errors)} data {noun} failed on {tables}: {summary}\n" + render_check_results(
        [result for result in results if not result.passed]
    )
    first = errors[0]
    hint = f"see every failing row of {first.label!r}: lockgate query {_shell_quote(first.sql)}"
    return CheckFailedError(message, hint=hint, results=tuple(results))


def render_check_results(results: Sequence[CheckResult], *, sample_rows: int = SHOWN_SAMPLE_ROWS) -> str:
    """One line per check (`PASS`, `FAIL`, `WARN`), each failing check followed by its first sample rows."""
    lines: list[str] = []
    for result in results:
        status = "PASS" if result.passed else ("FAIL" if result.severity == "error" else "WARN")
        lines.append(f"{status} {result.table} {result.label}: {result.message}")
        shown = result.sample[:sample_rows] if not result.passed else []
        if shown:
            lines += [f"     {line}" for line in _format_rows(shown)]
            if result.failing_rows > len(shown):
                lines.append(f"     ... {result.failing_rows - len(shown)} more")
    return "\n".join(lines)


def quote_table(table: str) -> str:
    """A table name with each part in backticks (kept as written when it already has backticks)."""
    if "`" in table:
        return table
    return ".".join(quote_identifier(part) for part in table.split("."))


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def sql_literal(value: Any) -> str:
    """A Spark SQL literal for a YAML value (strings escape `\\` and `'` with a backslash, as Spark reads them)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


# -- evaluation: one function per check type -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Target:
    session: EngineSession
    table: str
    """As given, for results and messages."""
    sql_name: str
    """Quoted, for SQL."""
    sample_size: int

    def rows(self, check: Check, condition: str | None = None) -> str:
        """`SELECT * FROM table` limited to the check's `where` and ``condition``."""
        filters = [f"({text})" for text in (check.where, condition) if text]
        return f"SELECT * FROM {self.sql_name}" + (f" WHERE {' AND '.join(filters)}" if filters else "")

    def scalar(self, sql: str) -> Any:
        result = self.session.query(sql)
        return result.rows[0][0] if result.rows else None

    def row_result(
        self, check: Check, failing_sql: str, describe: Callable[[int], str], *, order_by: str = ""
    ) -> CheckResult:
        """Count the rows of ``failing_sql`` and, when there are some, fetch a sample of them."""
        count = int(self.scalar(f"SELECT COUNT(*) AS failing FROM ({failing_sql}) AS failing_rows") or 0)
        sample: list[dict[str, Any]] = []
        if count and self.sample_size:
            order = f" ORDER BY {order_by}" if order_by else ""
            found = self.session.query(f"SELECT * FROM ({failing_sql}) AS failing_rows{order} LIMIT {self.sample_size}")
            sample = [
                {column: json_value(value) for column, value in zip(found.columns, row, strict=True)}
                for row in found.rows
            ]
        return self.result(
            check, passed=count == 0, failing_rows=count, message=describe(count), sql=failing_sql, sample=sample
        )

    def result(
        self,
        check: Check,
        *,
        passed: bool,
        message: str,
        sql: str,
        failing_rows: int = 0,
        sample: list[dict[str, Any]] | None = None,
    ) -> CheckResult:
        if check.where:
            message += f" (where {check.where})"
        return CheckResult(
            table=self.table,
            label=check.label,
            check_type=check.type,
            severity=check.severity,
            passed=passed,
            failing_rows=failing_rows,
            message=message,
            sql=sql,
            sample=sample or [],
        )


def _not_null(target: _Target, check: NotNullCheck) -> CheckResult:
    condition = " OR ".join(f"{quote_identifier(column)} IS NULL" for column in check.columns)
    columns = ", ".join(check.columns)
    return target.row_result(
        check,
        target.rows(check, condition),
        lambda n: f"{_rows(n)} with NULL in {columns}" if n else f"no NULL in {columns}",
    )


def _unique(target: _Target, check: UniqueCheck) -> CheckResult:
    keys = ", ".join(quote_identifier(column) for column in check.columns)
    present = " AND ".join(f"{quote_identifier(column)} IS NOT NULL" for column in check.columns)
    failing = (
        f"SELECT {keys}, COUNT(*) AS `row_count` FROM ({target.rows(check, present)}) AS checked "
        f"GROUP BY {keys} HAVING COUNT(*) > 1"
    )
    columns = ", ".join(check.columns)
    return target.row_result(
        check,
        failing,
        lambda n: f"{n} duplicated value{'s' if n != 1 else ''} of ({columns})" if n else f"({columns}) is unique",
        order_by="`row_count` DESC",
    )


def _accepted_values(target: _Target, check: AcceptedValuesCheck) -> CheckResult:
    column = quote_identifier(check.column)
    values = ", ".join(sql_literal(value) for value in check.values)
    shown = format_choices([sql_literal(value) for value in check.values])
    return target.row_result(
        check,
        target.rows(check, f"{column} IS NOT NULL AND {column} NOT IN ({values})"),
        lambda n: f"{_rows(n)} where {check.column} is not {shown}" if n else f"every {check.column} is {shown}",
    )


def _expression(target: _Target, check: ExpressionCheck) -> CheckResult:
    # NULL is not true: a row where the predicate is NULL fails, as it would not pass a CHECK constraint's intent.
    return target.row_result(
        check,
        target.rows(check, f"NOT coalesce(({check.expression}), FALSE)"),
        lambda n: f"{_rows(n)} where ({check.expression}) is not true" if n else f"every row has {check.expression}",
    )


def _sql(target: _Target, check: SqlCheck) -> CheckResult:
    query = check.query.strip().rstrip(";").strip()
    failing = f"SELECT * FROM ({query}) AS check_query" + (f" WHERE ({check.where})" if check.where else "")
    return target.row_result(
        check, failing, lambda n: f"the query returned {_rows(n)}" if n else "the query returned no rows"
    )


def _row_count(target: _Target, check: RowCountCheck) -> CheckResult:
    sql = f"SELECT COUNT(*) AS row_count FROM ({target.rows(check)}) AS checked"
    count = int(target.scalar(sql) or 0)
    low, high = check.min, check.max
    passed = (low is None or count >= low) and (high is None or count <= high)
    if low is not None and high is not None:
        expected = f"between {low} and {high}" if low != high else f"exactly {low}"
    else:
        expected = f"at least {low}" if low is not None else f"at most {high}"
    message = f"{_rows(count)}" + ("" if passed else f"; expected {expected}")
    return target.result(check, passed=passed, message=message, sql=sql)


def _freshness(target: _Target, check: FreshnessCheck) -> CheckResult:
    column = quote_identifier(check.column)
    sql = f"SELECT MAX({column}) AS latest FROM ({target.rows(check)}) AS checked"
    latest = target.scalar(sql)
    limit = format_duration(check.max_age)
    if latest is None:
        return target.result(
            check, passed=False, message=f"no {check.column} value; expected one newer than {limit}", sql=sql
        )
    newest = _as_utc(latest, check.column)
    age = (dt.datetime.now(dt.UTC) - newest).total_seconds()
    shown = f"newest {check.column} is {newest.isoformat(sep=' ')}, {format_duration(max(round(age), 0))} old"
    passed = age <= check.max_age
    return target.result(
        check, passed=passed, message=shown + ("" if passed else f"; expected at most {limit}"), sql=sql
    )


def _evaluate(target: _Target, check: Check) -> CheckResult:
    if isinstance(check, NotNullCheck):
        return _not_null(target, check)
    if isinstance(check, UniqueCheck):
        return _unique(target, check)
    if isinstance(check, AcceptedValuesCheck):
        return _accepted_values(target, check)
    if isinstance(check, RowCountCheck):
        return _row_count(target, check)
    if isinstance(check, FreshnessCheck):
        return _freshness(target, check)
    if isinstance(check, ExpressionCheck):
        return _expression(target, check)
    return _sql(target, check)


def _as_utc(value: Any, column: str) -> dt.datetime:
    """A timestamp or date as an aware UTC datetime (naive timestamps are taken as UTC, as Spark stores them)."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            return _as_utc(dt.datetime.fromisoformat(value), column)
        except ValueError:
            pass
    raise SqlError(
        f"freshness needs a timestamp or date column; {column!r} holds {type(value).__name__} values ({value!r})",
        hint="check a TIMESTAMP or DATE column, or cast it in an `sql` check",
    )


# -- errors and presentation -----------------------------------------------------------------------------------


def _analysis_error(session: EngineSession, table: str, check: Check, exc: AnalysisError) -> SqlError:
    """A SQL problem of a check, naming the check, the table and, when it is one, the unknown column."""
    columns = _table_columns(session, table)
    if columns is None:
        return SqlError(f"check {check.label!r} on {table}: {exc.message}", hint=exc.hint)
    known = {column.lower() for column in columns}
    missing = [column for column in check.columns_used() if column.lower() not in known]
    listed = f"columns of {table}: {', '.join(columns)}"
    if missing:
        suggestion = did_you_mean(missing[0], columns)
        return SqlError(
            f"check {check.label!r} on {table}: column {missing[0]!r} does not exist",
            hint=(f"did you mean {suggestion!r}? " if suggestion else "") + listed,
        )
    return SqlError(f"check {check.label!r} on {table}: {exc.message}", hint=listed)


def _table_columns(session: EngineSession, table: str) -> list[str] | None:
    try:
        return list(session.query(f"SELECT * FROM {quote_table(table)} LIMIT 0").columns)
    except AnalysisError:
        return None


def json_value(value: Any) -> Any:
    """A query value as JSON (dates as ISO text, decimals as numbers unless too precise, bytes as base64)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, decimal.Decimal):
        number = float(value)
        return number if decimal.Decimal(repr(number)) == value else str(value)  # text when a float would round
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_value(item) for item in value]
    return str(value)


def _rows(count: int) -> str:
    return f"{count} row{'s' if count != 1 else ''}"


def _count_text(result: CheckResult) -> str:
    if result.check_type in ("row_count", "freshness"):
        return result.message
    if result.check_type == "unique":
        return f"{result.failing_rows} duplicated value{'s' if result.failing_rows != 1 else ''}"
    return _rows(result.failing_rows)


def _format_rows(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Rows as a plain text table."""
    columns = list(dict.fromkeys(column for row in rows for column in row))
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(row[i]) for row in cells]) for i, column in enumerate(columns)]
    border = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    header = "|" + "|".join(f" {c:<{w}} " for c, w in zip(columns, widths, strict=True)) + "|"
    body = ["|" + "|".join(f" {c:<{w}} " for c, w in zip(row, widths, strict=True)) + "|" for row in cells]
    return [border, header, border, *body, border]


def _cell(value: Any) -> str:
    text = "NULL" if value is None else str(value)
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 3] + "..."


def _shell_quote(sql: str) -> str:
    """``sql`` as one shell word: in single quotes unless it has some (SQL strings), then in double quotes."""
    if "'" not in sql:
        return f"'{sql}'"
    return '"' + re.sub(r'([\\"`$])', r"\\\1", sql) + '"'
