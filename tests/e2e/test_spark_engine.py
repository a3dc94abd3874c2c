"""The Spark engine: the same project runs on Spark and on DuckDB, over the same Delta tables.

Spark runs in-process (`local[2]`); the standalone cluster and Spark Connect are covered by the notebook-format
tests (tests/e2e/test_databricks_notebooks.py), which use the session's `spark_cluster`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lockgate.engine import delta

pytestmark = [pytest.mark.spark, pytest.mark.slow]

SPARK_PROJECT = """\
name: sample
spark: {master: "local[2]"}
environments:
  dev: {lake: .lockgate/lake/dev}
  other: {lake: .lockgate/lake/other}
"""


def _tables(lake: Path) -> dict[str, tuple[str, list[str]]]:
    """Every table of a lake: its schema (Delta JSON) and its rows, sorted, as text."""
    found = {}
    for schema, name, path in delta.discover_tables(lake):
        table = DeltaTable(str(path))
        rows = sorted(json.dumps(row, sort_keys=True, default=str) for row in table.to_pyarrow_table().to_pylist())
        found[f"{schema}.{name}"] = (table.schema().to_json(), rows)
    return found


def test_daily_on_spark_gives_the_tables_of_the_duckdb_run(run_cli, tmp_path: Path) -> None:
    assert run_cli("init", "demo", "--rows", "300", cwd=tmp_path).exit_code == 0
    project = tmp_path / "demo"

    on_duckdb = run_cli("run", "daily", "--env", "test", cwd=project)
    on_spark = run_cli("run", "daily", "--engine", "spark", cwd=project)

    assert on_spark.exit_code == 0, on_spark.output
    assert on_duckdb.exit_code == 0, on_duckdb.output
    assert "· spark" in on_spark.stdout
    assert "spark ready in" in on_spark.stderr  # the session's start-up is shown
    spark_tables, duckdb_tables = _tables(project / ".lockgate/lake/dev"), _tables(project / ".lockgate/lake/test")
    assert sorted(spark_tables) == sorted(duckdb_tables)
    assert any(name.startswith("gold.") for name in spark_tables)
    for name in spark_tables:
        assert spark_tables[name] == duckdb_tables[name], name


def test_a_table_written_on_spark_appended_on_duckdb_reads_back_on_spark(run_cli, write_project) -> None:
    project = write_project(
        {
            "lockgate.yaml": SPARK_PROJECT,
            "notebooks/create.sql": (
                "CREATE TABLE silver.events (id BIGINT, kind STRING, amount DECIMAL(10,2));\n"
                "INSERT INTO silver.events VALUES (1, 'a', 1.50), (2, 'b', 2.25);\n"
            ),
            "notebooks/append.sql": "INSERT INTO silver.events VALUES (3, 'c', 3.00);\n",
            "notebooks/read.py": (
                "spark.table('silver.events').write.saveAsTable('silver.seen')\n"
                "spark.sql('DESCRIBE HISTORY silver.events').write.saveAsTable('silver.seen_history')\n"
            ),
        }
    )

    assert run_cli("run", "notebooks/create.sql", "--engine", "spark", cwd=project).exit_code == 0
    appended = run_cli("run", "notebooks/append.sql", "--engine", "duckdb", cwd=project)
    assert appended.exit_code == 0, appended.output
    read = run_cli("run", "notebooks/read.py", "--engine", "spark", cwd=project)

    assert read.exit_code == 0, read.output
    lake = project / ".lockgate/lake/dev/silver"
    seen = sorted(
        (r["id"], r["kind"], str(r["amount"])) for r in DeltaTable(str(lake / "seen")).to_pyarrow_table().to_pylist()
    )
    assert seen == [(1, "a", "1.50"), (2, "b", "2.25"), (3, "c", "3.00")]
    history = DeltaTable(str(lake / "seen_history")).to_pyarrow_table().to_pylist()
    assert sorted((h["version"], h["operation"]) for h in history) == [
        (0, "CREATE TABLE"),
        (1, "INSERT INTO"),
        (2, "INSERT INTO"),
    ]
    assert DeltaTable(str(lake / "events")).schema().to_json() == DeltaTable(str(lake / "seen")).schema().to_json()
    queried = run_cli("query", "SELECT sum(amount) AS total FROM silver.events", "--format", "csv", cwd=project)
    assert queried.stdout.splitlines()[1] == "6.75"


DML_NOTEBOOK = """\
# Databricks notebook source
# MAGIC %sql
# MAGIC CREATE OR REPLACE TABLE gold.accounts (id INT, owner STRING, balance DOUBLE, region STRING)
# MAGIC PARTITIONED BY (region);
# MAGIC INSERT INTO gold.accounts VALUES (1, 'ann', 10.0, 'eu'), (2, 'bob', 20.0, 'us'), (3, 'cy', 30.0, 'eu'),
# MAGIC   (4, 'dee', NULL, 'us');
# MAGIC UPDATE gold.accounts SET balance = balance * 2 WHERE region = 'eu';
# MAGIC DELETE FROM gold.accounts WHERE balance IS NULL;
# MAGIC CREATE OR REPLACE TEMP VIEW changes AS
# MAGIC   SELECT * FROM VALUES (2, 'bob', 25.0, 'us', 'update'), (3, 'cy', 0.0, 'eu', 'delete'),
# MAGIC                        (5, 'eve', 50.0, 'apac', 'insert') AS t(id, owner, balance, region, op);
# MAGIC MERGE INTO gold.accounts AS a USING changes AS c ON a.id = c.id
# MAGIC WHEN MATCHED AND c.op = 'delete' THEN DELETE
# MAGIC WHEN MATCHED THEN UPDATE SET a.balance = c.balance
# MAGIC WHEN NOT MATCHED THEN INSERT (id, owner, balance, region) VALUES (c.id, c.owner, c.balance, c.region)

# COMMAND ----------

from pyspark.sql import functions as F

extra = spark.createDataFrame([(6, "fay", 60.0, "us")], "id INT, owner STRING, balance DOUBLE, region STRING")
extra.write.mode("append").saveAsTable("gold.accounts")
extra.write.format("delta").mode("overwrite").save("exports/extra")
spark.table("gold.accounts").groupBy("region").agg(F.sum("balance").alias("total")).write.mode(
    "overwrite"
).saveAsTable("gold.totals")
"""


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_sql_dml_and_dataframe_writes_give_the_same_tables_and_history_on_both_engines(
    run_cli, write_project, engine: str
) -> None:
    project = write_project({"lockgate.yaml": SPARK_PROJECT, "notebooks/dml.py": DML_NOTEBOOK})

    result = run_cli("run", "notebooks/dml.py", "--engine", engine, cwd=project)

    assert result.exit_code == 0, result.output
    lake = project / ".lockgate/lake/dev"
    accounts = DeltaTable(str(lake / "gold/accounts"))
    rows = sorted((r["id"], r["owner"], r["balance"], r["region"]) for r in accounts.to_pyarrow_table().to_pylist())
    assert rows == [(1, "ann", 20.0, "eu"), (2, "bob", 25.0, "us"), (5, "eve", 50.0, "apac"), (6, "fay", 60.0, "us")]
    assert accounts.metadata().partition_columns == ["region"]
    operations = [entry.operation for entry in reversed(delta.table_history(lake / "gold/accounts", name="t"))]
    assert operations == ["CREATE TABLE", "INSERT INTO", "UPDATE", "DELETE", "MERGE", "WRITE"]
    totals = {r["region"]: r["total"] for r in DeltaTable(str(lake / "gold/totals")).to_pyarrow_table().to_pylist()}
    assert totals == {"eu": 20.0, "us": 85.0, "apac": 50.0}
    assert DeltaTable(str(project / "exports/extra")).to_pyarrow_table().num_rows == 1


def test_python_udfs_and_rdds_run_on_spark(run_cli, write_project) -> None:
    project = write_project(
        {
            "lockgate.yaml": SPARK_PROJECT,
            "notebooks/udf.py": (
                "from pyspark.sql import functions as F\n"
                "shout = F.udf(lambda s: s.upper() + '!', 'string')\n"
                "words = spark.sparkContext.parallelize(['ab', 'cd']).map(lambda w: (w,)).toDF(['word'])\n"
                "words.withColumn('loud', shout('word')).write.saveAsTable('silver.words')\n"
                "total = words.rdd.map(lambda r: len(r.word)).sum()\n"
                "spark.createDataFrame([(total,)], 'total long').write.saveAsTable('silver.total')\n"
            ),
        }
    )

    result = run_cli("run", "notebooks/udf.py", "--engine", "spark", cwd=project)

    assert result.exit_code == 0, result.output
    lake = project / ".lockgate/lake/dev/silver"
    rows = DeltaTable(str(lake / "words")).to_pyarrow_table().to_pylist()
    assert sorted(r["loud"] for r in rows) == ["AB!", "CD!"]
    assert DeltaTable(str(lake / "total")).to_pyarrow_table().to_pylist() == [{"total": 4}]


def test_a_failing_spark_write_leaves_the_table_as_it_was(run_cli, write_project) -> None:
    project = write_project(
        {
            "lockgate.yaml": SPARK_PROJECT,
            "notebooks/first.sql": "CREATE TABLE silver.t AS SELECT 1 AS id;\n",
            "notebooks/bad.sql": "INSERT OVERWRITE silver.t SELECT assert_true(id > 5) IS NULL AS id FROM silver.t;\n",
        }
    )
    assert run_cli("run", "notebooks/first.sql", "--engine", "spark", cwd=project).exit_code == 0
    table = project / ".lockgate/lake/dev/silver/t"
    folders = sorted(p.name for p in table.iterdir())

    failed = run_cli("run", "notebooks/bad.sql", "--engine", "spark", cwd=project)

    assert failed.exit_code != 0
    assert "notebooks/bad.sql:1" in failed.stderr
    assert DeltaTable(str(table)).version() == 0
    assert sorted(p.name for p in table.iterdir()) == folders  # the failed job's files are gone


def test_an_unreachable_cluster_is_a_clear_error(run_cli, write_project) -> None:
    project = write_project(
        {"lockgate.yaml": SPARK_PROJECT.replace("local[2]", "spark://127.0.0.1:9"), "notebooks/x.sql": "SELECT 1;\n"}
    )

    result = run_cli("run", "notebooks/x.sql", "--engine", "spark", cwd=project)

    assert result.exit_code != 0
    assert "cannot reach the Spark master at spark://127.0.0.1:9" in result.stderr
    assert "lockgate spark up" in result.stderr


def test_a_bad_master_url_is_a_validation_error(run_cli, write_project) -> None:
    project = write_project({"lockgate.yaml": SPARK_PROJECT.replace("local[2]", "yarn")})

    result = run_cli("validate", cwd=project)

    assert result.exit_code != 0
    assert "lockgate.yaml:2" in result.stderr
    assert "'yarn' is not a Spark master URL" in result.stderr


def test_without_pyspark_selecting_spark_names_the_install_command(tmp_path: Path, write_project) -> None:
    project = write_project({"lockgate.yaml": SPARK_PROJECT, "notebooks/x.sql": "SELECT 1;\n"})
    fake = tmp_path / "no-pyspark" / "pyspark"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named 'pyspark'\")\n")
    env = {**os.environ, "PYTHONPATH": str(fake.parent)}

    result = subprocess.run(
        [sys.executable, "-c", "from lockgate.cli import main; main()", "run", "notebooks/x.sql", "--engine", "spark"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "pip install 'lockgate[spark]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_display_and_sql_cells_show_rows_on_spark(run_cli, write_project) -> None:
    from lockgate.state import StateStore

    project = write_project(
        {
            "lockgate.yaml": SPARK_PROJECT,
            "notebooks/show.py": (
                "# Databricks notebook source\n"
                "display(spark.range(3).selectExpr('id * 7 AS seven'))\n\n"
                "# COMMAND ----------\n\n"
                "# MAGIC %sql\n"
                "# MAGIC SELECT 'forty' || '-two' AS answer\n"
            ),
        }
    )

    result = run_cli("run", "notebooks/show.py", "--engine", "spark", cwd=project)

    assert result.exit_code == 0, result.output
    with StateStore.open(f"sqlite:///{project}/.lockgate/state.db") as store:
        run = store.list_runs(limit=1)[0]
        log = "".join(str(a.log) for a in store.list_activity_runs(run.id))
    assert "| 14    |" in log
    assert "forty-two" in log
