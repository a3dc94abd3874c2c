"""What a run reports: events while it runs (for progress displays) and its result when it ends.

Services emit these plain values; the CLI (or the API later) decides how to show them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lockgate.errors import LockgateError
from lockgate.services.dag_rules import ListVerdict
from lockgate.state import ActivityStatus, RunStatus


@dataclass(frozen=True, slots=True)
class ActivityOutcome:
    """How an activity ended (its last attempt)."""

    name: str
    activity_type: str
    status: ActivityStatus
    seconds: float = 0.0
    output: Any = None
    error: LockgateError | None = None
    rows_written: dict[str, int] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    attempts: int = 1
    reused: bool = False
    """Taken over from an earlier run by `lockgate run --rerun`, not run again."""


def activity_view(outcome: ActivityOutcome) -> dict[str, Any]:
    """What `activity('name')` gives in expressions: `output`, `status` and `error` (`message`, `errorCode`)."""
    error = outcome.error
    return {
        "output": outcome.output if outcome.output is not None else {},
        "status": outcome.status.value,
        "error": {"message": error.message, "errorCode": getattr(error, "code", type(error).__name__)}
        if error
        else None,
    }


@dataclass(frozen=True, slots=True)
class ListResult:
    """How one list of activities (a pipeline, or one pass of a container) ended."""

    verdict: ListVerdict
    outcomes: dict[str, ActivityOutcome]

    def failure_summary(self, *, located: bool = True) -> str | None:
        """`name: first line of its error` for each failure that decided the verdict (None: there is none).

        ``located`` keeps each error's `file:line:col` prefix (a run's error); without it, only the message (a
        container's error, which has its own location).
        """
        parts = []
        for name in self.verdict.deciding_failures:
            error = self.outcomes[name].error
            text = (str(error) if located else error.message) if error else "failed"
            parts.append(f"{name}: {text.splitlines()[0]}")
        return "; ".join(parts) or None


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str
    target: str
    environment: str
    engine: str
    status: RunStatus
    activities: tuple[ActivityOutcome, ...]
    """The pipeline's top-level activities (nested ones are in the run record)."""
    seconds: float
    output: Any = None
    """The pipeline's `outputs`, rendered when the run succeeded."""
    error: str | None = None

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
class WaitingForSlot:
    """The pipeline's `concurrency` runs are running; this run waits for one to end."""

    message: str


@dataclass(frozen=True, slots=True)
class ActivityStarted:
    name: str
    key: str = ""
    """Unique in the run: the name, under its containers for nested ones (`loop[2]/load`)."""
    depth: int = 0
    attempt: int = 1
    run_id: str = ""
    activity_type: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActivityRetrying:
    key: str
    attempt: int
    """The attempt that failed."""
    delay: float
    error: LockgateError


@dataclass(frozen=True, slots=True)
class ActivityFinished:
    outcome: ActivityOutcome
    key: str = ""
    depth: int = 0
    run_id: str = ""


@dataclass(frozen=True, slots=True)
class RunFinished:
    run_id: str
    target: str
    status: RunStatus
    error: str | None


RunEvent = (
    RunStarted | EngineReady | WaitingForSlot | ActivityStarted | ActivityRetrying | ActivityFinished | RunFinished
)
EventSink = Callable[[RunEvent], None]
