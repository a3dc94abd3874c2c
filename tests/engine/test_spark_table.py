"""`spark.table(...)` on the DuckDB engine is a full DataFrame, and activities count the lake rows they read.

Each test writes a small project and runs it as users do (`lockgate run`, or the runner's `run_notebook`); the
notebooks report what they saw through `dbutils.notebook.exit`, and the metrics are read back from the state store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from sqlglot import exp

from lockgate.engine import delta
from lockgate.engine.base import LakeTarget, TableMetrics
from lockgate.engine.duckdb import DuckDBSession
from lockgate.services.project import load_project
from lockgate.services.run_events import RunResult
from lockgate.services.runner import run_notebook
from lockgate.state import RunStatus, StateStore

WriteProject = Callable[[dict[str, str]], Path]
RunCli = Callable[..., Any]

HEADER = "# Databricks notebook source\n"
SEP = "\n# COMMAND ----------\n"
SETUP = """\
spark.sql("CREATE SCHEMA IF NOT EXISTS s")
spark.sql(\"\"\"CREATE OR REPLACE TABLE s.a AS
    SELECT * FROM VALUES (1, 'x', 10.5), (2, 'y', 20.0), (3, 'x', 30.0), (4, 'z', 40.0) AS t(id, kind, amount)\"\"\")
spark.sql("CREATE OR REPLACE TABLE s.kinds AS SELECT * FROM VALUES ('x', 'ex'), ('y', 'why') AS t(kind, label)")"""


def notebook(*cells: str) -> str:
    return HEADER + SEP.join(cells) + "\n"


def run_notebook_file(root: Path, target: str = "nb/main.py") -> RunResult:
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        return run_notebook(load_project(root), target, store=store, widgets={})


def exit_value(result: RunResult) -> Any:
    assert result.status == RunStatus.succeeded, str(result.activities[0].error)
    return json.loads(result.activities[0].output["runOutput"])


def table_rows(root: Path, table: str) -> list[dict[str, Any]]:
    schema, name = table.split(".")
    path = root / ".lockgate/lake/dev" / schema / name
    return sorted(DeltaTable(str(path)).to_pyarrow_table().to_pylist(), key=repr)


# -- spark.table(...) is a DataFrame like any other ------------------------------------------------------------

DATAFRAME_METHODS = """\
from pyspark.sql import functions as F

a = spark.table("s.a")
a.createOrReplaceTempView("a_view")  # before any write: the catalog holds `s.a` and must take the view too
seen = {
    "class": type(a).__name__,
    "columns": a.columns,
    "dtypes": a.dtypes,
    "count": a.count(),
    "select": [tuple(r) for r in a.select("id", F.col("kind")).orderBy("id").collect()],
    "selectExpr": [tuple(r) for r in a.selectExpr("id * 2 AS twice", "upper(kind) AS k").orderBy("twice").collect()],
    "selectExpr_columns": a.selectExpr("id * 2 AS twice").columns,
    "filter": a.filter(F.col("amount") > 15).count(),
    "where": a.where("kind = 'x'").count(),
    "withColumn": a.withColumn("cents", (F.col("amount") * 100).cast("int")).orderBy("id").first()["cents"],
    "withColumn_columns": a.withColumn("cents", F.lit(1)).columns,
    "groupBy": sorted(
        tuple(r) for r in a.groupBy("kind").agg(F.count("*").alias("n"), F.sum("amount").alias("total")).collect()
    ),
    "join": sorted(tuple(r) for r in a.join(spark.table("s.kinds"), "kind").select("id", "label").collect()),
    "toPandas": a.toPandas().sort_values("id")["kind"].tolist(),
    "read_table": spark.read.table("s.a").selectExpr("max(id) AS top").collect()[0]["top"],
    "three_part": spark.table("spark_catalog.s.a").columns,
}
a.filter("kind = 'x'").withColumn("doubled", F.col("amount") * 2).write.mode("overwrite").saveAsTable("s.xs")
seen["temp_view"] = spark.sql("SELECT count(*) AS n FROM a_view WHERE id > 1").collect()[0]["n"]
seen["temp_view_table"] = spark.table("a_view").selectExpr("min(id) AS low").collect()[0]["low"]
dbutils.notebook.exit(json.dumps(seen))"""


def test_spark_table_supports_the_dataframe_methods_notebooks_use(write_project: WriteProject) -> None:
    root = write_project({"nb/main.py": notebook("import json", SETUP, DATAFRAME_METHODS)})
    seen = exit_value(run_notebook_file(root))
    assert seen["class"] == "LakeDataFrame"
    assert seen["columns"] == ["id", "kind", "amount"]
    assert seen["dtypes"] == [["id", "int"], ["kind", "string"], ["amount", "decimal(3,1)"]]
    assert seen["count"] == 4
    assert seen["select"] == [[1, "x"], [2, "y"], [3, "x"], [4, "z"]]
    assert seen["selectExpr"] == [[2, "X"], [4, "Y"], [6, "X"], [8, "Z"]]
    assert seen["selectExpr_columns"] == ["twice"]
    assert (seen["filter"], seen["where"]) == (3, 2)
    assert seen["withColumn"] == 1050
    assert seen["withColumn_columns"] == ["id", "kind", "amount", "cents"]
    assert seen["groupBy"] == [["x", 2, 40.5], ["y", 1, 20.0], ["z", 1, 40.0]]
    assert seen["join"] == [[1, "ex"], [2, "why"], [3, "ex"]]
    assert seen["toPandas"] == ["x", "y", "x", "z"]
    assert seen["read_table"] == 4
    assert seen["three_part"] == ["id", "kind", "amount"]
    assert seen["temp_view"] == 3
    assert seen["temp_view_table"] == 1
    written = table_rows(root, "s.xs")
    assert [(row["id"], float(row["doubled"])) for row in written] == [(1, 21.0), (3, 60.0)]


DELTA_PATH_AND_SCHEMA_CHANGE = """\
path = "dbfs:/lake_copy/people"
spark.createDataFrame([(1, "ada")], "id int, name string").write.format("delta").save(path)
spark.createDataFrame([(2, "bob")], "id int, name string").write.format("delta").mode("append").save(path)
by_path = spark.read.format("delta").load(path)
first = spark.read.format("delta").option("versionAsOf", 0).load(path)
seen = {
    "path_columns": by_path.columns,
    "path_rows": sorted(tuple(r) for r in by_path.selectExpr("id", "upper(name) AS name").collect()),
    "version_0": first.count(),
}
spark.sql("CREATE OR REPLACE TABLE s.p AS SELECT 1 AS `ID`, 'x' AS `my col`, array(1, 2) AS nums, map('k', 1) AS m")
p = spark.table("s.p")
seen["odd_columns"] = p.columns
seen["odd_dtypes"] = p.dtypes
seen["odd_rows"] = [tuple(r) for r in p.select("`my col`", "nums").collect()]
seen["bracket"] = p.selectExpr("nums[0] AS first", "m['k'] AS k").collect()[0].asDict()
spark.sql("CREATE OR REPLACE TABLE s.p AS SELECT 'new' AS replaced")
seen["after_replace"] = spark.table("s.p").columns
dbutils.notebook.exit(json.dumps(seen))"""


def test_delta_path_reads_and_table_columns_follow_the_lake(write_project: WriteProject) -> None:
    root = write_project({"nb/main.py": notebook("import json", SETUP, DELTA_PATH_AND_SCHEMA_CHANGE)})
    seen = exit_value(run_notebook_file(root))
    assert seen["path_columns"] == ["id", "name"]
    assert seen["path_rows"] == [[1, "ADA"], [2, "BOB"]]
    assert seen["version_0"] == 1
    assert seen["odd_columns"] == ["id", "my col", "nums", "m"]
    # `.columns` folds case as sqlframe does (Spark would keep `ID`); the types are the table's.
    assert [kind for _, kind in seen["odd_dtypes"]] == ["int", "string", "array<int>", "map<string,int>"]
    assert seen["odd_rows"] == [["x", [1, 2]]]
    assert seen["bracket"] == {"first": 1, "k": 1}
    assert seen["after_replace"] == ["replaced"]


def test_spark_table_in_a_pipeline_notebook_through_lockgate_run(run_cli: RunCli, write_project: WriteProject) -> None:
    code = notebook(
        SETUP,
        'out = spark.table("s.a").selectExpr("kind", "amount * 2 AS twice").where("twice > 30")\n'
        'out.groupBy("kind").count().write.mode("overwrite").saveAsTable("s.big_kinds")',
    )
    pipeline = "activities:\n  - {name: nb, type: notebook, notebook: nb/main.py}\n"
    root = write_project({"nb/main.py": code, "pipelines/p.yaml": pipeline})
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 0, result.output
    assert [(row["kind"], row["count"]) for row in table_rows(root, "s.big_kinds")] == [("x", 1), ("y", 1), ("z", 1)]


# -- rows read ---------------------------------------------------------------------------------------------------

READS_PIPELINE = """\
activities:
  - name: make
    type: sql
    sql: |
      CREATE TABLE s.a AS SELECT id, id % 3 AS bucket FROM range(10) AS t(id)
  - name: filtered
    type: sql
    depends_on: make
    sql: CREATE TABLE s.b AS SELECT * FROM s.a WHERE bucket = 0
  - name: counted
    type: notebook
    depends_on: filtered
    notebook: nb/count.py
  - name: self_join
    type: sql
    depends_on: filtered
    sql: |
      CREATE TABLE s.pairs AS SELECT x.id FROM s.a x JOIN s.a y ON x.id = y.id JOIN s.b z ON z.id = x.id;
      SELECT count(*) FROM s.a
  - name: dml
    type: sql
    depends_on: [counted, self_join]
    sql: DELETE FROM s.b WHERE id > 5
"""


def metrics_by_activity(root: Path, stdout: str) -> dict[str, dict[str, Any]]:
    run_id = stdout.split()[1]
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        return {record.activity: record.metrics for record in store.list_activity_runs(run_id)}


def test_activities_count_the_rows_of_the_lake_tables_they_read(run_cli: RunCli, write_project: WriteProject) -> None:
    code = notebook('n = spark.table("s.a").count()\ndbutils.notebook.exit(str(n))')
    checks = "tables:\n  s.b:\n    checks:\n      - not_null: [id]\n      - unique: [id]\n"
    root = write_project({"nb/count.py": code, "pipelines/p.yaml": READS_PIPELINE, "tables/s.yaml": checks})
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 0, result.output
    metrics = metrics_by_activity(root, result.stdout)
    # Rows of the table version read, not the rows left after the filter (4 of 10 here). The data-quality
    # checks that run on s.b after the write are lockgate's reads, not the activity's.
    assert metrics["filtered"]["rows_read"] == {"s.a": 10}
    assert metrics["filtered"]["rows_written"] == {"s.b": 4}
    assert metrics["counted"]["rows_read"] == {"s.a": 10}
    assert metrics["counted"]["rows_written"] == {}
    # Once per statement however often the statement names the table; again for the next statement.
    assert metrics["self_join"]["rows_read"] == {"s.a": 20, "s.b": 4}
    assert metrics["self_join"]["rows_written"] == {"s.pairs": 4}
    # DELETE rewrites the table from a copy of all its rows.
    assert metrics["dml"]["rows_read"] == {"s.b": 4}
    assert metrics["dml"]["rows_written"] == {"s.b": 2}
    assert metrics["make"]["rows_read"] == {}
    assert metrics["make"]["rows_written"] == {"s.a": 10}


def test_dataframe_reads_count_per_call_and_by_path(run_cli: RunCli, write_project: WriteProject) -> None:
    code = notebook(
        'spark.sql("CREATE TABLE s.a AS SELECT * FROM range(5) AS t(id)")',
        'df = spark.table("s.a")\nassert df.count() == 5 and len(df.collect()) == 5  # one read, used twice',
        'spark.read.table("main.s.a").where("id > 2").write.saveAsTable("s.c")',
        'spark.table("s.c").write.format("delta").save("dbfs:/copies/c")\n'
        'assert spark.read.format("delta").load("dbfs:/copies/c").count() == 2',
        'spark.createDataFrame([(1,)], "id int").createOrReplaceTempView("tmp")\n'
        'spark.sql("CREATE OR REPLACE TEMP VIEW v AS SELECT 1 AS one")\n'
        'assert spark.table("tmp").count() == 1 and spark.table("v").count() == 1',
    )
    pipeline = "activities:\n  - {name: nb, type: notebook, notebook: nb/main.py}\n"
    root = write_project({"nb/main.py": code, "pipelines/p.yaml": pipeline})
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 0, result.output
    metrics = metrics_by_activity(root, result.stdout)["nb"]
    assert metrics["rows_read"] == {"s.a": 10, "s.c": 2, "dbfs:/copies/c": 2}
    assert metrics["rows_written"] == {"s.a": 5, "s.c": 2, "dbfs:/copies/c": 2}


def test_a_failed_statement_counts_no_read(run_cli: RunCli, write_project: WriteProject) -> None:
    pipeline = """\
activities:
  - {name: make, type: sql, sql: "CREATE TABLE s.a AS SELECT 1 AS id"}
  - {name: bad, type: sql, depends_on: make, sql: "CREATE TABLE s.b AS SELECT no_such_column FROM s.a"}
"""
    root = write_project({"pipelines/p.yaml": pipeline})
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code != 0 and "no_such_column" in result.output
    assert metrics_by_activity(root, result.stdout)["bad"]["rows_read"] == {}


@pytest.mark.parametrize(
    ("source", "expected"), [("{table: s.a}", {"s.a": 3}), ('{query: "SELECT * FROM s.a WHERE id > 1"}', {"query": 1})]
)
def test_activities_that_count_their_reads_keep_their_exact_counts(
    run_cli: RunCli, write_project: WriteProject, source: str, expected: dict[str, int]
) -> None:
    pipeline = f"""\
activities:
  - {{name: make, type: sql, sql: "CREATE TABLE s.a AS SELECT * FROM range(3) AS t(id)"}}
  - {{name: look, type: lookup, depends_on: make, first_row_only: false, source: {source}}}
"""
    root = write_project({"pipelines/p.yaml": pipeline})
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 0, result.output
    assert metrics_by_activity(root, result.stdout)["look"]["rows_read"] == expected


# -- engine details --------------------------------------------------------------------------------------------


@pytest.fixture
def session(tmp_path: Path) -> Iterator[DuckDBSession]:
    target = LakeTarget("dev", tmp_path / "lake", "main", tmp_path)
    opened = DuckDBSession(target)
    try:
        yield opened
    finally:
        opened.close()


def test_lake_columns_are_registered_as_sqlframe_would_look_them_up(session: DuckDBSession) -> None:
    session.sql(
        "CREATE TABLE s.odd AS SELECT 1 AS `ID`, 'x' AS `my col`, 2 AS `Group`, 3 AS `a-b`, 4 AS `x'y`, "
        "CAST(1.5 AS DECIMAL(10,2)) AS amount, array(1) AS nums, map('k', 1) AS m, named_struct('f', 1) AS st"
    )
    spark = session.spark

    def registered() -> tuple[list[str], object]:
        return spark.table("s.odd").columns, spark.catalog._schema.find(exp.to_table("s.odd"))

    from_lake = registered()
    spark.forget_cached_schemas()
    spark.catalog.add_table("s.odd")  # sqlframe's own lookup, through DuckDB's information_schema
    assert registered() == from_lake
    assert from_lake[0] == ["id", "my col", "group", "a-b", "x'y", "amount", "nums", "m", "st"]


def test_a_version_without_row_stats_is_counted_from_the_parquet_footers(session: DuckDBSession) -> None:
    session.sql("CREATE TABLE s.a AS SELECT * FROM range(7) AS t(id)")
    snapshot = replace(delta.open_snapshot(session.names.table_path("s", "a"), name="s.a"), num_rows=None)
    metrics = TableMetrics()
    with session.activity_scope(metrics):
        session.note_read("s.a", snapshot)
    assert metrics.rows_read == {"s.a": 7}


def test_exact_read_counts_replace_the_engine_notes() -> None:
    metrics = TableMetrics()
    metrics.add_table_read("s.a", 10)
    metrics.add_read("s.a", 3)
    metrics.add_table_read("s.b", 5)
    metrics.add_read("query", 1)
    assert metrics.rows_read == {"s.a": 3, "query": 1}
