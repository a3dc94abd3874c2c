"""What notebooks print: per-thread capture, so parallel activities each get their own log, and text tables."""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

_local = threading.local()
_install_lock = threading.Lock()
_installs = 0
_original: TextIO | None = None


class _ThreadRoutedStream(io.TextIOBase):
    """Writes go to the current thread's capture buffer, or to the real stream when none is set."""

    def __init__(self, original: TextIO):
        self._original = original

    def write(self, text: str) -> int:
        buffer: io.StringIO | None = getattr(_local, "buffer", None)
        if buffer is not None:
            return buffer.write(text)
        return self._original.write(text)

    def flush(self) -> None:
        if getattr(_local, "buffer", None) is None:
            self._original.flush()

    def isatty(self) -> bool:
        return self._original.isatty()


@contextmanager
def routed_stdout() -> Iterator[None]:
    """Route `sys.stdout` through the per-thread router while active (nesting is fine)."""
    global _installs, _original
    with _install_lock:
        if _installs == 0:
            _original = sys.stdout
            sys.stdout = _ThreadRoutedStream(sys.stdout)
        _installs += 1
    try:
        yield
    finally:
        with _install_lock:
            _installs -= 1
            if _installs == 0 and _original is not None:
                sys.stdout = _original
                _original = None


@contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """Capture this thread's printed output into a buffer."""
    previous = getattr(_local, "buffer", None)
    buffer = io.StringIO()
    _local.buffer = buffer
    try:
        with routed_stdout():
            yield buffer
    finally:
        _local.buffer = previous


def format_rows(columns: list[str], rows: list[tuple[Any, ...]], *, limit: int) -> str:
    """A plain text table, like Spark's `df.show()`."""
    shown = rows[:limit]
    cells = [[_cell(value) for value in row] for row in shown]
    widths = [max([len(column)] + [len(row[i]) for row in cells]) for i, column in enumerate(columns)]
    border = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    lines = [border, "|" + "|".join(f" {c:<{w}} " for c, w in zip(columns, widths, strict=True)) + "|", border]
    lines += ["|" + "|".join(f" {c:<{w}} " for c, w in zip(row, widths, strict=True)) + "|" for row in cells]
    lines.append(border)
    if len(rows) > limit:
        lines.append(f"only showing top {limit} rows")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    text = "NULL" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
