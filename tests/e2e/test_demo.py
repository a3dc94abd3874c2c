"""The first thing a user does: `lockgate init`, `lockgate run daily`, `lockgate query`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable


def test_init_run_query(run_cli, tmp_path: Path) -> None:
    result = run_cli("init", "demo", "--rows", "200", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    project = tmp_path / "demo"

    run = run_cli("run", "daily", cwd=project)
    assert run.exit_code == 0, run.output
    assert "succeeded" in run.stdout

    query = run_cli(
        "query",
        "SELECT year, month, sum(encounters) AS n FROM gold.encounters_by_month GROUP BY ALL ORDER BY year, month",
        "--format",
        "csv",
        cwd=project,
    )
    assert query.exit_code == 0, query.output
    rows = list(csv.DictReader(io.StringIO(query.stdout)))
    assert rows[0].keys() == {"year", "month", "n"}
    # Every encounter in 2022..2024 is counted once in the gold table.
    expected = duckdb.execute(
        f"SELECT count(*) FROM '{project}/data/landing/encounters.parquet' WHERE year(admit_date) >= 2022"
    ).fetchone()[0]
    assert sum(int(r["n"]) for r in rows) == expected


def test_gold_tables_are_delta_tables_readable_by_any_reader(run_cli, demo_project: Path) -> None:
    assert run_cli("run", "daily", cwd=demo_project).exit_code == 0
    table = DeltaTable(str(demo_project / ".lockgate/lake/dev/gold/patient_summary"))
    assert table.version() == 0
    assert table.to_pyarrow_table().num_rows > 0
    # A second run commits a new version; the first stays readable by time travel.
    assert run_cli("run", "daily", cwd=demo_project).exit_code == 0
    table = DeltaTable(str(demo_project / ".lockgate/lake/dev/gold/patient_summary"))
    assert table.version() == 1
    assert (
        DeltaTable(str(demo_project / ".lockgate/lake/dev/gold/patient_summary"), version=0).to_pyarrow_table().num_rows
        > 0
    )


def test_information_schema_lists_every_table_with_its_schema(run_cli, demo_project: Path) -> None:
    assert run_cli("run", "daily", cwd=demo_project).exit_code == 0
    result = run_cli(
        "query",
        "SELECT table_schema, table_name FROM information_schema.tables ORDER BY 1, 2",
        "--format",
        "json",
        cwd=demo_project,
    )
    assert result.exit_code == 0, result.output
    tables = {(r["table_schema"], r["table_name"]) for r in json.loads(result.stdout)}
    assert {("bronze", "patients"), ("silver", "encounters"), ("gold", "encounters_by_month")} <= tables


def test_environments_are_isolated(run_cli, demo_project: Path) -> None:
    assert run_cli("run", "daily", "--env", "prod", cwd=demo_project).exit_code == 0
    dev = run_cli("query", "SELECT count(*) AS n FROM silver.encounters", cwd=demo_project)
    assert dev.exit_code == 2 and "does not exist in environment 'dev'" in dev.stderr
    prod = run_cli(
        "query",
        "SELECT min(year(admit_date)) AS y FROM silver.encounters",
        "--env",
        "prod",
        "-f",
        "csv",
        cwd=demo_project,
    )
    assert prod.stdout.splitlines()[1] == "2023"  # prod sets min_admit_year: 2023


def test_runs_are_recorded(run_cli, demo_project: Path) -> None:
    run_cli("run", "daily", cwd=demo_project)
    listing = run_cli("runs", cwd=demo_project)
    assert listing.exit_code == 0 and "daily" in listing.stdout and "succeeded" in listing.stdout
    run_id = listing.stdout.split("daily")[0].split()[-2].strip("│ ")
    shown = run_cli("runs", "show", run_id[:12], cwd=demo_project)
    assert shown.exit_code == 0, shown.output
    for activity in ("bronze_patients", "silver_encounters", "gold_patient_summary"):
        assert activity in shown.stdout


@pytest.mark.parametrize("target", ["notebooks/gold/patient_summary.py", "notebooks/gold/patient_summary"])
def test_run_one_notebook_with_widgets(run_cli, demo_project: Path, target: str) -> None:
    assert run_cli("run", "daily", cwd=demo_project).exit_code == 0
    result = run_cli("run", target, "-p", "run_date=2030-01-01", cwd=demo_project)
    assert result.exit_code == 0, result.output


def test_file_reads_work_after_spark_sql_was_generated_in_the_process(demo_project: Path) -> None:
    """Generating Spark SQL before the DuckDB engine's PySpark API loads (as validation and the Spark engine do)
    must not break that API's file reads (sqlglot caches the Spark generator's methods on first use)."""
    import subprocess
    import sys

    code = "import sqlglot; sqlglot.parse_one('SELECT 1').sql(dialect='spark'); from lockgate.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "run", "daily"], cwd=demo_project, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stderr
