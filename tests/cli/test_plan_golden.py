"""`lockgate plan` output, byte for byte, in text, JSON and Markdown (tests/fixtures/golden/plan_prod.*).

The `shop` fixture is deployed to prod, then changed the ways a team changes a project: a notebook edited, a
cron moved, a pipeline with its trigger and SQL file removed, a notebook added, and a trigger paused by an
operator. The project is outside Git, so every hash in the output is stable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RunCli = Callable[..., Any]  # the run_cli fixture: returns a Any


@pytest.fixture
def changed_shop(
    fixture_project: Callable[[str], Path], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    monkeypatch.setenv("LOCKGATE_SECRET_PROD_WAREHOUSE_PASSWORD", "hunter2")
    monkeypatch.setenv("LOCKGATE_USER", "ana")
    monkeypatch.setenv("LOCKGATE_STATE_URL", f"sqlite:///{tmp_path / 'state.db'}")
    root = fixture_project("shop")
    assert run_cli("deploy", "--env", "prod", "--yes", cwd=root).exit_code == 0
    assert run_cli("trigger", "pause", "landing_files", "--env", "prod").exit_code == 0

    silver = root / "notebooks/orders_silver.py"
    silver.write_text(silver.read_text().replace("id > 2", "id > 3"))
    hourly = root / "triggers/orders_hourly.yaml"
    hourly.write_text(hourly.read_text().replace('"0 * * * *"', '"15 * * * *"'))
    for gone in ("pipelines/customers.yaml", "triggers/customers_daily.yaml", "sql/customers.sql"):
        (root / gone).unlink()
    (root / "notebooks/returns.py").write_text("# Databricks notebook source\nspark.range(1)\n")
    return root


@pytest.mark.parametrize(("output_format", "suffix"), [("text", "txt"), ("json", "json"), ("markdown", "md")])
def test_plan_output_matches_the_golden_file(
    changed_shop: Path, run_cli: RunCli, golden: Callable[[str, str], None], output_format: str, suffix: str
) -> None:
    result = run_cli("plan", "--env", "prod", "--format", output_format)
    assert result.exit_code == 0, result.stderr
    golden(f"plan_prod.{suffix}", result.stdout)


def test_the_saved_plan_is_the_json_output_and_deploys(changed_shop: Path, run_cli: RunCli, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    printed = run_cli("plan", "--env", "prod", "-f", "json", "--out", str(saved))
    assert json.loads(printed.stdout) == json.loads(saved.read_text())
    deployed = run_cli("deploy", "--plan", str(saved), "--yes")
    assert deployed.exit_code == 0, deployed.stderr
    assert "1 created, 2 updated, 3 deleted" in deployed.stdout
    status = json.loads(run_cli("status", "--env", "prod", "-f", "json").stdout)
    assert status["triggers"] == {
        "landing_files": {"state": "stopped", "set_by": "operator", "actor": "ana"},
        "orders_hourly": {"state": "started", "set_by": "deploy", "actor": "deployment #2"},
    }
