"""The store shared by threads, and by two stores on one file (as two processes would)."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lockgate.errors import ConflictError
from lockgate.state import ActivityStatus, RunStatus, StateStore

THREADS = 8
ACTIVITIES_PER_THREAD = 10


def _run_activities(store: StateStore, run_id: str, worker: int, start: threading.Barrier) -> list[int]:
    start.wait()
    ids = []
    for number in range(ACTIVITIES_PER_THREAD):
        activity = store.start_activity(
            run_id, activity=f"w{worker}-a{number}", activity_type="sql", parameters={"worker": worker}
        )
        store.finish_activity(
            activity.id, status=ActivityStatus.succeeded, log=f"done {number}\n", metrics={"number": number}
        )
        ids.append(activity.id)
    return ids


def test_eight_threads_write_activity_runs_at_once(store: StateStore, state_url: str) -> None:
    run = store.create_run(pipeline="wide", target_kind="pipeline", environment="dev", engine="duckdb", parameters={})
    start = threading.Barrier(THREADS)
    with StateStore.open(state_url) as other_process, ThreadPoolExecutor(THREADS) as pool:
        futures = [
            pool.submit(_run_activities, store if worker % 2 else other_process, run.id, worker, start)
            for worker in range(THREADS)
        ]
        written = [activity_id for future in futures for activity_id in future.result(timeout=30)]
    store.finish_run(run.id, status=RunStatus.succeeded)

    activities = store.list_activity_runs(run.id)
    assert len(written) == len(set(written)) == THREADS * ACTIVITIES_PER_THREAD
    assert sorted(activity.id for activity in activities) == sorted(written)
    assert {activity.status for activity in activities} == {ActivityStatus.succeeded}
    assert all(activity.log == f"done {activity.metrics['number']}\n" for activity in activities)
    assert [activity.started_at for activity in activities] == sorted(a.started_at for a in activities)


def test_a_write_lock_held_too_long_is_a_conflict(sqlite_path: Path, sqlite_url: str) -> None:
    with StateStore.open(sqlite_url, busy_timeout=0.05) as store:
        run = store.create_run(
            pipeline="daily", target_kind="pipeline", environment="dev", engine="duckdb", parameters={}
        )
        blocker = sqlite3.connect(sqlite_path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(ConflictError, match="locked by another lockgate process") as caught:
                store.finish_run(run.id, status=RunStatus.succeeded)
            assert caught.value.hint is not None and "try again" in caught.value.hint
            assert store.get_run(run.id).status is RunStatus.running  # reads go on under WAL
        finally:
            blocker.rollback()
            blocker.close()
        assert store.finish_run(run.id, status=RunStatus.succeeded).status is RunStatus.succeeded


@pytest.mark.postgres
def test_a_postgres_row_lock_held_too_long_is_a_conflict(postgres_url: str, pg_connection: Any) -> None:
    with StateStore.open(postgres_url, busy_timeout=0.05) as store:
        run = store.create_run(
            pipeline="daily", target_kind="pipeline", environment="dev", engine="duckdb", parameters={}
        )
        with pg_connection.transaction():
            pg_connection.execute("SELECT id FROM runs FOR UPDATE")
            with pytest.raises(ConflictError, match="locked by another lockgate process") as caught:
                store.finish_run(run.id, status=RunStatus.succeeded)
            assert caught.value.hint is not None and "try again" in caught.value.hint
            assert store.get_run(run.id).status is RunStatus.running  # reads are not blocked
        assert store.finish_run(run.id, status=RunStatus.succeeded).status is RunStatus.succeeded
