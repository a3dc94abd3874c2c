"""OpenLineage events: a START and an end event per run and per activity attempt, with inputs and outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lockgate.services.project import load_project
from lockgate.services.runner import run_pipeline
from lockgate.state import StateStore

WriteProject = Callable[[dict[str, str]], Path]

CONFIG = """\
name: shop
environments:
  dev: {lake: .lockgate/lake/dev}
connections:
  landing: {type: local, path: landing}
lineage:
  file: .lockgate/lineage.jsonl
"""

PIPELINE = """\
activities:
  - name: land
    type: copy
    source: {connection: landing, path: orders.csv, format: csv}
    sink: {table: bronze.orders, mode: overwrite}
  - name: fail_softly
    type: fail
    depends_on: [land]
    message: not today
  - name: handled
    type: wait
    depends_on: [{activity: fail_softly, conditions: [failed]}]
"""


def test_each_activity_sends_start_and_end_events_with_datasets(write_project: WriteProject, sqlite_url: str) -> None:
    root = write_project(
        {
            "lockgate.yaml": CONFIG,
            "landing/orders.csv": "id,amount\n1,10\n2,20\n3,30\n",
            "pipelines/load.yaml": PIPELINE,
        }
    )
    with StateStore.open(sqlite_url) as store:
        result = run_pipeline(load_project(root), "load", store=store)
    assert result.status.value == "succeeded"

    events = [json.loads(line) for line in (root / ".lockgate/lineage.jsonl").read_text().splitlines()]
    summary = [(event["eventType"], event["job"]["name"]) for event in events]
    assert summary[0] == ("START", "load") and summary[-1] == ("COMPLETE", "load")
    assert ("START", "load.land") in summary and ("COMPLETE", "load.land") in summary
    assert ("FAIL", "load.fail_softly") in summary and ("COMPLETE", "load.handled") in summary
    assert {event["job"]["namespace"] for event in events} == {"shop"}

    land_end = next(e for e in events if e["job"]["name"] == "load.land" and e["eventType"] == "COMPLETE")
    [output] = land_end["outputs"]
    assert output["namespace"] == "file"
    assert output["name"].endswith(".lockgate/lake/dev/bronze/orders")
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 3
    [source] = land_end["inputs"]
    assert source["inputFacets"]["inputStatistics"]["rowCount"] == 3
    run_start = events[0]
    assert land_end["run"]["facets"]["parent"]["run"]["runId"] == run_start["run"]["runId"]
    failed = next(e for e in events if e["eventType"] == "FAIL")
    assert "not today" in failed["run"]["facets"]["errorMessage"]["message"]


def test_lineage_needs_exactly_one_target(run_cli, write_project: WriteProject) -> None:
    config = CONFIG.replace("  file: .lockgate/lineage.jsonl\n", "  endpoint: api/v1/lineage\n")
    root = write_project({"lockgate.yaml": config, "pipelines/load.yaml": PIPELINE})
    result = run_cli("validate", cwd=root)
    assert result.exit_code == 2
    assert "lockgate.yaml:" in result.stderr and "lineage needs exactly one of `file:` or `url:`" in result.stderr
