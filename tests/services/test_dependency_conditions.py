"""Every row of the dependency-condition and run-status table in docs/pipelines.md, run for real.

Each row is a small pipeline of `wait` (succeeds) and `fail` (fails) activities; the expected statuses are what
Azure Data Factory documents for the same graph (conditional paths and the leaf rule for the run's status).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lockgate.services.project import load_project
from lockgate.services.runner import run_pipeline
from lockgate.state import StateStore

WriteProject = Callable[[dict[str, str]], Path]

OK, FAIL = "ok", "fail"


def _activity(name: str, kind: str, *depends: tuple[str, list[str]]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name}
    body |= {"type": "wait", "seconds": 0} if kind == OK else {"type": "fail", "message": f"{name} broke"}
    if depends:
        body["depends_on"] = [{"activity": activity, "conditions": conditions} for activity, conditions in depends]
    return body


# (row id, activities, expected activity statuses, expected run status)
ROWS: list[tuple[str, list[dict[str, Any]], dict[str, str], str]] = [
    ("success path", [_activity("a", OK), _activity("b", OK, ("a", ["succeeded"]))],
     {"a": "succeeded", "b": "succeeded"}, "succeeded"),
    ("failure stops the success path", [_activity("a", FAIL), _activity("b", OK, ("a", ["succeeded"]))],
     {"a": "failed", "b": "skipped"}, "failed"),
    ("try/catch, try succeeds", [_activity("a", OK), _activity("catch", OK, ("a", ["failed"]))],
     {"a": "succeeded", "catch": "skipped"}, "succeeded"),
    ("try/catch, try fails", [_activity("a", FAIL), _activity("catch", OK, ("a", ["failed"]))],
     {"a": "failed", "catch": "succeeded"}, "succeeded"),
    ("try/catch, catch fails too", [_activity("a", FAIL), _activity("catch", FAIL, ("a", ["failed"]))],
     {"a": "failed", "catch": "failed"}, "failed"),
    ("completed after success", [_activity("a", OK), _activity("b", OK, ("a", ["completed"]))],
     {"a": "succeeded", "b": "succeeded"}, "succeeded"),
    ("completed after failure", [_activity("a", FAIL), _activity("b", OK, ("a", ["completed"]))],
     {"a": "failed", "b": "succeeded"}, "succeeded"),
    ("completed does not fire on skipped",
     [_activity("a", FAIL), _activity("b", OK, ("a", ["succeeded"])), _activity("c", OK, ("b", ["completed"]))],
     {"a": "failed", "b": "skipped", "c": "skipped"}, "failed"),
    ("skipped fires on skipped",
     [_activity("a", FAIL), _activity("b", OK, ("a", ["succeeded"])), _activity("c", OK, ("b", ["skipped"]))],
     {"a": "failed", "b": "skipped", "c": "succeeded"}, "succeeded"),
    ("skipping propagates down a chain",
     [_activity("a", FAIL), _activity("b", OK, ("a", ["succeeded"])), _activity("c", OK, ("b", ["succeeded"])),
      _activity("d", OK, ("c", ["succeeded"]))],
     {"a": "failed", "b": "skipped", "c": "skipped", "d": "skipped"}, "failed"),
    ("do-if-else, activity succeeds",
     [_activity("a", OK), _activity("then", OK, ("a", ["succeeded"])), _activity("else", OK, ("a", ["failed"]))],
     {"a": "succeeded", "then": "succeeded", "else": "skipped"}, "succeeded"),
    ("do-if-else, activity fails",
     [_activity("a", FAIL), _activity("then", OK, ("a", ["succeeded"])), _activity("else", OK, ("a", ["failed"]))],
     {"a": "failed", "then": "skipped", "else": "succeeded"}, "failed"),
    ("do-if-skip-else, activity succeeds",
     [_activity("a", OK), _activity("then", OK, ("a", ["succeeded"])), _activity("else", OK, ("a", ["failed"])),
      _activity("mark", OK, ("then", ["skipped"]))],
     {"a": "succeeded", "then": "succeeded", "else": "skipped", "mark": "skipped"}, "succeeded"),
    ("do-if-skip-else, activity fails",
     [_activity("a", FAIL), _activity("then", OK, ("a", ["succeeded"])), _activity("else", OK, ("a", ["failed"])),
      _activity("mark", OK, ("then", ["skipped"]))],
     {"a": "failed", "then": "skipped", "else": "succeeded", "mark": "succeeded"}, "succeeded"),
    ("dependencies are AND-ed",
     [_activity("a", OK), _activity("b", FAIL), _activity("c", OK, ("a", ["succeeded"]), ("b", ["succeeded"]))],
     {"a": "succeeded", "b": "failed", "c": "skipped"}, "failed"),
    ("AND of different conditions",
     [_activity("a", OK), _activity("b", FAIL), _activity("c", OK, ("a", ["succeeded"]), ("b", ["failed"]))],
     {"a": "succeeded", "b": "failed", "c": "succeeded"}, "succeeded"),
    ("conditions on one dependency are OR-ed",
     [_activity("a", FAIL), _activity("b", OK, ("a", ["succeeded", "failed"]))],
     {"a": "failed", "b": "succeeded"}, "succeeded"),
    ("generic error handler, a step fails",
     [_activity("a", FAIL), _activity("b", OK, ("a", ["succeeded"])), _activity("c", OK, ("b", ["succeeded"])),
      _activity("handler", OK, ("c", ["failed", "skipped"]))],
     {"a": "failed", "b": "skipped", "c": "skipped", "handler": "succeeded"}, "succeeded"),
    ("generic error handler, all succeed",
     [_activity("a", OK), _activity("b", OK, ("a", ["succeeded"])), _activity("c", OK, ("b", ["succeeded"])),
      _activity("handler", OK, ("c", ["failed", "skipped"]))],
     {"a": "succeeded", "b": "succeeded", "c": "succeeded", "handler": "skipped"}, "succeeded"),
    ("an unhandled failure in a parallel branch", [_activity("a", OK), _activity("b", FAIL)],
     {"a": "succeeded", "b": "failed"}, "failed"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "activities", "expected", "run_status"), ROWS, ids=[row[0] for row in ROWS])
def test_dependency_condition_table(
    write_project: WriteProject,
    sqlite_url: str,
    row: str,
    activities: list[dict[str, Any]],
    expected: dict[str, str],
    run_status: str,
) -> None:
    root = write_project({"pipelines/p.yaml": json.dumps({"activities": activities}, indent=1)})
    with StateStore.open(sqlite_url) as store:
        result = run_pipeline(load_project(root), "p", store=store)
        statuses = {outcome.name: outcome.status.value for outcome in result.activities}
        recorded = {record.activity: record.status.value for record in store.list_activity_runs(result.run_id)}
        run = store.get_run(result.run_id)
    assert statuses == expected, row
    assert recorded == expected, "the run record says the same"
    assert result.status.value == run_status == run.status.value, row


def test_a_failed_run_names_the_unhandled_failure(write_project: WriteProject, sqlite_url: str) -> None:
    activities = [_activity("a", FAIL), _activity("then", OK, ("a", ["succeeded"])), _activity("b", FAIL)]
    root = write_project({"pipelines/p.yaml": json.dumps({"activities": activities}, indent=1)})
    with StateStore.open(sqlite_url) as store:
        result = run_pipeline(load_project(root), "p", store=store)
    # `then` was skipped because of `a`, so `a` is the failure that decides; each names its place.
    assert result.error == "a: pipelines/p.yaml:3:3: a broke; b: pipelines/p.yaml:21:3: b broke"


def test_completed_cannot_be_combined_with_succeeded(run_cli, write_project: WriteProject) -> None:
    activities = [_activity("a", OK), _activity("b", OK, ("a", ["completed", "succeeded"]))]
    root = write_project({"pipelines/p.yaml": json.dumps({"activities": activities}, indent=1)})
    result = run_cli("validate", cwd=root)
    assert result.exit_code == 2
    assert "pipelines/p.yaml:" in result.stderr and "`completed` already means succeeded or failed" in result.stderr
