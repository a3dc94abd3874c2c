from __future__ import annotations

import pytest

from lockgate.model.suggest import did_you_mean, format_choices


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notebok", "notebook"),
        ("sqll", "sql"),
        ("SQL", "sql"),
        ("Notebook", "notebook"),
        ("dependson", "depends_on"),
        ("zzz", None),
        ("", None),
        ("sql", None),
    ],
)
def test_did_you_mean(name: str, expected: str | None) -> None:
    assert did_you_mean(name, ["notebook", "sql", "copy", "depends_on"]) == expected


def test_did_you_mean_prefers_a_case_insensitive_match_over_a_closer_spelling() -> None:
    assert did_you_mean("Prod", ["prods", "PROD"]) == "PROD"


def test_did_you_mean_accepts_any_iterable() -> None:
    assert did_you_mean("tset", (name for name in ["dev", "test"])) == "test"
    assert did_you_mean("dev", []) is None


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [([], ""), (["a"], "a"), (["a", "b"], "a or b"), (["a", "b", "c"], "a, b or c")],
)
def test_format_choices(candidates: list[str], expected: str) -> None:
    assert format_choices(candidates) == expected


def test_format_choices_quoted() -> None:
    assert format_choices(["dev", "prod"], quote=True) == "'dev' or 'prod'"


def test_format_choices_keeps_long_lists_short() -> None:
    assert format_choices([f"n{i}" for i in range(20)], limit=3) == "n0, n1, n2 ... and 17 more"
