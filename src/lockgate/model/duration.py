"""Durations in definitions: `30s`, `5m`, `1h30m`, `1.5h`, `250ms`, a number of seconds, or ADF's `D.HH:MM:SS`."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_CLOCK = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")

DURATION_HINT = "write a duration such as 30s, 5m, 1h30m, 250ms, a number of seconds, or D.HH:MM:SS"


def parse_duration(value: Any) -> float:
    """Seconds in ``value``.

    Raises:
        ValueError: ``value`` is not a duration, or is negative.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; {DURATION_HINT}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _parse_text(value.strip().lower())
    else:
        raise ValueError(f"{value!r} is not a duration; {DURATION_HINT}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative (got {value!r})")
    return seconds


def _parse_text(text: str) -> float:
    clock = _CLOCK.match(text)
    if clock:
        days, hours, minutes, seconds = clock.groups()
        return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    try:
        return float(text)
    except ValueError:
        pass
    parts = _PART.findall(text)
    if not parts or _PART.sub("", text).strip():
        raise ValueError(f"{text!r} is not a duration; {DURATION_HINT}")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def format_duration(seconds: float) -> str:
    """``90.0`` -> ``1m30s``; the inverse of :func:`parse_duration` for display."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    whole, rest = divmod(seconds, 1)
    hours, remainder = divmod(int(whole), 3600)
    minutes, secs = divmod(remainder, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    if secs or rest or not text:
        text += f"{secs + rest:g}s"
    return text


Duration = Annotated[
    float,
    BeforeValidator(parse_duration, json_schema_input_type=str | float),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration field: accepts the forms above, holds seconds, serialises as text (`1m30s`)."""
