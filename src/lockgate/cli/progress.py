"""The live display of a run: one line per activity with a spinner while it runs.

Services emit events; this module turns them into Rich progress on a terminal and into plain lines elsewhere
(CI logs), so the service layer never formats anything.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from lockgate.cli.render import plural
from lockgate.services.run_events import (
    ActivityFinished,
    ActivityRetrying,
    ActivityStarted,
    EngineReady,
    RunEvent,
    RunStarted,
    WaitingForSlot,
)

_ENGINE_TASK = "\0engine"
"""The engine start-up's key among the activity tasks (no activity key holds a NUL)."""
_SYMBOL = {"succeeded": "[green]✓[/]", "failed": "[red]✗[/]", "skipped": "[yellow]-[/]", "cancelled": "[magenta]![/]"}


class RunProgress:
    """Event sink for `run_pipeline` / `run_notebook`."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 200)
        self._live = self.console.is_terminal
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
            disable=not self._live,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.__exit__(exc_type, exc, tb)

    def handle(self, event: RunEvent) -> None:
        if isinstance(event, RunStarted):
            self._say(
                f"run {event.run_id}: {event.target} in {event.environment} on {event.engine} "
                f"({plural(len(event.activities), 'activity', 'activities')})"
            )
            if self._live:  # a spinner while the engine starts (seconds for Spark), replaced by its start-up time
                self._tasks[_ENGINE_TASK] = self._progress.add_task(f"starting {event.engine}", total=1)
        elif isinstance(event, EngineReady):
            ready = f"{event.engine} ready in {event.seconds:.2f}s"
            task = self._tasks.pop(_ENGINE_TASK, None)
            if task is not None:
                self._progress.update(task, description=ready, completed=1)
            else:
                self._say(ready)
        elif isinstance(event, WaitingForSlot):
            self._say(f"waiting: {escape(event.message)}")
        elif isinstance(event, ActivityStarted):
            attempt = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            label = _indent(event.depth) + escape(event.key) + attempt
            if self._live:
                self._tasks[event.key] = self._progress.add_task(label, total=1)
            else:
                self.console.print(f"  started {label}")
        elif isinstance(event, ActivityRetrying):
            first_line = str(event.error).splitlines()[0]
            self._say(
                f"  [yellow]↻[/] {escape(event.key)} attempt {event.attempt} failed ({escape(first_line)}); "
                f"retry in {event.delay:g}s"
            )
        elif isinstance(event, ActivityFinished):
            self._finished(event)

    def _finished(self, event: ActivityFinished) -> None:
        outcome = event.outcome
        status = outcome.status.value
        rows = sum(outcome.rows_written.values())
        detail = f" ({plural(rows, 'row')} written)" if rows else ""
        name = escape(event.key or outcome.name)
        text = f"{_indent(event.depth)}{_SYMBOL.get(status, '?')} {name} {status}{detail}"
        task = self._tasks.get(event.key)
        if task is not None:
            self._progress.update(task, description=text, completed=1)
        elif self._live:
            self._progress.add_task(text, total=1, completed=1)
        else:
            self.console.print(f"  {text}")

    def _say(self, text: str) -> None:
        if self._live:
            self._progress.console.print(text)
        else:
            self.console.print(text)


def _indent(depth: int) -> str:
    return "  " * depth
