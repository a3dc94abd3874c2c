"""Comparing a table's rows with expected rows: typed, order-insensitive, with a readable diff.

Key contracts:
- Pure: rows in, a :class:`RowDiff` out; :func:`render_row_diff` turns it into text. No engine, no files.
- Rows are compared as multisets (duplicates count) unless ``ordered``. Values are typed: the string ``'1'`` is not
  the number ``1``, a date is not a timestamp, ``true`` is not ``1``. Numbers compare by value across int, float
  and decimal, floats within a relative tolerance of 1e-9; timestamps compare as instants (naive ones are UTC, as
  Spark stores them); NaN equals NaN.
- The diff lists expected rows that are missing (``-``) and rows nobody expected (``+``) under one header,
  sorted so a missing row and the row that almost matches it sit together. Values that only differ by type get
  a note saying so, since they print alike.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import re
import uuid
from collections import Counter
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["RowDiff", "compare_rows", "describe_type", "format_value", "render_row_diff"]

REL_TOLERANCE = 1e-9
ABS_TOLERANCE = 1e-12
MAX_SHOWN_ROWS = 20
"""Rows of each kind (missing, unexpected) a rendered diff shows before "... and N more"."""
_CELL_WIDTH = 40
_LOOKS_TYPED = re.compile(r"^(-?\d+(\.\d*)?([eE][-+]?\d+)?|true|false|null|NULL|\d{4}-\d\d-\d\d.*)$")

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RowDiff:
    """How a table's rows differ from the expected ones (over ``columns`` only)."""

    table: str
    columns: tuple[str, ...]
    missing: tuple[Row, ...]
    """Expected rows the table does not have (as many times as they are missing)."""
    unexpected: tuple[Row, ...]
    """Rows of the table that no expected row matched."""
    matched: int
    order_problem: str | None = None
    """For ordered comparisons whose rows all match: where the order first differs."""

    @property
    def is_equal(self) -> bool:
        return not self.missing and not self.unexpected and self.order_problem is None

    @property
    def summary(self) -> str:
        """One line: `gold.t: 1 expected row missing, 2 unexpected rows (3 matched)`."""
        if self.order_problem is not None:
            return f"{self.table}: {self.order_problem}"
        parts = []
        if self.missing:
            parts.append(f"{_rows(len(self.missing), 'expected row')} missing")
        if self.unexpected:
            parts.append(f"{_rows(len(self.unexpected), 'unexpected row')}")
        return f"{self.table}: {', '.join(parts) or 'rows match'} ({self.matched} matched)"


def compare_rows(
    table: str,
    columns: Sequence[str],
    expected: Sequence[Sequence[Any]],
    actual: Sequence[Sequence[Any]],
    *,
    ordered: bool = False,
) -> RowDiff:
    """Compare ``actual`` rows with ``expected`` ones, both given as values of ``columns`` in that order."""
    expected_rows = [tuple(row) for row in expected]
    actual_rows = [tuple(row) for row in actual]
    missing, unexpected = _unmatched(expected_rows, actual_rows)
    matched = len(expected_rows) - len(missing)
    order_problem = None
    if ordered and not missing and not unexpected:
        order_problem = _order_problem(columns, expected_rows, actual_rows)
    return RowDiff(table, tuple(columns), tuple(missing), tuple(unexpected), matched, order_problem)


def _unmatched(expected: list[Row], actual: list[Row]) -> tuple[list[Row], list[Row]]:
    """Exact matches first (hashing canonical values), then the near ones (floats within tolerance)."""
    available = Counter(_canonical_row(row) for row in actual)
    left_expected: list[Row] = []
    for row in expected:
        key = _canonical_row(row)
        if available[key] > 0:
            available[key] -= 1
        else:
            left_expected.append(row)
    left_actual: list[Row] = []
    remaining = Counter(available)
    for row in actual:
        key = _canonical_row(row)
        if remaining[key] > 0:
            remaining[key] -= 1
            left_actual.append(row)
    missing: list[Row] = []
    for row in left_expected:
        index = next((i for i, other in enumerate(left_actual) if _rows_match(row, other)), None)
        if index is None:
            missing.append(row)
        else:
            left_actual.pop(index)
    return missing, left_actual


def _order_problem(columns: Sequence[str], expected: list[Row], actual: list[Row]) -> str | None:
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        if not _rows_match(want, got):
            return (
                f"the rows match but not in order: row {index + 1} is ({_row_text(columns, got)}), "
                f"expected ({_row_text(columns, want)})"
            )
    return None


def _row_text(columns: Sequence[str], row: Row) -> str:
    return ", ".join(f"{column}={format_value(value)}" for column, value in zip(columns, row, strict=True))


# -- typed values -------------------------------------------------------------------------------------------


def _canonical_row(row: Row) -> tuple[Hashable, ...]:
    return tuple(_canonical(value) for value in row)


def _canonical(value: Any) -> Hashable:
    """A hashable, typed form of a value: equal forms mean equal values (floats aside, see :func:`_rows_match`)."""
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, int | float | decimal.Decimal):
        return ("number", value)  # 1 == 1.0 == Decimal(1), and they hash alike
    if isinstance(value, dt.datetime):
        return ("timestamp", value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC))
    if isinstance(value, dt.date):
        return ("date", value)
    if isinstance(value, str | uuid.UUID):
        return ("string", str(value))
    if isinstance(value, bytes | bytearray | memoryview):
        return ("binary", bytes(value))
    if isinstance(value, list | tuple):
        return ("array", tuple(_canonical(item) for item in value))
    if isinstance(value, dict):
        return ("map", tuple(sorted((str(key), _canonical(item)) for key, item in value.items())))
    if isinstance(value, dt.time | dt.timedelta):
        return (type(value).__name__, value)
    return ("other", repr(value))


def _rows_match(left: Row, right: Row) -> bool:
    return len(left) == len(right) and all(_values_match(a, b) for a, b in zip(left, right, strict=True))


def _values_match(left: Any, right: Any) -> bool:
    a, b = _canonical(left), _canonical(right)
    if a == b:
        return True
    if a[0] == "number" and b[0] == "number":  # type: ignore[index]
        return math.isclose(float(left), float(right), rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)
    return False


def describe_type(value: Any) -> str:
    """The SQL-ish type of a value, for messages: `string`, `bigint`, `double`, `decimal`, `date`..."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bytes | bytearray | memoryview):
        return "binary"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "map"
    return type(value).__name__


def format_value(value: Any) -> str:
    """A value as a diff shows it: NULL, true/false, ISO dates; a string that would read as another type in
    double quotes (`"1"`, `"2024-01-01"`, `"NULL"`), so a typed difference is visible."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, str):
        if not value or value != value.strip() or _LOOKS_TYPED.match(value):
            return '"' + value.replace('"', '\\"') + '"'
        return value
    return str(value)


# -- rendering ----------------------------------------------------------------------------------------------


def render_row_diff(diff: RowDiff, *, max_rows: int = MAX_SHOWN_ROWS) -> str:
    """The summary line, then the missing (`-`) and unexpected (`+`) rows under a header, and notes on types."""
    lines = [diff.summary]
    if diff.order_problem is not None or diff.is_equal:
        return lines[0]
    marked = [("-", row) for row in diff.missing[:max_rows]] + [("+", row) for row in diff.unexpected[:max_rows]]
    marked.sort(key=lambda item: ([_cell(value) for value in item[1]], item[0] == "+"))
    cells = [[_cell(value) for value in row] for _, row in marked]
    header = list(diff.columns) or ["(no columns)"]
    widths = [max([len(name)] + [len(row[i]) for row in cells]) for i, name in enumerate(header)]
    lines.append("    | " + " | ".join(f"{name:<{w}}" for name, w in zip(header, widths, strict=True)) + " |")
    for (mark, _), row in zip(marked, cells, strict=True):
        lines.append(f"  {mark} | " + " | ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)) + " |")
    for mark, rows in (("-", diff.missing), ("+", diff.unexpected)):
        if len(rows) > max_rows:
            kind = "missing" if mark == "-" else "unexpected"
            lines.append(f"  {mark} ... and {len(rows) - max_rows} more {kind} rows")
    lines += _type_notes(diff)
    return "\n".join(lines)


def _type_notes(diff: RowDiff) -> list[str]:
    """Columns where a missing row and an unexpected one print alike but hold values of different types."""
    notes: dict[str, str] = {}
    for want in diff.missing:
        for got in diff.unexpected:
            if [_plain(v) for v in want] != [_plain(v) for v in got]:
                continue
            for column, a, b in zip(diff.columns, want, got, strict=True):
                if not _values_match(a, b) and column not in notes:
                    notes[column] = (
                        f"  note: {column}: expected {describe_type(a)} {format_value(a)}, "
                        f"got {describe_type(b)} {format_value(b)}; values are compared with their types"
                    )
    return list(notes.values())


def _plain(value: Any) -> str:
    return "NULL" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _cell(value: Any) -> str:
    text = re.sub(r"\s+", " ", format_value(value))
    return text if len(text) <= _CELL_WIDTH else text[: _CELL_WIDTH - 3] + "..."


def _rows(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
