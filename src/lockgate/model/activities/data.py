"""Activities that do work on data: notebooks, SQL, copies, lookups, folder listings, HTTP calls."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lockgate.model.activities.base import ActivityBase

FileFormat = Literal["csv", "parquet", "json"]


class NotebookActivity(ActivityBase):
    """Runs a notebook (`.py`, `.sql`, `.ipynb`, Databricks source) with widget values."""

    type: Literal["notebook"]
    notebook: str
    """Path from the project root; the extension may be left out."""
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Widget values; strings may hold `{{ expressions }}`."""


class SqlActivity(ActivityBase):
    """Runs Spark SQL statements, inline (`sql:`) or from a file (`file:`)."""

    type: Literal["sql"]
    sql: str | None = None
    """Statements to run, separated by `;`."""
    file: str | None = None
    """A `.sql` file from the project root."""
    parameters: dict[str, Any] = Field(default_factory=dict)
    """Values for `${name}` and `:name` references in the SQL."""

    @model_validator(mode="after")
    def _exactly_one_source(self) -> SqlActivity:
        if (self.sql is None) == (self.file is None):
            raise ValueError(
                "a sql activity needs exactly one of `sql:` (inline) or `file:`\nhint: e.g. `file: sql/gold.sql`"
            )
        return self


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class FileLocation(_Strict):
    """Files in a connection's folder."""

    connection: str
    """A connection of type `local` from `lockgate.yaml`."""
    path: str = ""
    """File or folder below the connection's folder; a glob (`orders/*.csv`) reads many files."""
    format: FileFormat
    """`csv`, `parquet` or `json` (JSON lines or an array)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Reader/writer options, e.g. `{header: true, delimiter: ";"}` for CSV."""


class TableSource(_Strict):
    """Rows from a table, or from a query over tables."""

    table: str | None = None
    """`schema.table` in the environment's lake."""
    query: str | None = None
    """A Spark SQL query; expressions are rendered first."""

    @model_validator(mode="after")
    def _one_of(self) -> TableSource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table:` or `query:`")
        return self


class TableSink(_Strict):
    table: str
    """`schema.table` to write."""
    mode: Literal["overwrite", "append"] = "append"
    """`overwrite` replaces the table's rows; `append` adds to them."""


class Incremental(_Strict):
    """Copy only rows newer than last time: rows whose watermark column is above the stored watermark."""

    watermark_column: str
    """A column that grows with new rows (a timestamp or an increasing id)."""
    key: str | None = None
    """Name the watermark is stored under, per environment (default: `<pipeline>.<activity>`)."""


class CopyActivity(ActivityBase):
    """Copies rows between files in a connection and tables, in full or incrementally by a watermark."""

    type: Literal["copy"]
    source: FileLocation | TableSource
    sink: FileLocation | TableSink
    incremental: Incremental | None = None


class LookupActivity(ActivityBase):
    """Runs a query (or reads a table, or files) and outputs its first row, or all its rows."""

    type: Literal["lookup"]
    source: TableSource | FileLocation
    first_row_only: bool = True
    """Output `firstRow` (default) or `value` (all rows, up to 5,000) and `count`."""


class GetMetadataActivity(ActivityBase):
    """Lists a folder of a connection: names, types, sizes and modified times."""

    type: Literal["get_metadata"]
    connection: str
    path: str = ""
    """Folder (or file) below the connection's folder."""


class WebActivity(ActivityBase):
    """Calls an HTTP endpoint of a connection of type `http`; the response is the output."""

    type: Literal["web"]
    connection: str
    path: str = ""
    """Appended to the connection's `base_url`; may hold expressions."""
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers; values may be `secret:NAME` references or expressions."""
    body: Any = None
    """Sent as JSON for anything but a string."""
    expected_status: tuple[int, ...] = ()
    """Statuses that count as success (default: any 2xx)."""
