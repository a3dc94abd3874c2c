"""Ten deploys started at once against one state database: one holds the lock at a time, none interleaves."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RunCli = Callable[..., Any]  # the run_cli fixture
DEPLOYS = 10


@pytest.mark.slow
def test_ten_concurrent_deploys_run_one_at_a_time(
    fixture_project: Callable[[str], Path],
    run_cli: RunCli,
    state_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("LOCKGATE_STATE_URL", state_url)
    monkeypatch.setenv("LOCKGATE_SECRET_PROD_WAREHOUSE_PASSWORD", "x")
    shop = fixture_project("shop")
    assert run_cli("status", "--env", "prod", cwd=shop).exit_code == 0  # creates the schema before the race
    # Ten variants of the project, each with its own cron: ten different releases racing for one environment.
    variants = []
    for index in range(DEPLOYS):
        variant = tmp_path / f"variant{index}"
        shutil.copytree(shop, variant, ignore=shutil.ignore_patterns(".lockgate"))
        hourly = variant / "triggers/orders_hourly.yaml"
        hourly.write_text(hourly.read_text().replace('"0 * * * *"', f'"{index} * * * *"'))
        variants.append(variant)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "lockgate", "deploy", "--env", "prod", "--yes", "--lock-timeout", "300"],
            cwd=variant,
            env={**os.environ, "LOCKGATE_USER": f"engineer{index}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index, variant in enumerate(variants)
    ]
    outcomes = [process.communicate(timeout=600) for process in processes]
    assert [process.returncode for process in processes] == [0] * DEPLOYS, outcomes

    history = json.loads(run_cli("history", "--env", "prod", "-f", "json", "-n", "50", cwd=shop).stdout)
    records = sorted(history, key=lambda record: record["id"])
    assert len(records) == DEPLOYS
    assert {record["status"] for record in records} == {"succeeded"}
    assert sorted(record["user"] for record in records) == sorted(f"engineer{i}" for i in range(DEPLOYS))
    assert all(record["locked_at"] and record["finished_at"] for record in records)
    for earlier, later in itertools.pairwise(records):
        # Each deploy planned against the one before it, and got the lock only after that one had finished.
        assert later["base_deployment_id"] == earlier["id"]
        assert later["locked_at"] >= earlier["finished_at"]
    assert records[0]["base_deployment_id"] is None
    assert all(len(record["changes"]) == 1 for record in records[1:])  # only the trigger's cron, every time

    status = json.loads(run_cli("status", "--env", "prod", "-f", "json", cwd=shop).stdout)
    assert status["deployment"]["id"] == records[-1]["id"]
    assert status["deployment"]["release_hash"] == records[-1]["release_hash"]
    assert status["triggers"]["orders_hourly"]["state"] == "started"
