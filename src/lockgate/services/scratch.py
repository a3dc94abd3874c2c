"""The scratch environment a unit test runs in: an empty lake of its own, given tables written into it.

Key contracts:
- :func:`scratch_project` is the project with one more environment, :data:`SCRATCH_ENVIRONMENT`, whose lake is
  the scratch folder. It copies the base environment's catalog, variables and secret scope, so notebooks see
  the values they see there, and turns lineage off: a test run is nobody's lineage.
- Given tables are written through the engine's own SQL and DataFrame API (Spark SQL `CREATE OR REPLACE TABLE
  ... AS SELECT` for inline rows, `spark.read` for files), so they are Delta tables like any other, on any engine.
- Types are exact: each inline value is cast to its column's type, from `columns:` or else inferred from the YAML
  values (integers `bigint`, decimals `double`, dates `date`, timestamps `timestamp`, text `string`). A column
  mixing types is an error, not a silent cast to text.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lockgate.engine.base import EngineSession, LakeTarget, QueryResult
from lockgate.errors import TableNotFoundError, UserInputError
from lockgate.model.project import resolve_environment
from lockgate.model.unit_test import ExpectedTable, GivenTable, file_format
from lockgate.services.checks import quote_identifier, quote_table, sql_literal
from lockgate.services.project import Project
from lockgate.services.row_diff import describe_type

__all__ = [
    "SCRATCH_ENVIRONMENT",
    "infer_column_type",
    "read_expected_rows",
    "read_table",
    "scratch_project",
    "scratch_target",
    "write_given_table",
]

SCRATCH_ENVIRONMENT = "lockgate-test"
"""The environment unit tests run in (its name can clash with no user environment: they have no such name)."""
_MAX_ROWS = 10_000_000
_INFERRED = {
    frozenset({"bigint"}): "bigint",
    frozenset({"bigint", "double"}): "double",
    frozenset({"double"}): "double",
    frozenset({"boolean"}): "boolean",
    frozenset({"date"}): "date",
    frozenset({"timestamp"}): "timestamp",
    frozenset({"date", "timestamp"}): "timestamp",
    frozenset({"string"}): "string",
}
_SCALAR_KINDS = frozenset().union(*_INFERRED)


def scratch_project(project: Project, lake: Path, *, base_environment: str | None = None) -> Project:
    """``project`` with the scratch environment (lake ``lake``) added; the base environment's values copied."""
    config = project.config
    base_name = base_environment or config.default_environment
    resolve_environment(config, base_name)  # an unknown base environment fails here, with did-you-mean
    base = config.environments[base_name]
    environment = base.model_copy(
        update={
            "lake": str(lake),
            "catalog": base.catalog or base_name,
            "secret_scope": base.secret_scope or base_name,
            "protected": False,
            "require_approval": False,
        }
    )
    scratch = config.model_copy(
        update={"environments": {**config.environments, SCRATCH_ENVIRONMENT: environment}, "lineage": None}
    )
    return dataclasses.replace(project, config=scratch)


def scratch_target(project: Project, *, engine: str | None = None) -> tuple[str, LakeTarget]:
    """The engine name and lake target of a project made by :func:`scratch_project`."""
    env = resolve_environment(project.config, SCRATCH_ENVIRONMENT, engine=engine)
    target = LakeTarget(
        environment=env.name,
        lake_root=(project.root / env.lake).resolve(),
        catalog=env.catalog,
        project_root=project.root,
    )
    return env.engine, target


# -- given tables -------------------------------------------------------------------------------------------


def write_given_table(session: EngineSession, table: str, given: GivenTable, *, folder: Path) -> None:
    """Write ``given`` as Delta table ``table`` (replacing it); files are relative to ``folder``.

    Raises:
        UserInputError: a column mixes value types.
        SqlError: a column type in `columns:` is not a Spark SQL type.
    """
    if given.file is not None:
        frame = _read_file(session, folder / given.file, file_format(given), given.columns)
        frame.write.mode("overwrite").saveAsTable(table)
        return
    columns = list(dict.fromkeys([*given.columns, *given.column_names()]))
    rows = [_row_values(row, columns) for row in given.rows or ()]
    types = [
        given.columns.get(column) or infer_column_type(column, [row[i] for row in rows])
        for i, column in enumerate(columns)
    ]
    session.sql(f"CREATE OR REPLACE TABLE {quote_table(table)} AS {_select_sql(columns, types, rows)}")


def infer_column_type(column: str, values: Sequence[Any]) -> str:
    """The Spark SQL type of a column from its YAML values (`string` when all are NULL).

    Raises:
        UserInputError: the values mix types (text and numbers, say).
    """
    kinds = {_kind(value) for value in values if value is not None}
    if not kinds:
        return "string"
    inferred = _INFERRED.get(frozenset(kinds))
    if inferred is None:
        raise UserInputError(
            f"column {column!r} mixes {' and '.join(sorted(kinds))} values",
            hint=f"write them alike (quote them all for text), or give the type: `columns: {{{column}: string}}`",
        )
    return inferred


def _kind(value: Any) -> str:
    """A YAML value's kind as `_INFERRED` knows them; anything else is written as text."""
    kind = describe_type(value)
    return kind if kind in _SCALAR_KINDS else "string"


def _row_values(row: dict[str, Any], columns: list[str]) -> list[Any]:
    by_lower = {key.lower(): value for key, value in row.items()}
    return [row[column] if column in row else by_lower.get(column.lower()) for column in columns]


def _select_sql(columns: list[str], types: list[str], rows: list[list[Any]]) -> str:
    """`SELECT ... FROM VALUES` with every value cast to its column's type (no rows: `WHERE FALSE`)."""
    names = [quote_identifier(column) for column in columns]
    if not rows:
        casts = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in zip(names, types, strict=True))
        return f"SELECT {casts} WHERE FALSE"
    values = ",\n  ".join(
        "(" + ", ".join(f"CAST({_literal(value)} AS {kind})" for value, kind in zip(row, types, strict=True)) + ")"
        for row in rows
    )
    return f"SELECT * FROM VALUES\n  {values}\nAS given({', '.join(names)})"


def _literal(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"'{value}'"  # cast from text: Spark SQL has no literal for NaN or infinity
    return sql_literal(value)


def _read_file(session: EngineSession, path: Path, kind: str | None, columns: dict[str, str]) -> Any:
    """A DataFrame of a CSV or Parquet file; ``columns`` cast to their types.

    A CSV is read as text and every column cast once, to its `columns:` type or else to the type inference
    gives it, so a listed column's values are never inferred first (`007` stays `007` as a string).
    """
    reader = session.spark.read
    if kind == "parquet":
        frame = reader.parquet(str(path))
        types = {name: columns.get(name) for name, _ in frame.dtypes}
    else:
        inferred = reader.csv(str(path), header=True, inferSchema=True).dtypes
        frame = reader.csv(str(path), header=True)
        types = {name: columns.get(name) or kind for name, kind in inferred}
    unknown = [name for name in columns if name not in types]
    if unknown:
        raise UserInputError(
            f"{path.name} has no column {unknown[0]!r} (listed under `columns:`)",
            hint=f"its columns: {', '.join(types)}",
        )
    if not any(types.values()):
        return frame
    expressions = [
        f"CAST({quote_identifier(name)} AS {kind}) AS {quote_identifier(name)}" if kind else quote_identifier(name)
        for name, kind in types.items()
    ]
    return frame.selectExpr(*expressions)


# -- reading tables -----------------------------------------------------------------------------------------


def read_table(session: EngineSession, table: str) -> QueryResult | None:
    """Every row of ``table``; None when it does not exist."""
    try:
        return session.query(f"SELECT * FROM {quote_table(table)}")
    except TableNotFoundError:
        return None


def read_expected_rows(session: EngineSession, expected: ExpectedTable, *, folder: Path) -> QueryResult:
    """The expected rows as a query result: the inline rows (missing keys are NULL), or the file's rows."""
    if expected.file is not None:
        frame = _read_file(session, folder / expected.file, file_format(expected), {})
        if expected.columns is not None:
            frame = frame.select(*expected.columns)
        return session.fetch(frame, limit=_MAX_ROWS)
    columns = list(expected.columns) if expected.columns is not None else expected.column_names()
    return QueryResult(tuple(columns), [tuple(_row_values(row, columns)) for row in expected.rows or ()])
