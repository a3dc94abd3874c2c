"""`lockgate validate` names SQL that only one of the project's engines runs, where it is written, with a fix."""

from __future__ import annotations

from pathlib import Path

TWO_ENGINES = """\
name: sample
engine: duckdb
environments:
  dev: {lake: .lockgate/lake/dev}
  prod: {lake: .lockgate/lake/prod, engine: spark}
"""

SPARK_ONLY = """\
name: sample
engine: spark
environments:
  dev: {lake: .lockgate/lake/dev}
  prod: {lake: .lockgate/lake/prod}
"""

DUCKDB_FLAVOURED = """\
-- Gold: monthly counts, written the DuckDB way
CREATE OR REPLACE TABLE gold.report AS
SELECT strftime(day, '%Y-%m') AS month, count(*) AS n
FROM read_parquet('data/visits.parquet')
GROUP BY 1;
"""

NOTEBOOK_PIPELINE = "activities:\n  - {name: report, type: notebook, notebook: gold/report.sql}\n"


def _project(write_project, config: str | None, sql: str) -> Path:
    files = {"gold/report.sql": sql, "pipelines/p.yaml": NOTEBOOK_PIPELINE}
    return write_project(files if config is None else {"lockgate.yaml": config, **files})


def test_duckdb_functions_fail_validate_when_an_environment_runs_spark(run_cli, write_project) -> None:
    result = run_cli("validate", cwd=_project(write_project, SPARK_ONLY, DUCKDB_FLAVOURED))

    assert result.exit_code == 2, result.output
    assert (
        "gold/report.sql:3:8: runs on DuckDB only (environments dev, prod use spark): "
        "function strftime() is not in Spark SQL\n  hint: use date_format(ts, 'yyyy-MM-dd')"
    ) in result.stderr
    assert (
        "gold/report.sql:4:6: runs on DuckDB only (environments dev, prod use spark): "
        "function read_parquet() is not in Spark SQL\n  hint: Spark SQL reads files with FROM parquet.`path`; "
    ) in result.stderr


def test_the_same_sql_validates_when_every_environment_runs_duckdb(run_cli, write_project) -> None:
    result = run_cli("validate", cwd=_project(write_project, None, DUCKDB_FLAVOURED))

    assert result.exit_code == 0, result.output


def test_spark_sql_the_duckdb_engine_refuses_fails_validate_in_a_duckdb_project(run_cli, write_project) -> None:
    sql = (
        "SELECT id FROM silver.visits VERSION AS OF 3;\n"
        "ALTER TABLE silver.visits ADD COLUMNS (note STRING);\n"
        "SELECT xpath(payload, 'a/b') AS b FROM silver.visits;\n"
    )
    result = run_cli("validate", cwd=_project(write_project, None, sql))

    assert result.exit_code == 2, result.output
    usage = "runs on Spark only (environments dev, prod use duckdb)"
    assert f"gold/report.sql:1: {usage}: cannot translate time travel on silver.visits" in result.stderr
    assert f"gold/report.sql:2: {usage}: this statement is not supported on the DuckDB engine: ALTER TABLE" in (
        result.stderr
    )
    assert f"gold/report.sql:3:8: {usage}: function xpath() does not exist in DuckDB" in result.stderr


def test_a_problem_names_the_environments_whose_engine_cannot_run_it(run_cli, write_project) -> None:
    sql = "SELECT epoch_ms(ts) AS at, stack(2, 1, 2) FROM silver.visits;\n"
    result = run_cli("validate", cwd=_project(write_project, TWO_ENGINES, sql))

    assert result.exit_code == 2, result.output
    assert (
        "gold/report.sql:1:8: runs on DuckDB only (environment prod uses spark): function epoch_ms() is not in "
        "Spark SQL\n  hint: use timestamp_millis(n)"
    ) in result.stderr
    assert (
        "gold/report.sql:1:28: runs on Spark only (environment dev uses duckdb): function stack() does not exist "
        "in DuckDB"
    ) in result.stderr


def test_sql_cells_of_python_notebooks_point_past_the_magic_prefix(run_cli, write_project) -> None:
    notebook = (
        "# Databricks notebook source\n"
        "x = 1\n"
        "\n"
        "# COMMAND ----------\n"
        "\n"
        "# MAGIC %sql\n"
        "# MAGIC SELECT list_value(1, 2) AS pair\n"
    )
    root = write_project(
        {
            "lockgate.yaml": TWO_ENGINES,
            "nb/cells.py": notebook,
            "pipelines/p.yaml": "activities:\n  - {name: c, type: notebook, notebook: nb/cells.py}\n",
        }
    )
    result = run_cli("validate", cwd=root)

    assert result.exit_code == 2, result.output
    assert "nb/cells.py:7:16: runs on DuckDB only (environment prod uses spark): function list_value()" in (
        result.stderr
    )
    assert "hint: use array(...)" in result.stderr


def test_inline_sql_of_a_sql_activity_is_checked_where_it_is_written(run_cli, write_project) -> None:
    pipeline = (
        "activities:\n"
        "  - name: q\n"
        "    type: sql\n"
        "    sql: |\n"
        "      SELECT id,\n"
        "             regexp_matches(name, '^A') AS a\n"
        "      FROM silver.visits\n"
    )
    root = write_project({"lockgate.yaml": TWO_ENGINES, "pipelines/p.yaml": pipeline})
    result = run_cli("validate", cwd=root)

    assert result.exit_code == 2, result.output
    assert (
        "pipelines/p.yaml:6:14: runs on DuckDB only (environment prod uses spark): "
        "function regexp_matches() is not in Spark SQL\n  hint: use regexp_like(text, pattern)"
    ) in result.stderr


def test_functions_neither_engine_knows_are_left_to_the_user(run_cli, write_project) -> None:
    sql = (
        "-- normalize_name is registered with spark.udf.register in the notebook that runs first\n"
        "SELECT normalize_name(name) AS name, main.default.score(id) AS score, try_cast(id AS INT) AS i\n"
        "FROM silver.visits;\n"
    )
    result = run_cli("validate", cwd=_project(write_project, TWO_ENGINES, sql))

    assert result.exit_code == 0, result.output


def test_widget_declarations_are_not_statements_for_either_engine(run_cli, write_project) -> None:
    sql = "CREATE WIDGET TEXT day DEFAULT '2024-01-01';\nSELECT '${day}' AS day;\n"
    result = run_cli("validate", cwd=_project(write_project, TWO_ENGINES, sql))

    assert result.exit_code == 0, result.output


def test_the_init_project_validates_with_an_environment_on_spark(run_cli, demo_project: Path) -> None:
    config = demo_project / "lockgate.yaml"
    text = config.read_text(encoding="utf-8")
    assert "  prod:    {lake: .lockgate/lake/prod, " in text
    config.write_text(
        text.replace("  prod:    {lake: .lockgate/lake/prod, ", "  prod: {engine: spark, lake: .lockgate/lake/prod, ")
    )

    result = run_cli("validate", cwd=demo_project)

    assert result.exit_code == 0, result.output
