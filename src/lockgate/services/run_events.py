"""What a run reports: events while it runs (for progress displays) and its result when it ends.

Services emit these plain values; the CLI (or the API later) decides how to show them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lockgate.errors import LockgateError
from lockgate.state import ActivityStatus, RunStatus


@dataclass(frozen=True, slots=True)
class ActivityOutcome:
    name: str
    activity_type: str
    status: ActivityStatus
    seconds: float = 0.0
    output: Any = None
    error: LockgateError | None = None
    rows_written: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str
    target: str
    environment: str
    engine: str
    status: RunStatus
    activities: tuple[ActivityOutcome, ...]
    seconds: float

    @property
    def failures(self) -> list[ActivityOutcome]:
        return [a for a in self.activities if a.status == ActivityStatus.failed]


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: str
    target: str
    environment: str
    engine: str
    activities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EngineReady:
    engine: str
    seconds: float


@dataclass(frozen=True, slots=True)
class ActivityStarted:
    name: str


@dataclass(frozen=True, slots=True)
class ActivityFinished:
    outcome: ActivityOutcome


RunEvent = RunStarted | EngineReady | ActivityStarted | ActivityFinished
EventSink = Callable[[RunEvent], None]
