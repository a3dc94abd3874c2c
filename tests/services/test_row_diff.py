"""``compare_rows`` / ``render_row_diff``: typed, order-insensitive comparison and its readable diff."""

from __future__ import annotations

import datetime as dt
import decimal

from lockgate.services.row_diff import compare_rows, format_value, render_row_diff

COLUMNS = ("id", "name")


def test_rows_in_another_order_match() -> None:
    diff = compare_rows("t.t", COLUMNS, [(1, "a"), (2, "b")], [(2, "b"), (1, "a")])
    assert diff.is_equal
    assert diff.matched == 2


def test_duplicates_count() -> None:
    diff = compare_rows("t.t", COLUMNS, [(1, "a"), (1, "a")], [(1, "a")])
    assert diff.missing == ((1, "a"),)
    assert diff.unexpected == ()
    assert diff.summary == "t.t: 1 expected row missing (1 matched)"


def test_values_keep_their_types() -> None:
    assert not compare_rows("t.t", ("v",), [("1",)], [(1,)]).is_equal
    assert not compare_rows("t.t", ("v",), [(True,)], [(1,)]).is_equal
    assert not compare_rows("t.t", ("v",), [("2024-01-01",)], [(dt.date(2024, 1, 1),)]).is_equal
    assert not compare_rows("t.t", ("v",), [(dt.date(2024, 1, 1),)], [(dt.datetime(2024, 1, 1),)]).is_equal


def test_numbers_compare_by_value_with_a_tolerance_for_floats() -> None:
    assert compare_rows("t.t", ("v",), [(1,)], [(1.0,)]).is_equal
    assert compare_rows("t.t", ("v",), [(150.35,)], [(decimal.Decimal("150.35"),)]).is_equal
    assert compare_rows("t.t", ("v",), [(0.3,)], [(0.1 + 0.2,)]).is_equal
    assert compare_rows("t.t", ("v",), [(float("nan"),)], [(float("nan"),)]).is_equal
    assert not compare_rows("t.t", ("v",), [(150.35,)], [(150.36,)]).is_equal


def test_timestamps_compare_as_instants_naive_ones_in_utc() -> None:
    aware = dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert compare_rows("t.t", ("v",), [(dt.datetime(2024, 1, 1, 10),)], [(aware,)]).is_equal


def test_ordered_comparison_names_the_first_row_out_of_place() -> None:
    diff = compare_rows("t.t", COLUMNS, [(1, "a"), (2, "b")], [(2, "b"), (1, "a")], ordered=True)
    assert not diff.is_equal
    assert diff.order_problem == "the rows match but not in order: row 1 is (id=2, name=b), expected (id=1, name=a)"
    assert render_row_diff(diff) == f"t.t: {diff.order_problem}"


def test_the_diff_shows_missing_and_unexpected_rows_under_one_header() -> None:
    diff = compare_rows("gold.t", COLUMNS, [(1, "a"), (2, "b"), (3, "c")], [(1, "a"), (2, "B"), (4, None)])
    assert render_row_diff(diff).splitlines() == [
        "gold.t: 2 expected rows missing, 2 unexpected rows (1 matched)",
        "    | id | name |",
        "  + | 2  | B    |",
        "  - | 2  | b    |",
        "  - | 3  | c    |",
        "  + | 4  | NULL |",
    ]


def test_values_differing_only_in_type_get_a_note() -> None:
    text = render_row_diff(compare_rows("gold.t", COLUMNS, [("1", "a")], [(1, "a")]))
    assert '  - | "1" | a    |' in text
    assert "  + | 1   | a    |" in text
    assert 'note: id: expected string "1", got bigint 1; values are compared with their types' in text


def test_long_diffs_are_cut() -> None:
    diff = compare_rows("t.t", ("v",), [(n,) for n in range(30)], [])
    lines = render_row_diff(diff, max_rows=5).splitlines()
    assert len([line for line in lines if line.startswith("  - |")]) == 5
    assert lines[-1] == "  - ... and 25 more missing rows"


def test_strings_that_read_as_other_types_are_quoted() -> None:
    assert format_value("abc") == "abc"
    assert [format_value(v) for v in ("1", "2024-01-01", "NULL", "", " x")] == [
        '"1"',
        '"2024-01-01"',
        '"NULL"',
        '""',
        '" x"',
    ]
    assert format_value(None) == "NULL"
    assert format_value(True) == "true"
    assert format_value(dt.datetime(2024, 1, 1, 10, 30)) == "2024-01-01 10:30:00"
