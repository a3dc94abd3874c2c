"""Activity policies: timeouts that really stop work, retries with backoff only for errors that can pass."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lockgate.services.project import load_project
from lockgate.services.runner import run_pipeline
from lockgate.state import StateStore

WriteProject = Callable[[dict[str, str]], Path]

BUSY_LOOP = "# Databricks notebook source\nwhile True:\n    pass\n"
SLEEPY_LOOP = "import time\nwhile True:\n    time.sleep(0.05)\n"
SLOW_QUERY = "select count(*) from range(100000000000) a, range(1000) b\n"

FLAKY = """\
import pathlib
counter = pathlib.Path("{root}/attempts.txt")
count = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(count))
if count < 3:
    raise ConnectionError(f"attempt {count}: the source is not reachable")
print("passed on attempt", count)
"""


@pytest.mark.parametrize(
    ("notebook", "source"),
    [("nb/busy.py", BUSY_LOOP), ("nb/sleepy.py", SLEEPY_LOOP), ("nb/query.sql", SLOW_QUERY)],
    ids=["python-busy-loop", "python-sleep-loop", "endless-query"],
)
def test_timeout_stops_a_notebook_that_never_ends(
    write_project: WriteProject, sqlite_url: str, notebook: str, source: str
) -> None:
    root = write_project(
        {
            notebook: source,
            "pipelines/p.yaml": (
                "activities:\n"
                f"  - {{name: forever, type: notebook, notebook: {notebook}, timeout: 1s}}\n"
                "  - {name: after, type: wait, seconds: 0, depends_on: [forever]}\n"
            ),
        }
    )
    started = time.monotonic()
    with StateStore.open(sqlite_url) as store:
        result = run_pipeline(load_project(root), "p", store=store)
        records = store.list_activity_runs(result.run_id)
    elapsed = time.monotonic() - started
    assert elapsed < 1 + 2 + 1.5, f"took {elapsed:.1f}s"  # timeout + 2 s, plus engine start-up
    statuses = {r.activity: r.status.value for r in records}
    assert statuses == {"forever": "failed", "after": "skipped"}
    forever = next(r for r in records if r.activity == "forever")
    assert "timed out after 1s" in (forever.error or "")
    assert result.status.value == "failed"


def test_retries_back_off_and_then_pass(write_project: WriteProject, sqlite_url: str, tmp_path: Path) -> None:
    root = write_project(
        {
            "nb/flaky.py": FLAKY.replace("{root}", str(tmp_path)),
            "pipelines/p.yaml": (
                "activities:\n"
                "  - {name: flaky, type: notebook, notebook: nb/flaky.py, retry: 3, retry_interval: 0.3s,"
                " retry_backoff: 2}\n"
            ),
        }
    )
    with StateStore.open(sqlite_url) as store:
        result = run_pipeline(load_project(root), "p", store=store)
        attempts = store.list_activity_runs(result.run_id)
    assert result.status.value == "succeeded"
    assert [(a.attempt, a.status.value) for a in attempts] == [(1, "failed"), (2, "failed"), (3, "succeeded")]
    assert "ConnectionError" in (attempts[0].error or "")
    assert "passed on attempt 3" in attempts[2].log
    gaps = [
        (later.started_at - earlier.finished_at).total_seconds()
        for earlier, later in itertools.pairwise(attempts)
        if earlier.finished_at is not None
    ]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6, gaps  # interval, then interval x backoff
    assert result.activities[0].attempts == 3


def test_errors_that_cannot_pass_are_not_retried(write_project: WriteProject, sqlite_url: str) -> None:
    root = write_project(
        {
            "pipelines/p.yaml": (
                "parameters:\n"
                "  pause: {type: string, default: soon}\n"
                "activities:\n"
                "  - {name: stop, type: fail, message: bad input, error_code: E42, retry: 3, retry_interval: 0}\n"
                "  - name: bad_value\n"
                "    type: wait\n"
                "    retry: 3\n"
                "    retry_interval: 0\n"
                '    seconds: "{{ pipeline.parameters.pause }}"\n'
            ),
        }
    )
    with StateStore.open(sqlite_url) as store:
        result = run_pipeline(load_project(root), "p", store=store)
        attempts = store.list_activity_runs(result.run_id)
    assert sorted((a.activity, a.attempt) for a in attempts) == [("bad_value", 1), ("stop", 1)]
    errors = {a.activity: a.error or "" for a in attempts}
    assert errors["stop"].endswith("bad input")
    assert "activity 'bad_value', field 'seconds': 'soon' is not a duration" in errors["bad_value"]
    assert "pipelines/p.yaml:9:" in errors["bad_value"]
    stop = next(o for o in result.activities if o.name == "stop")
    assert stop.error is not None and getattr(stop.error, "code", None) == "E42"


def test_a_timed_out_child_pipeline_is_recorded_whole(write_project: WriteProject, sqlite_url: str) -> None:
    root = write_project(
        {
            "pipelines/parent.yaml": "activities:\n  - {name: child, type: pipeline, pipeline: slow, timeout: 1s}\n",
            "pipelines/slow.yaml": (
                "activities:\n  - {name: hold, type: wait, seconds: 30}\n"
                "  - {name: after, type: wait, depends_on: [hold]}\n"
            ),
        }
    )
    started = time.monotonic()
    with StateStore.open(sqlite_url) as store:
        result = run_pipeline(load_project(root), "parent", store=store)
        [child_run] = store.list_child_runs(result.run_id)
        child_records = {r.activity: r.status.value for r in store.list_activity_runs(child_run.id)}
    assert time.monotonic() - started < 1 + 2 + 1.5
    assert result.status.value == "failed"
    assert "timed out after 1s" in str(result.activities[0].error)
    assert child_run.status.value == "cancelled"
    assert child_records == {"hold": "cancelled", "after": "cancelled"}
