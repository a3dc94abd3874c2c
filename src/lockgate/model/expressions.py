"""Expressions in definitions: sandboxed Jinja2 with strict undefined names, rendered per field at run time.

A value such as ``"{{ env.vars.landing_path }}/patients.csv"`` is rendered with a context holding ``pipeline``
(``parameters``, ``name``, ``run_id``), ``env`` (``name``, ``vars``, ``catalog``) and, later, activity outputs.
A field that is one whole expression (``"{{ pipeline.parameters.limit }}"``) keeps the value's type.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.nativetypes import NativeEnvironment
from jinja2.sandbox import SandboxedEnvironment

_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?:(?!\}\}).)*\}\}\s*$", re.DOTALL)


class ExpressionError(ValueError):
    """An expression did not parse or used a name that does not exist; the message says which."""


class _SandboxedNativeEnvironment(SandboxedEnvironment, NativeEnvironment):
    pass


def _functions() -> dict[str, Any]:
    return {
        "utcnow": lambda: dt.datetime.now(dt.UTC),
        "today": dt.date.today,
        "date": dt.date.fromisoformat,
        "timedelta": dt.timedelta,
    }


@cache
def _environment(native: bool) -> SandboxedEnvironment:
    env_class = _SandboxedNativeEnvironment if native else SandboxedEnvironment
    environment = env_class(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    environment.globals.update(_functions())
    return environment


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside ``value`` (recursing into lists and mappings).

    Raises:
        ExpressionError: the template is malformed or names something undefined.
    """
    if isinstance(value, str):
        return _render_string(value, context) if is_template(value) else value
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render_value(item, context) for key, item in value.items()}
    return value


def _render_string(text: str, context: Mapping[str, Any]) -> Any:
    native = bool(_WHOLE_EXPRESSION.match(text))
    try:
        template = _environment(native).from_string(text)
        result: Any = template.render(**context)
        if isinstance(result, Undefined):
            str(result)  # a strict undefined raises here, with the name that is missing
        return result
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"expression {text!r} does not parse: {exc.message}") from exc
    except UndefinedError as exc:
        raise ExpressionError(f"expression {text!r}: {exc.message}") from exc
    except Exception as exc:  # the sandbox and filters raise many types; all mean the same to the user
        raise ExpressionError(f"expression {text!r} failed: {exc}") from exc
