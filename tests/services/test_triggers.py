"""Trigger files load with the project, and `lockgate validate` checks the names they use."""

from __future__ import annotations

from pathlib import Path

from lockgate.model.trigger import ScheduleTrigger
from lockgate.services.project import load_project

PIPELINE = "activities:\n  - {name: a, type: sql, sql: SELECT 1}\n"


def test_the_init_project_has_a_nightly_trigger_started_in_prod_only(demo_project: Path) -> None:
    project = load_project(demo_project)
    nightly = project.triggers["nightly"].trigger
    assert isinstance(nightly, ScheduleTrigger) and nightly.pipeline == "daily"
    assert nightly.is_started_in("prod") and not nightly.is_started_in("dev")


def test_validate_reports_unknown_names_in_triggers(run_cli, write_project) -> None:
    root = write_project(
        {
            "pipelines/daily.yaml": PIPELINE,
            "triggers/t.yaml": "type: schedule\npipeline: dialy\ncron: '0 2 * * *'\nstarted_in: [prd]\n",
            "triggers/f.yaml": "type: file\npipeline: daily\nconnection: landing\npath: in/*.csv\n",
        }
    )
    result = run_cli("validate", cwd=root)
    assert result.exit_code == 2
    assert "triggers/f.yaml:3:1: unknown connection 'landing'" in result.stderr
    assert "triggers/t.yaml:2:1: unknown pipeline 'dialy'" in result.stderr and "did you mean 'daily'" in result.stderr
    assert "triggers/t.yaml:4:14: unknown environment 'prd'" in result.stderr
