"""Unit tests of notebooks and pipelines (`tests/*.yaml`): given tables, parameters, expected tables.

A file holds one test, or several under `tests:`::

    name: patient_summary_totals        # default: the file's name
    notebook: notebooks/gold/patient_summary.py
    parameters: {run_date: 2024-03-31}
    given:
      silver.encounters:
        rows:
          - {encounter_id: 1, patient_id: 7, admit_date: 2024-01-05, total_charge: 100.5}
    expect:
      gold.patient_summary:
        rows:
          - {patient_id: 7, encounters: 1, total_charge: 100.5}

Pydantic checks each file's shape; :func:`find_unit_test_problems` checks what needs more than one field (table
names, rows of scalars, a `file:` format), each at its source position. Whether notebooks, pipelines and fixture
files exist is the loader's business (:mod:`lockgate.services.testing`): it has the project.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lockgate.errors import Problem
from lockgate.model.project import Locate
from lockgate.model.yamlsource import YamlPath

__all__ = [
    "FILE_FORMATS",
    "ExpectedTable",
    "GivenTable",
    "UnitTest",
    "UnitTestFile",
    "file_format",
    "find_unit_test_problems",
]

FileFormat = Literal["csv", "parquet"]
FILE_FORMATS: dict[str, FileFormat] = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
"""Fixture file suffixes and the format each one means when `format:` is not written."""

_TABLE_NAME = re.compile(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")
_SCALARS = (str, int, float, bool, dt.date, dt.datetime, type(None))


class _TableData(BaseModel):
    """Rows written inline, or a CSV / Parquet file (relative to the test file's folder)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    rows: tuple[dict[str, Any], ...] | None = None
    """The rows, one mapping of column -> value each; a column a row leaves out is NULL in it."""
    file: str | None = None
    """A CSV (with a header line) or Parquet file, relative to the test file's folder."""
    format: FileFormat | None = None
    """`csv` or `parquet`; default: from the file's suffix."""

    @model_validator(mode="after")
    def _rows_or_file(self) -> _TableData:
        if self.rows is not None and self.file is not None:
            raise ValueError("give `rows:` or `file:`, not both")
        if self.format is not None and self.file is None:
            raise ValueError("`format:` goes with `file:`")
        return self

    def column_names(self) -> list[str]:
        """The columns the inline rows name, in order of first appearance."""
        return list(dict.fromkeys(column for row in self.rows or () for column in row))


class GivenTable(_TableData):
    """An input table, written to the scratch lake before the notebook or pipeline runs."""

    columns: dict[str, str] = Field(default_factory=dict)
    """Column -> Spark SQL type (`bigint`, `decimal(10,2)`, `date`...); other columns' types come from the
    values (YAML integers are `bigint`, decimals `double`, dates `date`), or from the file."""

    @model_validator(mode="after")
    def _some_data(self) -> GivenTable:
        if self.rows is None and self.file is None and not self.columns:
            raise ValueError("a given table needs `rows:` or `file:`\nhint: an empty table: `rows: []` and `columns:`")
        if not self.rows and self.file is None and not self.columns:
            raise ValueError("an empty given table needs `columns:` with the column types\nhint: columns: {id: bigint}")
        return self


class ExpectedTable(_TableData):
    """A table as it must be after the run (compared as a multiset of rows unless `ordered`)."""

    columns: tuple[str, ...] | None = None
    """Compare only these columns (default: every column the rows or the file name; others are ignored)."""
    ordered: bool = False
    """The rows must come in this order (`SELECT *` order: use it for tables written sorted)."""

    @model_validator(mode="after")
    def _some_data(self) -> ExpectedTable:
        if self.rows is None and self.file is None:
            raise ValueError("an expected table needs `rows:` (`rows: []` for an empty table) or `file:`")
        return self


class UnitTest(BaseModel):
    """One test: run a notebook or a pipeline on given tables and compare the tables it writes."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str | None = None
    """Shown in reports and matched by `--select`; default: the file's name (required under `tests:`)."""
    description: str | None = None
    notebook: str | None = None
    """The notebook to run (project-relative path, extension optional)."""
    pipeline: str | None = None
    """The pipeline to run (its name)."""
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Widget values for a notebook, parameter values for a pipeline."""
    given: dict[str, GivenTable] = Field(default_factory=dict)
    """Input tables by `schema.table`; every other table starts missing (the scratch lake is empty)."""
    expect: dict[str, ExpectedTable] = Field(default_factory=dict)
    """Tables by `schema.table` as they must be after the run; without any, the run only has to succeed."""
    expect_failure: bool = False
    """The run must fail (a notebook raising on bad input, say); `expect:` is then checked too."""
    error_contains: str | None = None
    """Text the failure's message must contain (implies `expect_failure`)."""

    @model_validator(mode="after")
    def _one_target(self) -> UnitTest:
        if (self.notebook is None) == (self.pipeline is None):
            raise ValueError("a test runs one `notebook:` or one `pipeline:`\nhint: write exactly one of the two")
        return self

    @property
    def target(self) -> str:
        return self.notebook if self.notebook is not None else str(self.pipeline)

    @property
    def expects_failure(self) -> bool:
        return self.expect_failure or self.error_contains is not None


class UnitTestFile(BaseModel):
    """A test file holding several tests."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    tests: tuple[UnitTest, ...] = Field(min_length=1)


def file_format(table: GivenTable | ExpectedTable) -> FileFormat | None:
    """The format of a table's `file:`: as written, else from its suffix (None when neither says)."""
    if table.format is not None or table.file is None:
        return table.format
    return FILE_FORMATS.get(PurePosixPath(table.file).suffix.lower())


def find_unit_test_problems(test: UnitTest, locate: Locate, base: YamlPath = ()) -> list[Problem]:
    """What pydantic cannot see in one test: table names, rows of scalar values, file formats, column lists."""
    problems: list[Problem] = []
    for section, tables in (("given", test.given), ("expect", test.expect)):
        for table, data in tables.items():
            path = (*base, section, table)
            if not _TABLE_NAME.match(table):
                hint = "name a table by its schema and name, as queries write it: silver.orders"
                problems.append(Problem(f"{section}: {table!r} is not schema.table", locate(path), hint))
            problems += _row_problems(data, path, locate)
            if data.file is not None and file_format(data) is None:
                problems.append(
                    Problem(
                        f"cannot tell the format of {data.file!r}",
                        locate((*path, "file")),
                        "add `format: csv` or `format: parquet`, or name the file .csv or .parquet",
                    )
                )
    return problems


def _row_problems(data: GivenTable | ExpectedTable, path: YamlPath, locate: Locate) -> list[Problem]:
    problems: list[Problem] = []
    for index, row in enumerate(data.rows or ()):
        for column, value in row.items():
            if not isinstance(value, _SCALARS):
                problems.append(
                    Problem(
                        f"column {column!r} holds a {type(value).__name__}; inline rows hold scalar values only",
                        locate((*path, "rows", index, column)),
                        "write nested values (arrays, structs) in a Parquet `file:`",
                    )
                )
    if isinstance(data, ExpectedTable) and data.columns is not None and data.rows:
        named = {column.lower() for column in data.column_names()}
        for index, column in enumerate(data.columns):
            if column.lower() not in named:
                problems.append(
                    Problem(
                        f"`columns:` lists {column!r}, which no expected row gives",
                        locate((*path, "columns", index)),
                        "give it in the rows, or drop it from `columns:`",
                    )
                )
    return problems
