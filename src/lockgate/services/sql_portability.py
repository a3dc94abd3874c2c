"""SQL that only one of the project's engines runs, as `lockgate validate` problems.

A project runs its SQL on the engines its environments name (`engine:` in `lockgate.yaml`, per environment or for
the whole project). A statement that one of those engines cannot run is a problem named after the construct,
located at it, with the environments that would fail: ``runs on DuckDB only (environment prod uses spark):
function strftime() is not in Spark SQL``. What counts as runnable is :mod:`lockgate.engine.sql_portability`'s
call; this module only decides which engines matter and words the problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from lockgate.engine.sql import Statement
from lockgate.engine.sql_portability import EngineGap, find_engine_gaps
from lockgate.errors import Problem

EngineUsage = Mapping[str, Sequence[str]]
"""Each engine the project uses, with the environments that use it, in file order."""

_ONLY = {"duckdb": "Spark", "spark": "DuckDB"}
"""The engine a construct runs on when the other cannot run it."""


def find_portability_problems(
    sql: str, statements: Iterable[Statement], *, usage: EngineUsage, line: int = 1, column_offset: int = 0
) -> list[Problem]:
    """A problem for each construct of ``statements`` that an engine in ``usage`` cannot run.

    Args:
        sql: The text the statements were split from.
        statements: ``split_statements(sql, file=..., line=line, column_offset=column_offset)``.
        usage: The engines the project's environments use, with their names; a project with one engine is
            only checked for that one.
        line: The file line where ``sql`` starts.
        column_offset: Characters before the SQL on each file line.
    """
    if not usage:
        return []
    gaps = find_engine_gaps(sql, statements, engines=usage.keys(), line=line, column_offset=column_offset)
    return [_problem(gap, usage) for gap in gaps]


def _problem(gap: EngineGap, usage: EngineUsage) -> Problem:
    environments = usage[gap.engine]
    users = (
        f"environment {environments[0]} uses {gap.engine}"
        if len(environments) == 1
        else f"environments {', '.join(environments)} use {gap.engine}"
    )
    return Problem(f"runs on {_ONLY[gap.engine]} only ({users}): {gap.message}", gap.location, gap.hint)
