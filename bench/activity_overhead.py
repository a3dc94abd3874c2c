"""Per-activity overhead of the runner: a pipeline of N no-op activities (`wait: 0`), as a chain and as a fan-out.

Each shape runs in this process through the public runner API with the default SQLite state store on disk, so
every activity pays what a real one pays: its own thread, expression rendering, and two state writes (start and
finish, with inputs, output, log and metrics). Engine start-up is left out (it is reported by the run as
`EngineReady` and subtracted). For scale, the same number of start/finish record pairs is written to a fresh store
with nothing else around them: the rest is the runner's own cost. The issue's aim is under 2 ms per activity;
Dagster ops (7.9 ms) and Prefect tasks (4.0 ms) were measured by the issue's authors on the same kind of machine.

    python bench/activity_overhead.py [--activities 500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from lockgate.services.project import load_project
from lockgate.services.run_events import EngineReady, RunEvent
from lockgate.services.runner import run_pipeline
from lockgate.state import ActivityStatus, StateStore

AIM_MS = 2.0
PEERS_MS = {"Dagster op": 7.9, "Prefect task": 4.0}


def write_project(root: Path, count: int) -> None:
    (root / "pipelines").mkdir(parents=True)
    (root / "lockgate.yaml").write_text("name: bench\nenvironments:\n  dev: {lake: .lockgate/lake/dev}\n")
    chain = [{"name": "a0", "type": "wait", "seconds": 0}] + [
        {"name": f"a{i}", "type": "wait", "seconds": 0, "depends_on": [f"a{i - 1}"]} for i in range(1, count)
    ]
    fan_out = [{"name": "start", "type": "wait", "seconds": 0}] + [
        {"name": f"a{i}", "type": "wait", "seconds": 0, "depends_on": ["start"]} for i in range(1, count)
    ]
    # JSON is YAML; max_parallel 64 lets the fan-out run as wide as the runner allows.
    (root / "pipelines/chain.yaml").write_text(json.dumps({"activities": chain}))
    (root / "pipelines/fan_out.yaml").write_text(json.dumps({"max_parallel": 64, "activities": fan_out}))


def time_run(root: Path, pipeline: str) -> float:
    """Seconds of one run, engine start-up excluded."""
    engine_seconds = 0.0

    def on_event(event: RunEvent) -> None:
        nonlocal engine_seconds
        if isinstance(event, EngineReady):
            engine_seconds = event.seconds

    project = load_project(root)
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        started = time.perf_counter()
        result = run_pipeline(project, pipeline, store=store, on_event=on_event)
        elapsed = time.perf_counter() - started
    assert result.status.value == "succeeded", result.error
    return elapsed - engine_seconds


def time_bare_records(root: Path, count: int) -> float:
    """Seconds to write ``count`` start/finish activity records and nothing else."""
    with StateStore.open(f"sqlite:///{root}/bare.db") as store:
        run = store.create_run(pipeline="bare", target_kind="pipeline", environment="dev", engine="none", parameters={})
        started = time.perf_counter()
        for index in range(count):
            record = store.start_activity(run.id, activity=f"a{index}", activity_type="wait", parameters={})
            store.finish_activity(
                record.id,
                status=ActivityStatus.succeeded,
                output={"seconds": 0.0},
                metrics={"seconds": 0.0, "rows_written": {}, "rows_read": {}},
                parameters={"seconds": 0},
            )
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--activities", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_project(root, args.activities)
        time_run(root, "chain")  # warm-up: imports, first store open
        results = {}
        for shape in ("chain", "fan_out"):
            seconds = statistics.median(time_run(root, shape) for _ in range(args.repeats))
            results[shape] = seconds * 1000 / args.activities
        bare = statistics.median(time_bare_records(root, args.activities) for _ in range(args.repeats))
        bare_ms = bare * 1000 / args.activities
    print(f"{args.activities} no-op activities, median of {args.repeats} runs, engine start-up excluded")
    for shape, per_activity in results.items():
        peers = ", ".join(f"{peer} {ms:g} ms: {ms / per_activity:.1f}x slower" for peer, ms in PEERS_MS.items())
        print(
            f"  {shape:8} {per_activity:6.2f} ms/activity · {per_activity / AIM_MS:.2f}x the {AIM_MS:g} ms aim · "
            f"{per_activity / bare_ms:.1f}x bare state writes · {peers}"
        )
    print(f"  bare state writes (start + finish records only): {bare_ms:.2f} ms/activity")


if __name__ == "__main__":
    main()
