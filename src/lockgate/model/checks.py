"""Data-quality checks: on table declarations (`tables/*.yaml`) and in `check` activities (`activities/check.py`).

A check is written in full (`{type: not_null, columns: [id]}`) or short (`{not_null: [id]}`,
`{accepted_values: {column: status, values: [new, paid]}}`), with an optional `severity` (`error` fails the
activity, `warn` only reports), `where` (a SQL filter on the rows checked) and `name`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from lockgate.model.duration import Duration

Severity = Literal["error", "warn"]

_PRIMARY_FIELD = {
    "not_null": "columns",
    "unique": "columns",
    "accepted_values": "column",
    "row_count": "min",
    "freshness": "column",
    "expression": "expression",
    "sql": "query",
}
CHECK_TYPES = tuple(_PRIMARY_FIELD)


def _expand_short_form(value: Any) -> Any:
    """`{not_null: [id], severity: warn}` -> `{type: not_null, columns: [id], severity: warn}`."""
    if not isinstance(value, dict) or "type" in value:
        return value
    kinds = [key for key in value if key in _PRIMARY_FIELD]
    if len(kinds) != 1:
        return value  # pydantic then reports the missing `type`, listing the choices
    kind = kinds[0]
    rest = {key: item for key, item in value.items() if key != kind}
    body = value[kind]
    if isinstance(body, dict):
        return {"type": kind, **body, **rest}
    return {"type": kind, _PRIMARY_FIELD[kind]: body, **rest}


def _as_tuple(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _CheckBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str | None = None
    """Shown in reports; default: the check's type and columns."""
    severity: Severity = "error"
    """`error` fails the activity (downstream does not run); `warn` reports and goes on."""
    where: str | None = None
    """Check only the rows matching this SQL condition."""

    def columns_used(self) -> tuple[str, ...]:
        return ()

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        kind = getattr(self, "type", "check")
        columns = self.columns_used()
        return f"{kind}({', '.join(columns)})" if columns else str(kind)


class NotNullCheck(_CheckBase):
    """No NULLs in these columns."""

    type: Literal["not_null"]
    columns: Annotated[tuple[str, ...], BeforeValidator(_as_tuple)] = Field(min_length=1)

    def columns_used(self) -> tuple[str, ...]:
        return self.columns


class UniqueCheck(_CheckBase):
    """No two rows share these columns' values (together)."""

    type: Literal["unique"]
    columns: Annotated[tuple[str, ...], BeforeValidator(_as_tuple)] = Field(min_length=1)

    def columns_used(self) -> tuple[str, ...]:
        return self.columns


class AcceptedValuesCheck(_CheckBase):
    """Every non-NULL value of the column is one of `values`."""

    type: Literal["accepted_values"]
    column: str
    values: tuple[Any, ...] = Field(min_length=1)

    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)


class RowCountCheck(_CheckBase):
    """The table has between `min` and `max` rows."""

    type: Literal["row_count"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> RowCountCheck:
        if self.min is None and self.max is None:
            raise ValueError("a row_count check needs `min:`, `max:` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"row_count min ({self.min}) is above max ({self.max})")
        return self


class FreshnessCheck(_CheckBase):
    """The newest value of a timestamp column is at most `max_age` old."""

    type: Literal["freshness"]
    column: str
    max_age: Duration

    def columns_used(self) -> tuple[str, ...]:
        return (self.column,)


class ExpressionCheck(_CheckBase):
    """Every row satisfies a SQL predicate (`amount >= 0`)."""

    type: Literal["expression"]
    expression: str


class SqlCheck(_CheckBase):
    """A query that must return no rows (the rows it returns are the failures)."""

    type: Literal["sql"]
    query: str


Check = Annotated[
    Annotated[
        NotNullCheck | UniqueCheck | AcceptedValuesCheck | RowCountCheck | FreshnessCheck | ExpressionCheck | SqlCheck,
        Field(discriminator="type"),
    ],
    BeforeValidator(_expand_short_form),
]


class TableDeclaration(BaseModel):
    """A table's description, columns and checks (`tables/*.yaml` maps `schema.table` names to these)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    description: str | None = None
    columns: dict[str, str | None] = Field(default_factory=dict)
    """Column names with their types or descriptions; when listed, checks may only name these."""
    checks: tuple[Check, ...] = ()
    """Run after every activity that writes the table, and by `lockgate test`."""


class TablesFile(BaseModel):
    """A `tables/*.yaml` file."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    tables: dict[str, TableDeclaration]
