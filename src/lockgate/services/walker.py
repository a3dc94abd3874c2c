"""Walking one list of activities (a pipeline, or one pass of a container) to its end.

Each attempt at an activity runs in a daemon thread of its own and reports to the walker through a queue, so
the walker alone decides what happens next and writes every record of its list:

- dependency conditions and skipping follow :mod:`lockgate.services.dag_rules`;
- up to ``max_parallel`` attempts run at once;
- a failed attempt whose error is ``retryable`` is tried again after ``retry_interval`` times
  ``retry_backoff`` to the power of the retries so far, without holding a slot while it waits;
- an attempt past its ``timeout`` is stopped: its engine queries are interrupted and an exception is raised in
  its thread, which stops running Python (a notebook's endless loop) at the next bytecode. Containers stop
  cooperatively through their cancel event. An attempt that has not stopped :data:`STOP_GRACE` seconds later
  (blocked in a C call) is recorded as timed out and its thread abandoned;
- when the list's cancel event is set (Ctrl-C, or a container's own timeout) every running attempt is stopped
  the same way and whatever has not run is recorded as cancelled.
"""

from __future__ import annotations

import ctypes
import logging
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lockgate.engine.base import TableMetrics
from lockgate.engine.output import captured_output
from lockgate.errors import ActivityTimeoutError, LockgateError, UserCodeError
from lockgate.model.activities import ActivityBase, ActivityPath
from lockgate.model.duration import format_duration
from lockgate.model.expressions import ExpressionError
from lockgate.services.activities import ACTIVITY_RUNNERS, ActivityContext
from lockgate.services.activities.context import ActivityStopped
from lockgate.services.dag_rules import judge, readiness, unmet_dependencies
from lockgate.services.run_events import (
    ActivityFinished,
    ActivityOutcome,
    ActivityRetrying,
    ActivityStarted,
    ListResult,
    activity_view,
)
from lockgate.state import ActivityStatus

if TYPE_CHECKING:
    from lockgate.services.orchestration import PipelineRun

logger = logging.getLogger(__name__)

STOP_GRACE = 1.5
"""Seconds a stopped attempt gets to end before its thread is abandoned."""
CANCEL_WAIT = 10.0
"""Seconds a cancelled list waits for its running attempts to end and be recorded."""
_TICK = 0.2


@dataclass(frozen=True, slots=True)
class ReusedActivity:
    """An activity a rerun takes over from the earlier run instead of running it."""

    output: Any
    from_run: str


@dataclass(slots=True)
class _AttemptResult:
    status: ActivityStatus
    output: Any = None
    error: LockgateError | None = None
    log: str = ""
    metrics: TableMetrics = field(default_factory=TableMetrics)
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Attempt:
    """One attempt at one activity, running in its own thread."""

    activity: ActivityBase
    number: int
    record_id: int
    started: float
    deadline: float | None
    cancel: threading.Event = field(default_factory=threading.Event)
    thread_ident: int | None = None
    stop_reason: str | None = None
    """Why the walker stopped it: `timeout` or `cancel`."""
    stop_requested: float | None = None


class ListWalker:
    """Runs one list of activities of a pipeline run; see the module docstring."""

    def __init__(
        self,
        run: PipelineRun,
        activities: tuple[Any, ...],
        path: ActivityPath,
        *,
        names: Mapping[str, Any],
        cancel: threading.Event,
        max_parallel: int,
        parent_record_id: int | None = None,
        iteration: str | None = None,
        key_prefix: str = "",
        depth: int = 0,
        reused: Mapping[str, ReusedActivity] | None = None,
    ):
        self.run = run
        self.activities = activities
        self.path = path
        self.cancel = cancel
        self.max_parallel = max_parallel
        self.parent_record_id = parent_record_id
        self.iteration = iteration
        self.key_prefix = key_prefix
        self.depth = depth
        self.outcomes: dict[str, ActivityOutcome] = {}
        self._reused = dict(reused or {})
        self._index = {activity.name: index for index, activity in enumerate(activities)}
        self._waiting: dict[str, ActivityBase] = {a.name: a for a in activities}
        """Activities whose dependencies have not all finished yet."""
        self._ready: deque[ActivityBase] = deque()
        """Activities that may start, waiting for a free slot (in file order)."""
        self._statuses: dict[str, ActivityStatus] = {}
        self._dependents: dict[str, list[str]] = defaultdict(list)
        for activity in activities:
            for dependency in activity.depends_on:
                self._dependents[dependency.activity].append(activity.name)
        self._to_check: deque[str] = deque(activity.name for activity in activities)
        self._running: dict[str, _Attempt] = {}
        self._retry_at: dict[str, tuple[float, int]] = {}
        self._done: queue.SimpleQueue[tuple[_Attempt, _AttemptResult]] = queue.SimpleQueue()
        self.names: dict[str, Any] = {**names, "activity": self._activity_view(names.get("activity"))}

    # -- the walk ---------------------------------------------------------------------------------------------

    def walk(self) -> ListResult:
        """Run the list to its end; Ctrl-C (in the main thread) cancels what runs and re-raises."""
        try:
            while self._waiting or self._ready or self._running or self._retry_at:
                if self.cancel.is_set():
                    self._cancel_all("cancelled")
                    break
                self._settle()
                self._start_ready()
                if not self._running and not self._retry_at:
                    if self._waiting:  # cannot happen with a validated DAG; never spin if it somehow does
                        raise RuntimeError(f"activities can never start: {', '.join(sorted(self._waiting))}")
                    break
                self._wait_for_news()
        except KeyboardInterrupt:
            self.cancel.set()
            self._cancel_all("run cancelled")
            raise
        return ListResult(judge(self.activities, self._statuses), dict(self.outcomes))

    def _settle(self) -> None:
        """Decide the activities whose dependencies changed: skip them, reuse them, or queue them to start.

        Only activities downstream of something that just finished are looked at, so a long chain costs the
        same per step as a short one.
        """
        while self._to_check:
            name = self._to_check.popleft()
            activity = self._waiting.get(name)
            if activity is None:
                continue
            ready = readiness(activity, self._statuses)
            if ready is None:
                continue
            del self._waiting[name]
            if ready is False:
                reason = "dependency not met: " + ", ".join(unmet_dependencies(activity, self._statuses))
                self._record_unrun(activity, ActivityStatus.skipped, reason)
            elif name in self._reused:
                self._reuse(activity, self._reused[name])
            else:
                self._ready.append(activity)

    def _reuse(self, activity: ActivityBase, reused: ReusedActivity) -> None:
        self.run.replay(activity, reused.output)
        self.run.services.store.record_skipped_activity(
            self.run.run_id,
            activity=activity.name,
            activity_type=_type_of(activity),
            status=ActivityStatus.succeeded,
            reason=f"reused from run {reused.from_run}",
            output=reused.output,
            parent_id=self.parent_record_id,
            iteration=self.iteration,
        )
        outcome = ActivityOutcome(
            activity.name, _type_of(activity), ActivityStatus.succeeded, output=reused.output, attempts=0, reused=True
        )
        self._finish(outcome)

    def _start_ready(self) -> None:
        now = time.monotonic()
        for name, (due, number) in sorted(self._retry_at.items(), key=lambda item: item[1][0]):
            if due <= now and len(self._running) < self.max_parallel:
                del self._retry_at[name]
                self._start(self.activities[self._index[name]], number)
        while self._ready and len(self._running) < self.max_parallel:
            self._start(self._ready.popleft(), 1)

    def _wait_for_news(self) -> None:
        now = time.monotonic()
        wake = [now + _TICK]
        wake += [a.deadline for a in self._running.values() if a.deadline is not None and a.stop_reason is None]
        wake += [a.stop_requested + STOP_GRACE for a in self._running.values() if a.stop_requested is not None]
        wake += [due for due, _ in self._retry_at.values()]
        try:
            attempt, result = self._done.get(timeout=max(0.0, min(wake) - now))
        except queue.Empty:
            pass
        else:
            self._attempt_ended(attempt, result)
            # Drain whatever else finished meanwhile, so a fan-out does not pay one wake-up per activity.
            while True:
                try:
                    attempt, result = self._done.get_nowait()
                except queue.Empty:
                    break
                self._attempt_ended(attempt, result)
        self._enforce_deadlines()

    # -- attempts ---------------------------------------------------------------------------------------------

    def _start(self, activity: ActivityBase, number: int) -> None:
        services = self.run.services
        record = services.store.start_activity(
            self.run.run_id,
            activity=activity.name,
            activity_type=_type_of(activity),
            parameters={},
            attempt=number,
            parent_id=self.parent_record_id,
            iteration=self.iteration,
        )
        started = time.monotonic()
        attempt = _Attempt(
            activity, number, record.id, started, started + activity.timeout if activity.timeout else None
        )
        self._running[activity.name] = attempt
        self.run.emit(
            ActivityStarted(
                activity.name,
                key=self._key(activity.name),
                depth=self.depth,
                attempt=number,
                run_id=self.run.run_id,
                activity_type=_type_of(activity),
            )
        )
        context = self.run.context_for(self, activity, attempt.cancel, record.id, TableMetrics())
        thread = threading.Thread(
            target=self._attempt_body,
            args=(attempt, context),
            name=f"lockgate-{self._key(activity.name)}",
            daemon=True,  # an attempt that ignores being stopped must not keep the process alive
        )
        thread.start()

    def _attempt_body(self, attempt: _Attempt, context: ActivityContext) -> None:
        attempt.thread_ident = threading.get_ident()
        result = _AttemptResult(ActivityStatus.failed, metrics=context.metrics, inputs=context.inputs)
        try:
            with captured_output() as log:
                try:
                    with self.run.services.session.activity_scope(context.metrics):
                        result.output = ACTIVITY_RUNNERS[_type_of(attempt.activity)](attempt.activity, context)
                        self.run.after_success(context)
                    result.status = ActivityStatus.succeeded
                except (ActivityStopped, KeyboardInterrupt):
                    result.status = ActivityStatus.cancelled
                except LockgateError as exc:
                    result.error = exc
                    result.output = getattr(exc, "output", None)
                except ExpressionError as exc:
                    result.error = context.field_error(str(exc))
                except Exception as exc:  # an engine or library failure not mapped to a lockgate error yet
                    logger.debug("activity %s failed", attempt.activity.name, exc_info=True)
                    result.error = UserCodeError(f"{type(exc).__name__}: {exc}")
                finally:
                    result.log = log.getvalue()
        except ActivityStopped:  # arrived between the handlers above; the attempt still ends as stopped
            result.status = ActivityStatus.cancelled
        finally:
            attempt.thread_ident = None
            self._done.put((attempt, result))

    def _attempt_ended(self, attempt: _Attempt, result: _AttemptResult) -> None:
        name = attempt.activity.name
        if self._running.get(name) is not attempt:
            return  # abandoned earlier; already recorded
        del self._running[name]
        if attempt.stop_reason == "timeout":
            result.status = ActivityStatus.failed
            result.error = _timeout_error(attempt.activity)
        elif attempt.stop_reason == "cancel" or (self.cancel.is_set() and result.status == ActivityStatus.failed):
            result.status, result.error = ActivityStatus.cancelled, None
        self._record_attempt(attempt, result)
        retry = self._retry_delay(attempt, result)
        if retry is not None:
            assert result.error is not None
            self._retry_at[name] = (time.monotonic() + retry, attempt.number + 1)
            self.run.emit(ActivityRetrying(self._key(name), attempt.number, retry, result.error))
            return
        self._finish(
            ActivityOutcome(
                name,
                _type_of(attempt.activity),
                result.status,
                seconds=time.monotonic() - attempt.started,
                output=result.output,
                error=result.error,
                rows_written=dict(result.metrics.rows_written),
                rows_read=dict(result.metrics.rows_read),
                attempts=attempt.number,
            )
        )

    def _retry_delay(self, attempt: _Attempt, result: _AttemptResult) -> float | None:
        activity = attempt.activity
        if result.status != ActivityStatus.failed or attempt.number > activity.retry or self.cancel.is_set():
            return None
        if result.error is not None and not result.error.retryable:
            return None
        return float(activity.retry_interval * activity.retry_backoff ** (attempt.number - 1))

    def _record_attempt(self, attempt: _Attempt, result: _AttemptResult) -> None:
        redactor = self.run.services.secrets.redactor
        error = redactor.redact_error(result.error) if result.error is not None else None
        result.error = error
        metrics = result.metrics
        self.run.services.store.finish_activity(
            attempt.record_id,
            status=result.status,
            output=redactor.redact_value(result.output),
            error=str(error) if error is not None else None,
            log=redactor.redact(result.log),
            metrics={
                "seconds": round(time.monotonic() - attempt.started, 3),
                "rows_written": metrics.rows_written,
                "rows_read": metrics.rows_read,
            },
            parameters=redactor.redact_value(result.inputs),
        )

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for attempt in list(self._running.values()):
            if attempt.stop_requested is None and attempt.deadline is not None and now >= attempt.deadline:
                self._stop(attempt, "timeout")
            elif attempt.stop_requested is not None and now >= attempt.stop_requested + STOP_GRACE:
                self._abandon(attempt)

    def _stop(self, attempt: _Attempt, reason: str) -> None:
        attempt.stop_reason = reason
        attempt.stop_requested = time.monotonic()
        attempt.cancel.set()
        ident = attempt.thread_ident
        if ident is None or attempt.activity.stops_cooperatively:
            return  # containers and child pipelines stop cooperatively: their walkers watch the cancel event
        self.run.services.session.interrupt(thread=ident)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(ActivityStopped))

    def _abandon(self, attempt: _Attempt) -> None:
        """Record an attempt that did not stop in time; its thread is left to end on its own."""
        logger.warning(
            "activity %s did not stop within %.1fs; abandoning its thread", attempt.activity.name, STOP_GRACE
        )
        status = ActivityStatus.failed if attempt.stop_reason == "timeout" else ActivityStatus.cancelled
        error = _timeout_error(attempt.activity) if status == ActivityStatus.failed else None
        self._attempt_ended(attempt, _AttemptResult(status, error=error, log="(the activity did not stop; abandoned)"))

    def _cancel_all(self, reason: str) -> None:
        for attempt in list(self._running.values()):
            self._stop(attempt, "cancel")
        deadline = time.monotonic() + CANCEL_WAIT
        while self._running and time.monotonic() < deadline:
            try:
                attempt, result = self._done.get(timeout=_TICK)
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                continue  # a second Ctrl-C while we clean up: keep cleaning up, so state stays consistent
            self._attempt_ended(attempt, result)
        for attempt in list(self._running.values()):
            self._abandon(attempt)
        for name in list(self._retry_at):
            del self._retry_at[name]
            self._record_unrun(self.activities[self._index[name]], ActivityStatus.cancelled, reason)
        for activity in [*self._ready, *self._waiting.values()]:
            self._record_unrun(activity, ActivityStatus.cancelled, reason)
        self._ready.clear()
        self._waiting.clear()

    # -- bookkeeping ------------------------------------------------------------------------------------------

    def _record_unrun(self, activity: ActivityBase, status: ActivityStatus, reason: str) -> None:
        self.run.services.store.record_skipped_activity(
            self.run.run_id,
            activity=activity.name,
            activity_type=_type_of(activity),
            status=status,
            reason=reason,
            parent_id=self.parent_record_id,
            iteration=self.iteration,
        )
        self._finish(ActivityOutcome(activity.name, _type_of(activity), status, attempts=0))

    def _finish(self, outcome: ActivityOutcome) -> None:
        self.outcomes[outcome.name] = outcome
        self._statuses[outcome.name] = outcome.status
        self._to_check.extend(self._dependents.get(outcome.name, ()))
        self.run.emit(ActivityFinished(outcome, key=self._key(outcome.name), depth=self.depth, run_id=self.run.run_id))

    def _key(self, name: str) -> str:
        return f"{self.key_prefix}{name}"

    def path_of(self, activity: ActivityBase) -> ActivityPath:
        """Where one of this list's activities is in the pipeline file."""
        return (*self.path, self._index[activity.name])

    def key_for_activity(self, name: str) -> str:
        """An activity's key: its name under its containers' (`loop[2]/load`)."""
        return self._key(name)

    def key_for_pass(self, container: str, iteration: str) -> str:
        """The key prefix of a container's pass: `loop[2]/`."""
        return f"{self._key(container)}[{iteration}]/"

    def _activity_view(self, outer: Callable[[str], Any] | None) -> Callable[[str], Any]:
        """`activity('name')` in expressions: this list's outcomes first, then the enclosing lists'."""

        def activity(name: str) -> Any:
            outcome = self.outcomes.get(name)
            if outcome is not None:
                return activity_view(outcome)
            if outer is not None:
                return outer(name)
            raise ExpressionError(f"activity {name!r} has not run (yet) in this run")

        return activity


def _timeout_error(activity: ActivityBase) -> ActivityTimeoutError:
    limit = format_duration(activity.timeout or 0)
    return ActivityTimeoutError(
        f"activity {activity.name!r} timed out after {limit} and was stopped",
        hint="raise its `timeout:`, or make it faster",
    )


def _type_of(activity: ActivityBase) -> str:
    return str(getattr(activity, "type"))  # noqa: B009 - every concrete activity model has a `type` literal
