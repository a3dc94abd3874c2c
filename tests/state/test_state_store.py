"""Runs and activity runs through the public :class:`StateStore` API, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import lockgate.state
from lockgate.errors import NotFoundError
from lockgate.state import ActivityRunRecord, ActivityStatus, RunRecord, RunStatus, StateStore


class Clock:
    """A stand-in for the store's UTC clock: every reading is one second after the previous one."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 25, 4, 45, 12, 123456, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(lockgate.state, "_utcnow", clock)
    return clock


def _create(store: StateStore, pipeline: str = "daily", environment: str = "dev", **extra: Any) -> RunRecord:
    return store.create_run(
        pipeline=pipeline,
        target_kind="pipeline",
        environment=environment,
        engine="duckdb",
        parameters=extra.pop("parameters", {"day": "2026-11-24"}),
        **extra,
    )


def test_create_run_returns_a_running_record_with_a_short_time_sortable_id(store: StateStore) -> None:
    run = _create(store, git_commit="abc123", trigger="nightly")

    assert run.status is RunStatus.running
    assert run.id.count("-") == 2 and len(run.id) == 22
    assert run.id[:15] == run.started_at.strftime("%Y%m%d-%H%M%S")
    assert run.started_at.tzinfo is dt.UTC
    assert (run.finished_at, run.error, run.output) == (None, None, None)
    assert (run.trigger, run.git_commit, run.parameters) == ("nightly", "abc123", {"day": "2026-11-24"})
    assert store.get_run(run.id) == run


def test_finish_run_round_trips_status_error_and_output(store: StateStore) -> None:
    run = _create(store)

    finished = store.finish_run(run.id, status=RunStatus.failed, error="boom", output={"rows": 3})

    assert finished.status is RunStatus.failed
    assert (finished.error, finished.output) == ("boom", {"rows": 3})
    assert finished.finished_at is not None and finished.finished_at >= run.started_at
    assert finished.finished_at.tzinfo is dt.UTC
    assert store.get_run(run.id) == finished
    assert store.list_runs() == [finished]


def test_values_json_cannot_hold_are_stored_as_text(store: StateStore) -> None:
    circular: list[Any] = []
    circular.append(circular)
    parameters = {
        "day": dt.date(2026, 11, 24),
        "at": dt.datetime(2026, 11, 24, 1, 2, 3, tzinfo=dt.UTC),
        "amount": Decimal("1.50"),
        "path": Path("/data/in"),
        "ratio": float("nan"),
        "pair": (1, 2),
        "tags": frozenset({"a"}),
        "by_number": {1: "one"},
        "circular": circular,
    }

    run = _create(store, parameters=parameters)
    finished = store.finish_run(run.id, status=RunStatus.succeeded, output=[Decimal("2"), dt.time(3, 4)])

    assert run.parameters == {
        "day": "2026-11-24",
        "at": "2026-11-24 01:02:03+00:00",
        "amount": "1.50",
        "path": "/data/in",
        "ratio": "nan",
        "pair": [1, 2],
        "tags": ["a"],
        "by_number": {"1": "one"},
        "circular": ["<circular reference>"],
    }
    assert finished.output == ["2", "03:04:00"]
    assert store.get_run(run.id) == finished


def test_nul_characters_in_errors_and_logs_do_not_fail_the_write(store: StateStore, state_url: str) -> None:
    # Captured output can hold NUL; PostgreSQL's text cannot (it gets U+FFFD), SQLite's and JSON can.
    stored = "\ufffd" if state_url.startswith("postgresql") else "\x00"
    run = _create(store, parameters={"key\x00": "value\x00"})
    activity = store.start_activity(run.id, activity="a", activity_type="sql", parameters={})

    done = store.finish_activity(
        activity.id, status=ActivityStatus.failed, error="bad\x00byte", log="out\x00put", output={"o": "\x00"}
    )
    finished = store.finish_run(run.id, status=RunStatus.failed, error="run\x00error")

    assert (done.error, done.log, done.output) == (f"bad{stored}byte", f"out{stored}put", {"o": "\x00"})
    assert finished.error == f"run{stored}error"
    assert finished.parameters == {"key\x00": "value\x00"}
    assert store.list_activity_runs(run.id) == [done]
    assert store.get_run(run.id) == finished


def test_list_runs_is_newest_first_filtered_and_limited(store: StateStore, clock: Clock) -> None:
    first = _create(store, "daily", "dev")
    second = _create(store, "hourly", "dev")
    third = _create(store, "daily", "prod")

    assert [run.id for run in store.list_runs()] == [third.id, second.id, first.id]
    assert store.list_runs(limit=2) == [third, second]
    assert store.list_runs(limit=0) == []
    assert store.list_runs(pipeline="daily") == [third, first]
    assert store.list_runs(environment="dev") == [second, first]
    assert store.list_runs(pipeline="daily", environment="dev") == [first]
    assert store.list_runs(pipeline="nope") == []


def test_get_run_accepts_a_unique_prefix(store: StateStore, clock: Clock) -> None:
    first = _create(store)
    second = _create(store)  # one second later: the ids differ from the 15th character on

    assert store.get_run(first.id[:15]) == first
    assert store.get_run(second.id[:15].upper()) == second
    assert store.get_run(f"  {second.id}  ") == second


def test_an_ambiguous_prefix_lists_the_candidates(store: StateStore, clock: Clock) -> None:
    runs = [_create(store) for _ in range(3)]

    with pytest.raises(NotFoundError, match="ambiguous") as caught:
        store.get_run("2026")

    for run in runs:
        assert run.id in caught.value.message
    assert caught.value.hint is not None and "lockgate runs" in caught.value.hint


def test_an_unknown_run_is_not_found_with_a_hint(store: StateStore) -> None:
    run = _create(store)
    typo = run.id[:-1] + ("0" if run.id[-1] != "0" else "1")

    with pytest.raises(NotFoundError, match="no run with id 'nope'") as caught:
        store.get_run("nope")
    assert caught.value.hint is not None and "see `lockgate runs`" in caught.value.hint

    with pytest.raises(NotFoundError, match=f"did you mean '{run.id}'"):
        store.get_run(typo)
    with pytest.raises(NotFoundError, match="no run id given"):
        store.get_run(" ")
    with pytest.raises(NotFoundError, match="no run with id"):
        store.finish_run("nope", status=RunStatus.succeeded)
    with pytest.raises(NotFoundError, match="no run with id"):
        store.start_activity("nope", activity="a", activity_type="sql", parameters={})
    with pytest.raises(NotFoundError, match="no run with id"):
        store.list_activity_runs("nope")
    with pytest.raises(NotFoundError, match="no activity run with id 999"):
        store.finish_activity(999, status=ActivityStatus.succeeded)


def test_a_prefix_with_like_wildcards_matches_literally(store: StateStore) -> None:
    _create(store)

    with pytest.raises(NotFoundError, match="no run with id"):
        store.get_run("%")
    with pytest.raises(NotFoundError, match="no run with id"):
        store.get_run("2026____")


def test_activity_runs_round_trip_in_start_order(store: StateStore, clock: Clock) -> None:
    run = _create(store)
    load = store.start_activity(run.id, activity="load", activity_type="copy", parameters={"n": Decimal(5)})
    check = store.start_activity(run.id, activity="check", activity_type="check", parameters={}, attempt=2)

    assert load.status is ActivityStatus.running
    assert (load.attempt, load.parameters, load.finished_at) == (1, {"n": "5"}, None)
    assert (load.log, load.metrics, load.output, load.error) == ("", {}, None, None)

    done = store.finish_activity(
        load.id,
        status=ActivityStatus.succeeded,
        output={"table": "sales"},
        log="copied\n",
        metrics={"rows": 10, "seconds": 0.5, "when": dt.date(2026, 1, 1)},
    )
    failed = store.finish_activity(check.id, status=ActivityStatus.failed, error="3 nulls")

    assert done.status is ActivityStatus.succeeded
    assert (done.output, done.log) == ({"table": "sales"}, "copied\n")
    assert done.metrics == {"rows": 10, "seconds": 0.5, "when": "2026-01-01"}
    assert done.finished_at is not None and done.finished_at > done.started_at
    assert (failed.error, failed.metrics) == ("3 nulls", {})
    assert store.list_activity_runs(run.id) == [done, failed]


def test_skipped_and_cancelled_activities_are_recorded_finished(store: StateStore) -> None:
    run = _create(store)

    skipped = store.record_skipped_activity(
        run.id, activity="publish", activity_type="sql", reason="upstream 'load' failed"
    )
    cancelled = store.record_skipped_activity(
        run.id, activity="notify", activity_type="notebook", status=ActivityStatus.cancelled
    )

    assert skipped.status is ActivityStatus.skipped
    assert (skipped.attempt, skipped.error, skipped.parameters) == (0, "upstream 'load' failed", {})
    assert skipped.finished_at == skipped.started_at
    assert (cancelled.status, cancelled.error) == (ActivityStatus.cancelled, None)
    assert store.list_activity_runs(run.id) == [skipped, cancelled]


def test_mark_interrupted_runs_fails_running_runs_and_their_open_activities(store: StateStore, clock: Clock) -> None:
    old = _create(store)
    old_done = store.start_activity(old.id, activity="a", activity_type="sql", parameters={})
    store.finish_activity(old_done.id, status=ActivityStatus.succeeded)
    old_open = store.start_activity(old.id, activity="b", activity_type="sql", parameters={})
    finished = _create(store)
    store.finish_run(finished.id, status=RunStatus.succeeded)
    clock.now += dt.timedelta(hours=2)
    recent = _create(store)

    assert store.mark_interrupted_runs(older_than=dt.timedelta(hours=1)) == 1

    marked = store.get_run(old.id)
    assert (marked.status, marked.error) == (RunStatus.failed, "interrupted")
    activities = {activity.id: activity for activity in store.list_activity_runs(old.id)}
    assert activities[old_done.id].status is ActivityStatus.succeeded
    interrupted = activities[old_open.id]
    assert (interrupted.status, interrupted.error) == (ActivityStatus.failed, "interrupted")
    assert store.get_run(finished.id).status is RunStatus.succeeded
    assert store.get_run(recent.id).status is RunStatus.running

    assert store.mark_interrupted_runs(older_than=clock.now - dt.timedelta(days=1)) == 0
    assert store.mark_interrupted_runs() == 1
    assert store.get_run(recent.id).status is RunStatus.failed


def test_records_are_frozen(store: StateStore) -> None:
    run = _create(store)
    activity = store.start_activity(run.id, activity="a", activity_type="sql", parameters={})

    with pytest.raises(AttributeError):
        run.status = RunStatus.failed  # type: ignore[misc]
    with pytest.raises(AttributeError):
        activity.log = "x"  # type: ignore[misc]
    assert isinstance(activity, ActivityRunRecord)


def test_statuses_are_strings() -> None:
    assert RunStatus.succeeded == "succeeded"
    assert [status.value for status in RunStatus] == ["queued", "running", "succeeded", "failed", "cancelled"]
    assert [status.value for status in ActivityStatus] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "skipped",
        "cancelled",
    ]
    assert not RunStatus.running.is_finished and RunStatus.cancelled.is_finished
    assert not ActivityStatus.queued.is_finished and ActivityStatus.skipped.is_finished


def test_an_in_memory_store_works() -> None:
    with StateStore.open("sqlite://") as store:
        run = _create(store)
        assert store.list_runs() == [run]
