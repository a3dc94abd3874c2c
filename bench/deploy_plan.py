"""`lockgate validate`, `plan` and `deploy` of a generated project of 5,000 resources, to protected env prod.

The project (in a temporary folder, outside Git, so it builds from the working tree) holds RESOURCES/4 pipelines
of 2 notebook activities each (the second depends on the first), RESOURCES/2 small Databricks-source notebooks
(a Python cell and a `%sql` cell) and RESOURCES/4 schedule triggers started in prod. The state store is a SQLite
file in the temporary folder (`LOCKGATE_STATE_URL`). Every CLI step runs as a fresh process, as a user would
start it, REPEATS times, and the best time is kept: validate, plan on an empty state (all creates), the first
deploy (each repeat on a fresh state), plan after the deploy (all unchanged) and a deploy with nothing to do.
A line times `python -c "import lockgate.cli, ..."` to show the fixed start-up, and in-process timings of the
pieces (loading the project, building the release, reading the deployed state, build_plan, rendering the plan,
a no-op `services.deploy.deploy`) show where the rest goes. The aims are plan < 1 s and no-op deploy < 1 s; the
script prints seconds, ratios to `validate` and whether the aims are met in this one run.

    python bench/deploy_plan.py [--resources 5000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from lockgate.cli.render_plan import PlanFormat, render_plan
from lockgate.model.plan import build_plan
from lockgate.model.release import Release
from lockgate.services.deploy import DeployOptions, deploy
from lockgate.services.planning import plan_release
from lockgate.services.project import load_project
from lockgate.services.release import build_project_release
from lockgate.services.settings import Settings
from lockgate.state import StateStore

LOCKGATE = [sys.executable, "-m", "lockgate"]
ENVIRONMENT = "prod"
AIM_SECONDS = 1.0
IMPORTS = "import lockgate.cli, lockgate.services.release, lockgate.services.planning, lockgate.services.deploy"
T = TypeVar("T")

NOTEBOOK = """# Databricks notebook source
# MAGIC %md
# MAGIC # Notebook {n}

# COMMAND ----------

dbutils.widgets.text("run_date", "2024-12-31")
orders = spark.table("bronze.orders_{n}").filter(f"order_date <= '{{dbutils.widgets.get('run_date')}}'")
orders.write.mode("overwrite").saveAsTable("silver.orders_{n}")

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT order_date, count(*) AS orders FROM silver.orders_{n} GROUP BY order_date
"""

PIPELINE = """description: Generated pipeline {n}.
activities:
  - name: load
    type: notebook
    notebook: notebooks/nb_{first}.py
    parameters: {{run_date: "2024-12-31"}}
  - name: report
    type: notebook
    notebook: notebooks/nb_{second}.py
    depends_on: [load]
"""

TRIGGER = """type: schedule
pipeline: p_{n}
cron: "{minute} {hour} * * *"
timezone: Europe/Amsterdam
started_in: [prod]
"""


def write_project(root: Path, resources: int) -> tuple[int, int, int]:
    """Write the project; returns how many pipelines, notebooks and triggers it holds."""
    pipelines = max(resources // 4, 1)
    notebooks = 2 * pipelines
    triggers = max(resources - pipelines - notebooks, 0)
    width = len(str(max(notebooks, triggers)))
    for folder in ("pipelines", "notebooks", "triggers"):
        (root / folder).mkdir(parents=True)
    (root / "lockgate.yaml").write_text(
        "name: bench\n"
        "environments:\n"
        "  dev:  {lake: .lockgate/lake/dev}\n"
        "  prod: {lake: .lockgate/lake/prod}   # protected by default\n"
    )
    for i in range(1, notebooks + 1):
        (root / "notebooks" / f"nb_{i:0{width}d}.py").write_text(NOTEBOOK.format(n=f"{i:0{width}d}"))
    for i in range(1, pipelines + 1):
        first, second = f"{2 * i - 1:0{width}d}", f"{2 * i:0{width}d}"
        (root / "pipelines" / f"p_{i:0{width}d}.yaml").write_text(PIPELINE.format(n=i, first=first, second=second))
    for i in range(1, triggers + 1):
        pipeline = (i - 1) % pipelines + 1
        (root / "triggers" / f"t_{i:0{width}d}.yaml").write_text(
            TRIGGER.format(n=f"{pipeline:0{width}d}", minute=i % 60, hour=(i // 60) % 24)
        )
    return pipelines, notebooks, triggers


def state_url(path: Path) -> str:
    return f"sqlite:///{path}"


def create_state(path: Path) -> str:
    """An empty state database with its schema in place, so CLI timings do not include creating it."""
    url = state_url(path)
    StateStore.open(url).close()
    return url


def run_cli(arguments: list[str], root: Path, url: str) -> float:
    env = {**os.environ, "LOCKGATE_STATE_URL": url}
    command = [*LOCKGATE, "-C", str(root), *arguments]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=root.parent, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return elapsed


def best(times: list[float]) -> float:
    return min(times)


def best_in_process(function: Callable[[], T], repeats: int) -> tuple[float, T]:
    """The best time of ``repeats`` calls, and the last call's result."""
    times = []
    result: T | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    assert result is not None
    return min(times), result


def time_cli(root: Path, tmp: Path, repeats: int) -> dict[str, float]:
    """Best seconds of each CLI step; leaves ``tmp/state.db`` holding the deployed release."""
    empty = create_state(tmp / "state-empty.db")
    deployed = create_state(tmp / "state.db")
    deploy = ["deploy", "--env", ENVIRONMENT, "--yes"]
    times: dict[str, list[float]] = {}
    times["imports (python -c)"] = [timed_imports() for _ in range(repeats)]
    times["validate"] = [run_cli(["validate"], root, empty) for _ in range(repeats)]
    times["plan, empty state"] = [run_cli(["plan", "--env", ENVIRONMENT], root, empty) for _ in range(repeats)]
    first = []
    for index in range(repeats):
        url = deployed if index == repeats - 1 else create_state(tmp / f"state-first-{index}.db")
        first.append(run_cli(deploy, root, url))
    times["deploy, first"] = first
    times["plan, after deploy"] = [run_cli(["plan", "--env", ENVIRONMENT], root, deployed) for _ in range(repeats)]
    times["deploy, no-op"] = [run_cli(deploy, root, deployed) for _ in range(repeats)]
    return {step: best(values) for step, values in times.items()}


def timed_imports() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", IMPORTS], check=True, capture_output=True)
    return time.perf_counter() - started


def time_in_process(root: Path, tmp: Path, repeats: int, resources: int) -> dict[str, float]:
    """Best seconds of the pieces plan and deploy are made of, called in this process (imports already done)."""
    times: dict[str, float] = {}
    times["load_project"], _ = best_in_process(lambda: load_project(root), repeats)
    times["build_project_release"], release = best_in_process(lambda: build_project_release(root, ENVIRONMENT), repeats)
    if release.commit is not None or release.dirty:
        sys.exit(
            f"expected a release from a working tree outside Git, got commit={release.commit} dirty={release.dirty}"
        )
    if len(release.resources) != resources + 1:  # + the environment itself
        sys.exit(f"expected {resources + 1} resources in the release, got {len(release.resources)}")
    times |= time_plan_pieces("empty state", tmp / "state-empty.db", release, repeats, "create")
    times |= time_plan_pieces("after deploy", tmp / "state.db", release, repeats, "unchanged")
    return times


def time_plan_pieces(label: str, path: Path, release: Release, repeats: int, expected: str) -> dict[str, float]:
    """Reading the deployed state, build_plan, plan_release and rendering against one state database.

    After a deploy, also a no-op `services.deploy.deploy` (which records one more deployment per call).
    """
    times: dict[str, float] = {}
    times[f"StateStore.open ({label})"], store = best_in_process(lambda: StateStore.open(state_url(path)), 1)
    try:
        times[f"deployed_state ({label})"], deployed = best_in_process(
            lambda: store.deployed_state(ENVIRONMENT), repeats
        )
        times[f"build_plan ({label})"], _ = best_in_process(lambda: build_plan(release, deployed), repeats)
        times[f"plan_release ({label})"], plan = best_in_process(lambda: plan_release(store, release), repeats)
        times[f"render_plan text ({label})"], _ = best_in_process(lambda: render_plan(plan, PlanFormat.text), repeats)
        counts = Counter(change.action.value for change in plan.changes)
        if counts[expected] != len(release.resources):
            sys.exit(f"plan ({label}): expected every resource to be {expected}, got {dict(counts)}")
        if expected == "unchanged":
            times["services.deploy.deploy (no-op)"], _ = best_in_process(
                lambda: deploy(store, release, Settings(), DeployOptions(yes=True)), repeats
            )
    finally:
        store.close()
    return times


def print_table(title: str, times: dict[str, float], base: float) -> None:
    print(f"{title:<38} {'seconds':>10}  {'/ validate':>10}")
    for step, seconds in times.items():
        print(f"  {step:<36} {seconds:8.3f} s  {seconds / base:9.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=5000)
    parser.add_argument("--repeats", "--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        root = tmp / "bench"
        started = time.perf_counter()
        pipelines, notebooks, triggers = write_project(root, args.resources)
        generated = time.perf_counter() - started
        total = pipelines + notebooks + triggers
        cli = time_cli(root, tmp, args.repeats)
        pieces = time_in_process(root, tmp, args.repeats, total)
        shutil.rmtree(root / ".lockgate", ignore_errors=True)
    base = cli["validate"]
    print(
        f"{total:,} resources ({pipelines:,} pipelines, {notebooks:,} notebooks, {triggers:,} triggers; "
        f"generated in {generated:.2f} s), env {ENVIRONMENT} (protected), outside Git, SQLite state; "
        f"best of {args.repeats}"
    )
    print_table("CLI, a fresh process each", cli, base)
    print_table("in process (imports done), the pieces", pieces, base)
    print(f"aims (this run): plan < {AIM_SECONDS:g} s, no-op deploy < {AIM_SECONDS:g} s")
    for step in ("plan, empty state", "plan, after deploy", "deploy, no-op"):
        verdict = "met" if cli[step] < AIM_SECONDS else "NOT met"
        print(f"  {step:<20} {cli[step]:6.2f} s: {verdict}")


if __name__ == "__main__":
    main()
