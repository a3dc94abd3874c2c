"""Databricks parameters in SQL: references substituted, widget declarations read."""

from __future__ import annotations

import pytest

from lockgate.engine.sql import Statement, split_statements
from lockgate.engine.sql_parameters import substitute_parameters
from lockgate.errors import SqlError


def one(sql: str) -> Statement:
    statements = split_statements(sql, file="q.sql")
    assert len(statements) == 1
    return statements[0]


# --- substitute_parameters ----------------------------------------------------------------------------------


def test_substitute_widget_references() -> None:
    sql = (
        "SELECT * FROM ${schema}.patients\n"
        "WHERE visit >= '${start}' AND name = :name AND id::int > :min_id\n"
        "  AND payload:field = 1 AND note = ':name' AND `:name` = 1 -- :name\n"
        "  AND env = '{{ env }}'"
    )
    values = {"schema": "silver", "start": "2024-01-01", "name": "o'neil", "min_id": "3", "env": "dev"}

    assert substitute_parameters(sql, values) == (
        "SELECT * FROM silver.patients\n"
        "WHERE visit >= '2024-01-01' AND name = 'o\\'neil' AND id::int > '3'\n"
        "  AND payload:field = 1 AND note = ':name' AND `:name` = 1 -- :name\n"
        "  AND env = 'dev'"
    )


def test_substituted_marker_parses_back_to_the_value() -> None:
    sql = substitute_parameters("SELECT :v AS v", {"v": "it's \\ fine"})
    assert one(sql).expression.selects[0].this.name == "it's \\ fine"


@pytest.mark.parametrize("sql", ["SELECT ${shema}", "SELECT {{shema}}", "SELECT :shema"])
def test_unknown_parameter(sql: str) -> None:
    with pytest.raises(SqlError, match=r"p\.sql:3:8: unknown parameter 'shema'") as info:
        substitute_parameters(sql, {"schema": "x", "day": "y"}, file="p.sql", line=3)
    assert info.value.hint is not None
    assert info.value.hint.startswith("did you mean 'schema'? defined: day, schema")
