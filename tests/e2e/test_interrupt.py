"""Ctrl-C during a run: the run is recorded as cancelled and every table keeps its committed versions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from deltalake import DeltaTable

from lockgate.state import ActivityStatus, RunStatus, StateStore

SLOW_NOTEBOOK = """\
# Databricks notebook source
import pathlib, time
spark.range(5).write.mode("overwrite").saveAsTable("work.numbers")
pathlib.Path("started.flag").write_text("ok")
while True:  # a notebook that never ends; only cancellation stops it
    time.sleep(0.05)
"""


@pytest.mark.slow
def test_ctrl_c_cancels_the_run_and_keeps_tables(write_project) -> None:
    root = write_project(
        {
            "notebooks/seed.py": 'spark.range(3).write.mode("overwrite").saveAsTable("work.numbers")\n',
            "notebooks/slow.py": SLOW_NOTEBOOK,
            "pipelines/seed.yaml": "activities:\n  - {name: seed, type: notebook, notebook: notebooks/seed.py}\n",
            "pipelines/slow.yaml": (
                "activities:\n  - {name: slow, type: notebook, notebook: notebooks/slow.py}\n"
                "  - {name: after, type: notebook, notebook: notebooks/seed.py, depends_on: [slow]}\n"
            ),
        }
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run(
        [sys.executable, "-m", "lockgate", "run", "seed"], cwd=root, check=True, capture_output=True, env=env
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "lockgate", "run", "slow"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (root / "started.flag").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the slow notebook never started"
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stdout + stderr
    assert "cancelled" in stdout + stderr
    assert "slow " in stdout and "after " in stdout  # the summary lists every activity, cancelled ones too

    table = DeltaTable(str(root / ".lockgate/lake/dev/work/numbers"))
    assert table.version() == 1  # the seed run's version and the slow run's committed write
    assert DeltaTable(str(root / ".lockgate/lake/dev/work/numbers"), version=0).to_pyarrow_table().num_rows == 3
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        run = store.list_runs(limit=1)[0]
        assert run.pipeline == "slow" and run.status == RunStatus.cancelled
        statuses = {a.activity: a.status for a in store.list_activity_runs(run.id)}
    assert statuses == {"slow": ActivityStatus.cancelled, "after": ActivityStatus.cancelled}


@pytest.mark.slow
def test_a_killed_run_is_marked_interrupted_by_the_next_command(write_project, run_cli) -> None:
    root = write_project(
        {
            "notebooks/slow.py": SLOW_NOTEBOOK,
            "pipelines/slow.yaml": "activities:\n  - {name: slow, type: notebook, notebook: notebooks/slow.py}\n",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "lockgate", "run", "slow"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (root / "started.flag").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    listing = run_cli("runs", cwd=root)
    assert listing.exit_code == 0, listing.output
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        run = store.list_runs(limit=1)[0]
        [activity] = store.list_activity_runs(run.id)
    assert run.status == RunStatus.failed and run.error == "interrupted"
    assert activity.status == ActivityStatus.failed
    table = DeltaTable(str(root / ".lockgate/lake/dev/work/numbers"))
    assert table.to_pyarrow_table().num_rows == 5  # the write that committed before the kill is intact
