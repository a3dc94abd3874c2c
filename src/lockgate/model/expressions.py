"""Expressions in definitions: sandboxed Jinja2 with strict undefined names, rendered per field at run time.

A value such as ``"{{ env.vars.landing_path }}/patients.csv"`` is rendered with a context holding
:data:`CONTEXT_NAMES`: ``pipeline`` (``name``, ``run_id``, ``parameters``), ``env`` (``name``, ``catalog``,
``vars``), ``trigger`` (``type``, ``name``, ``time``, ``window_start``, ``window_end``, ``file_path``),
``variables``, ``activity('name')`` (``output``, ``status``, ``error``) and, inside a ``foreach``, ``item``.
A field that is one whole expression (``"{{ pipeline.parameters.limit }}"``) keeps the value's type.
:data:`FUNCTIONS` are the date/time and string helpers every expression can call.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?:(?!\}\}).)*\}\}\s*$", re.DOTALL)

CONTEXT_NAMES = frozenset({"pipeline", "env", "trigger", "variables", "activity", "item"})
"""Names the run provides (``item`` only inside a ``foreach``)."""


class ExpressionError(ValueError):
    """An expression did not parse or used a name that does not exist; the message says which."""


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _format_datetime(value: Any, pattern: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return _as_datetime(value).astimezone(dt.UTC).strftime(pattern)


def _add(unit: str) -> Any:
    def add(value: Any, amount: float) -> dt.datetime:
        return _as_datetime(value) + dt.timedelta(**{unit: amount})

    add.__name__ = f"add_{unit}"
    return add


def _start_of_day(value: Any) -> dt.datetime:
    return _as_datetime(value).replace(hour=0, minute=0, second=0, microsecond=0)


def _start_of_month(value: Any) -> dt.datetime:
    return _start_of_day(value).replace(day=1)


def _coalesce(*values: Any) -> Any:
    return next((v for v in values if v is not None and not isinstance(v, Undefined)), None)


FUNCTIONS: dict[str, Any] = {
    "utcnow": lambda: dt.datetime.now(dt.UTC),
    "today": lambda: dt.datetime.now(dt.UTC).date(),
    "date": lambda value: _as_datetime(value).date() if not isinstance(value, dt.date) else value,
    "datetime": _as_datetime,
    "timedelta": dt.timedelta,
    "format_datetime": _format_datetime,
    "add_seconds": _add("seconds"),
    "add_minutes": _add("minutes"),
    "add_hours": _add("hours"),
    "add_days": _add("days"),
    "start_of_day": _start_of_day,
    "start_of_month": _start_of_month,
    "coalesce": _coalesce,
    "concat": lambda *parts: "".join(str(p) for p in parts),
    "json": json.loads,
    "to_json": lambda value: json.dumps(value, default=str),
    "guid": lambda: str(uuid.uuid4()),
}
"""Functions every expression may call, beyond Jinja's filters (`upper`, `replace`, `join`, `int`...)."""


@cache
def environment() -> SandboxedEnvironment:
    """The shared, sandboxed Jinja environment."""
    jinja = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    jinja.globals.update(FUNCTIONS)
    jinja.filters.update({"format_datetime": _format_datetime, "add_days": FUNCTIONS["add_days"]})
    return jinja


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside ``value`` (recursing into lists and mappings).

    Raises:
        ExpressionError: the template is malformed or names something undefined.
    """
    if isinstance(value, str):
        return _render_string(value, context) if is_template(value) else value
    if isinstance(value, list | tuple):
        return [render_value(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render_value(item, context) for key, item in value.items()}
    return value


def _render_string(text: str, context: Mapping[str, Any]) -> Any:
    whole = _WHOLE_EXPRESSION.match(text)
    try:
        if whole:
            # One whole expression: evaluate it, so the value keeps its type (a string stays a string).
            result: Any = _compiled_expression(text.strip()[2:-2])(**context)
        else:
            result = environment().from_string(text).render(**context)
        if isinstance(result, Undefined):
            str(result)  # a strict undefined raises here, with the name that is missing
        return result
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"expression {text!r} does not parse: {exc.message}") from exc
    except UndefinedError as exc:
        raise ExpressionError(f"expression {text!r}: {exc.message}") from exc
    except ExpressionError as exc:
        raise ExpressionError(f"expression {text!r}: {exc}") from exc
    except Exception as exc:  # the sandbox and filters raise many types; all mean the same to the user
        raise ExpressionError(f"expression {text!r} failed: {type(exc).__name__}: {exc}") from exc


@lru_cache(maxsize=4096)
def _compiled_expression(source: str) -> Any:
    return environment().compile_expression(source, undefined_to_none=False)
