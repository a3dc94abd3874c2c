"""The `lockgate init` demo pipeline on the Spark engine (`local[*]`) versus the same work as one hand-made PySpark
script, Spark start-up included on both sides.

The project is `lockgate init DIR --rows ROWS` in a temporary folder. Lockgate's side is `lockgate run daily
--engine spark` (environment dev: Delta tables in the lake, the run recorded in the SQLite state store, the
declared checks of `tables/gold.yaml` run); the baseline is `bench/handmade_demo_pyspark.py`, the notebooks'
reads, transformations and writes in plain PySpark with the same session settings, writing Parquet. Each is a
fresh process timed from start to exit, so both pay the JVM start. The hand-made script also runs the
notebooks' displays and `%sql` SELECT cells only if lockgate's first run printed rows for them (its activity
logs show a `DataFrame[...]` line when a display ran no Spark job), so both sides run the same Spark jobs.
`lockgate run daily --env test` (the embedded DuckDB engine, same project) is timed as context. Sides alternate,
REPEAT times, after one untimed JVM start that warms the file cache. The gold tables' row counts of both sides
must agree or the script fails. It prints medians, lockgate's per-activity seconds from its last run's record,
and the ratio lockgate / hand-made measured in this one run; the issue's aim is under 1.3x.

    python bench/spark_vs_pyspark.py [--rows 1000000] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import deltalake
import pyarrow.parquet as pq

from lockgate.engine import spark_session
from lockgate.state import StateStore

AIM = 1.3
LOCKGATE = [sys.executable, "-m", "lockgate"]
HANDMADE = Path(__file__).with_name("handmade_demo_pyspark.py")
GOLD_TABLES = ("encounters_by_month", "encounter_type_stats", "top_diagnoses", "patient_summary")
WARM_UP = (
    "from pyspark.sql import SparkSession; "
    "SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false').getOrCreate().stop()"
)
ELSEWHERE = {"LOCKGATE_SPARK_MASTER", "LOCKGATE_STATE_URL"}
"""Settings that would send lockgate somewhere else (a cluster, another state store): left out of the runs."""
_SPARK_READY = re.compile(r"spark ready in ([\d.]+)s")


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    """Seconds from the process's start to its exit, and what it printed (stdout then stderr)."""
    env = {key: value for key, value in os.environ.items() if key not in ELSEWHERE}
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return elapsed, completed.stdout + completed.stderr


def last_run_activities(project: Path) -> tuple[float, list[tuple[str, float, str]]]:
    """The newest Spark run's recorded seconds, and each activity's name, seconds and log."""
    with StateStore.open(f"sqlite:///{project}/.lockgate/state.db") as store:
        run = store.list_runs(limit=1, pipeline="daily", environment="dev")[0]
        records = store.list_activity_runs(run.id)
    assert run.finished_at is not None
    activities = [
        (record.activity, (record.finished_at - record.started_at).total_seconds(), record.log)
        for record in records
        if record.finished_at is not None
    ]
    return (run.finished_at - run.started_at).total_seconds(), activities


def displays_run_jobs(activities: list[tuple[str, float, str]]) -> bool:
    """Whether lockgate's displays and `%sql` SELECT cells fetched rows (a bare `DataFrame[...]` line: no job)."""
    return not any(line.startswith("DataFrame[") for _, _, log in activities for line in log.splitlines())


def gold_row_counts(project: Path, handmade_out: Path) -> dict[str, tuple[int, int]]:
    """Rows of each gold table: (lockgate's Delta table, the hand-made Parquet folder)."""
    lake = project / ".lockgate/lake/dev/gold"
    return {
        table: (
            deltalake.DeltaTable(str(lake / table)).to_pyarrow_table().num_rows,
            pq.read_table(handmade_out / "gold" / table).num_rows,
        )
        for table in GOLD_TABLES
    }


def each(values: list[float]) -> str:
    """The single runs behind a median, in run order, when there are several (how noisy the machine was)."""
    return "  (" + ", ".join(f"{value:.1f}" for value in values) + ")" if len(values) > 1 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="Patients in the demo data (lockgate init --rows).")
    parser.add_argument("--repeat", type=int, default=1, help="Runs of each side, alternating; medians are shown.")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    log4j = str(Path(spark_session.__file__).with_name("spark_log4j2.properties"))
    with tempfile.TemporaryDirectory(prefix="lockgate-bench-") as tmp:
        project, handmade_out = Path(tmp) / "demo", Path(tmp) / "handmade"
        timed([*LOCKGATE, "init", str(project), "--rows", str(args.rows)], Path(tmp))
        timed([sys.executable, "-c", WARM_UP], project)
        times: dict[str, list[float]] = {"lockgate": [], "handmade": [], "duckdb": []}
        spark_ready: list[float] = []
        run_seconds: list[float] = []
        show: bool | None = None
        for _ in range(args.repeat):
            seconds, output = timed([*LOCKGATE, "run", "daily", "--engine", "spark"], project)
            times["lockgate"].append(seconds)
            spark_ready += [float(match) for match in _SPARK_READY.findall(output)]
            recorded, activities = last_run_activities(project)
            run_seconds.append(recorded)
            if show is None:
                show = displays_run_jobs(activities)
            handmade = [sys.executable, str(HANDMADE), str(handmade_out), "--log4j", log4j]
            times["handmade"].append(timed(handmade + (["--show"] if show else []), project)[0])
            times["duckdb"].append(timed([*LOCKGATE, "run", "daily", "--env", "test"], project)[0])
        counts = gold_row_counts(project, handmade_out)
    mismatched = {table: pair for table, pair in counts.items() if pair[0] != pair[1]}
    if mismatched:
        sys.exit(f"gold row counts differ (lockgate, hand-made): {mismatched}; the timings compare different work")
    median = {side: statistics.median(values) for side, values in times.items()}
    ratio = median["lockgate"] / median["handmade"]
    print(
        f"demo pipeline, {args.rows:,} patients, local[*] on {os.cpu_count()} cores, median of {args.repeat} "
        "(process and Spark start included)"
    )
    print(f"  hand-made PySpark script (Parquet)  : {median['handmade']:7.2f} s{each(times['handmade'])}")
    print(f"  lockgate run --engine spark (Delta) : {median['lockgate']:7.2f} s{each(times['lockgate'])}")
    if spark_ready:
        print(f"    of which Spark start-up           : {statistics.median(spark_ready):7.2f} s{each(spark_ready)}")
    print(f"    of which the recorded run         : {statistics.median(run_seconds):7.2f} s{each(run_seconds)}")
    print(f"  lockgate run --env test (DuckDB)    : {median['duckdb']:7.2f} s{each(times['duckdb'])}")
    print(f"  displays and %sql SELECT cells run Spark jobs: {'yes' if show else 'no'} (hand-made does the same)")
    print("  gold rows (both sides): " + ", ".join(f"{table} {pair[0]:,}" for table, pair in counts.items()))
    print("  lockgate activities, last run (seconds; parallel ones overlap):")
    for name, seconds, _ in activities:
        print(f"    {name:26} {seconds:7.2f}")
    verdict = "meets" if ratio < AIM else "misses"
    print(f"  ratio lockgate spark / hand-made: {ratio:.2f}x ({verdict} the {AIM}x aim)")


if __name__ == "__main__":
    main()
