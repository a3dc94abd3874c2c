"""Typed values a user declares: project variables and pipeline parameters.

Both are declared as ``name: {type: int, default: 3, description: ...}`` and receive raw values from YAML, the
command line (always text) or an expression. ``coerce_value`` turns either into the declared Python type, so a
``-p run_date=2024-01-31`` and a YAML date mean the same thing.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ValueType(StrEnum):
    string = "string"
    int = "int"
    float = "float"
    bool = "bool"
    date = "date"
    datetime = "datetime"
    array = "array"
    object = "object"


_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}


class ValueSpec(BaseModel):
    """A declared, typed value with an optional default."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    type: ValueType = ValueType.string
    """The value's type; text from the command line is converted to it."""
    default: Any = None
    """Used when no value is given. Without a default the value is required."""
    description: str | None = None
    """Shown by `lockgate validate` and in the JSON Schema."""
    required: bool | None = Field(default=None, exclude=True)
    """Set `required: true` to refuse a declared default of null; normally inferred from `default`."""

    @property
    def is_required(self) -> bool:
        return self.required if self.required is not None else self.default is None


def coerce_value(value_type: ValueType, raw: Any) -> Any:
    """Convert ``raw`` (YAML value or command-line text) to ``value_type``.

    Raises:
        ValueError: with a message saying what was expected and what was given.
    """
    try:
        return _COERCERS[value_type](raw)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"expected {_ARTICLE[value_type]}, got {raw!r}") from exc


def _to_string(raw: Any) -> str:
    if isinstance(raw, dt.date | dt.datetime):
        return raw.isoformat()
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, list | dict):
        return json.dumps(raw)
    return str(raw)


def _to_int(raw: Any) -> int:
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(raw)
    return int(raw)


def _to_float(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError(raw)
    return float(raw)


def _to_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(raw)


def _to_date(raw: Any) -> dt.date:
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    return dt.date.fromisoformat(str(raw).strip())


def _to_datetime(raw: Any) -> dt.datetime:
    if isinstance(raw, dt.datetime):
        return raw
    if isinstance(raw, dt.date):
        return dt.datetime(raw.year, raw.month, raw.day)
    return dt.datetime.fromisoformat(str(raw).strip())


def _to_array(raw: Any) -> list[Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, list | tuple):
        raise ValueError(raw)
    return list(value)


def _to_object(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict):
        raise ValueError(raw)
    return dict(value)


_COERCERS = {
    ValueType.string: _to_string,
    ValueType.int: _to_int,
    ValueType.float: _to_float,
    ValueType.bool: _to_bool,
    ValueType.date: _to_date,
    ValueType.datetime: _to_datetime,
    ValueType.array: _to_array,
    ValueType.object: _to_object,
}

_ARTICLE = {
    ValueType.string: "a string",
    ValueType.int: "an integer",
    ValueType.float: "a number",
    ValueType.bool: "true or false",
    ValueType.date: "a date (YYYY-MM-DD)",
    ValueType.datetime: "a date and time (YYYY-MM-DDTHH:MM:SS)",
    ValueType.array: "a list (JSON array on the command line)",
    ValueType.object: "a mapping (JSON object on the command line)",
}


def render_widget_value(value: Any) -> str:
    """Text a notebook widget receives for a typed value (widgets only hold strings, as in Databricks)."""
    return _to_string(value)
