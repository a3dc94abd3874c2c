"""Crash injection: a deploy process SIGKILLed at each stage leaves the environment as before, or as planned.

The deploy runs in a real subprocess with ``LOCKGATE_TEST_KILL_AT=<stage>``: it kills itself with SIGKILL
right after that stage (``Committed``: right after the commit). Then the deployed state (the plan's base state
hash covers every deployed resource, trigger state and the last deployment), the trigger states, the audit
log, and the lock (another deploy must get it at once) are checked, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lockgate.services.deploy import KILL_AT_VARIABLE

RunCli = Callable[..., Any]  # the run_cli fixture
STAGES = ["AcquireLock", "PauseTriggers", "ApplyChanges", "ResumeTriggers", "RecordDeployment"]


def snapshot(run_cli: RunCli) -> dict[str, Any]:
    plan = json.loads(run_cli("plan", "--env", "prod", "-f", "json").stdout)
    status = json.loads(run_cli("status", "--env", "prod", "-f", "json").stdout)
    history = json.loads(run_cli("history", "--env", "prod", "-f", "json").stdout)
    return {
        "state": plan["base"]["state_hash"],
        "release": plan["release"]["hash"],
        "deployed_release": status["deployment"]["release_hash"],
        "triggers": status["triggers"],
        "history": [(h["id"], h["status"], h["release_hash"]) for h in history],
    }


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [*STAGES, "Committed"])
def test_a_deploy_killed_at_any_stage_is_all_or_nothing(
    kill_at: str,
    fixture_project: Callable[[str], Path],
    run_cli: RunCli,
    state_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCKGATE_STATE_URL", state_url)
    monkeypatch.setenv("LOCKGATE_SECRET_PROD_WAREHOUSE_PASSWORD", "x")
    root = fixture_project("shop")
    monkeypatch.chdir(root)
    assert run_cli("deploy", "--env", "prod", "--yes").exit_code == 0
    silver = root / "notebooks/orders_silver.py"
    silver.write_text(silver.read_text() + "\n# changed\n")
    hourly = root / "triggers/orders_hourly.yaml"
    hourly.write_text(hourly.read_text().replace('"0 * * * *"', '"5 * * * *"'))
    (root / "triggers/customers_daily.yaml").unlink()
    before = snapshot(run_cli)

    killed = subprocess.run(
        [sys.executable, "-m", "lockgate", "deploy", "--env", "prod", "--yes"],
        env={**os.environ, KILL_AT_VARIABLE: kill_at},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    after = snapshot(run_cli)
    if kill_at == "Committed":
        assert after["deployed_release"] == before["release"]
        assert after["history"] == [(2, "succeeded", before["release"]), *before["history"]]
        assert after["triggers"]["orders_hourly"]["state"] == "started"
        assert "customers_daily" not in after["triggers"]
    else:
        assert after == before
    # The lock died with the process: the next deploy gets it at once, and finds the state consistent.
    again = run_cli("deploy", "--env", "prod", "--yes", "--lock-timeout", "5")
    assert again.exit_code == 0, again.stderr
    final = snapshot(run_cli)
    assert final["deployed_release"] == before["release"]
    assert set(final["triggers"]) == {"landing_files", "orders_hourly"}
    assert all(trigger["state"] == "started" for trigger in final["triggers"].values())
