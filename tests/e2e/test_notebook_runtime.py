"""What notebooks can do on the embedded engine: dbutils, %run, notebook.run/exit, Spark SQL DDL and DML."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lockgate.services.project import load_project
from lockgate.services.run_events import RunResult
from lockgate.services.runner import run_notebook
from lockgate.state import RunStatus, StateStore

HEADER = "# Databricks notebook source\n"
SEP = "\n# COMMAND ----------\n"


def notebook(*cells: str) -> str:
    return HEADER + SEP.join(cells) + "\n"


@pytest.fixture
def run(write_project: Callable[[dict[str, str]], Path]) -> Callable[..., tuple[Path, RunResult]]:
    def execute(files: dict[str, str], target: str = "nb/main.py", **widgets: str) -> tuple[Path, RunResult]:
        root = write_project(files)
        with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
            result = run_notebook(load_project(root), target, store=store, widgets=widgets)
        return root, result

    return execute


def rows(root: Path, table: str) -> list[dict[str, object]]:
    schema, name = table.split(".")
    return sorted(DeltaTable(str(root / ".lockgate/lake/dev" / schema / name)).to_pyarrow_table().to_pylist(), key=repr)


def output(result: RunResult) -> object:
    return result.activities[0].output["runOutput"]


def error(result: RunResult) -> str:
    assert result.status == RunStatus.failed
    return str(result.activities[0].error)


def test_widgets_defaults_passed_values_and_exit(run) -> None:
    code = notebook(
        'dbutils.widgets.text("name", "world")\n'
        'dbutils.widgets.dropdown("size", "s", ["s", "m", "l"])\n'
        'dbutils.widgets.multiselect("tags", "a", ["a", "b", "c"])',
        'import json\ndbutils.notebook.exit(json.dumps({k: dbutils.widgets.get(k) for k in ("name", "size", "tags")}))',
        'raise RuntimeError("not reached: exit ends the notebook")',
    )
    _, result = run({"nb/main.py": code}, size="m", tags="a,c")
    assert result.status == RunStatus.succeeded
    assert json.loads(output(result)) == {"name": "world", "size": "m", "tags": "a,c"}


def test_dropdown_value_outside_choices_fails(run) -> None:
    _, result = run({"nb/main.py": notebook('dbutils.widgets.dropdown("size", "s", ["s", "m"])')}, size="xl")
    assert "not one of its choices" in error(result)


def test_unknown_widget_names_the_known_ones(run) -> None:
    _, result = run({"nb/main.py": notebook('dbutils.widgets.text("region", "n")', 'dbutils.widgets.get("regoin")')})
    message = error(result)
    assert "nb/main.py:4" in message and "did you mean 'region'" in message


def test_run_includes_and_notebook_run(run) -> None:
    files = {
        "nb/lib/config.py": notebook('GREETING = "hello"', "def shout(x):\n    return x.upper()"),
        "nb/child.py": notebook(
            'dbutils.widgets.text("who", "?")', 'dbutils.notebook.exit("child saw " + dbutils.widgets.get("who"))'
        ),
        "nb/main.py": notebook(
            "# MAGIC %run ./lib/config",
            'value = dbutils.notebook.run("./child", 60, {"who": shout(GREETING)})\ndbutils.notebook.exit(value)',
        ),
    }
    _, result = run(files)
    assert output(result) == "child saw HELLO"


def test_dbutils_fs_round_trip(run) -> None:
    code = notebook(
        'dbutils.fs.mkdirs("dbfs:/tmp/work")\n'
        'dbutils.fs.put("/dbfs/tmp/work/a.txt", "alpha", overwrite=True)\n'
        'dbutils.fs.cp("dbfs:/tmp/work/a.txt", "tmp/work/b.txt")\n'
        'dbutils.fs.mv("tmp/work/b.txt", "tmp/work/c.txt")\n'
        'names = sorted(f.name for f in dbutils.fs.ls("tmp/work"))\n'
        'head = dbutils.fs.head("tmp/work/c.txt")\n'
        'dbutils.fs.rm("tmp/work", recurse=True)\n'
        'dbutils.notebook.exit(",".join(names) + ":" + head)'
    )
    root, result = run({"nb/main.py": code})
    assert output(result) == "a.txt,c.txt:alpha"
    assert not (root / "tmp/work").exists()


def test_display_and_print_go_to_the_activity_log(run) -> None:
    root, result = run({"nb/main.py": notebook('print("hello log")', "display(spark.range(3))")})
    assert result.status == RunStatus.succeeded
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        log = store.list_activity_runs(result.run_id)[0].log
    assert "hello log" in log and "| id |" in log.replace("  ", " ")


SQL_DML = """\
-- Databricks notebook source
CREATE SCHEMA IF NOT EXISTS shop;
CREATE OR REPLACE TABLE shop.items (id INT, name STRING, price DECIMAL(10,2)) USING DELTA;
INSERT INTO shop.items VALUES (1, 'apple', 1.50), (2, 'pear', 2.00), (3, 'plum', 0.75);
INSERT INTO shop.items (name, id) SELECT 'fig', 4;
UPDATE shop.items SET price = price * 2 WHERE name = 'pear';
DELETE FROM shop.items WHERE id = 3;

-- COMMAND ----------

CREATE OR REPLACE TEMP VIEW changes AS
SELECT * FROM VALUES (1, 'apple', 1.25), (5, 'kiwi', 3.00) AS t(id, name, price);
MERGE INTO main.shop.items AS target
USING changes AS source ON target.id = source.id
WHEN MATCHED THEN UPDATE SET price = source.price
WHEN NOT MATCHED THEN INSERT (id, name, price) VALUES (source.id, source.name, source.price);
"""


def test_spark_sql_ddl_and_dml_commit_one_version_each(run) -> None:
    root, result = run({"nb/main.sql": SQL_DML}, target="nb/main.sql")
    assert result.status == RunStatus.succeeded, result.activities[0].error
    assert [
        (r["id"], r["name"], float(r["price"]) if r["price"] is not None else None)
        for r in sorted(rows(root, "shop.items"), key=lambda r: r["id"])
    ] == [(1, "apple", 1.25), (2, "pear", 4.0), (4, "fig", None), (5, "kiwi", 3.0)]
    from lockgate.engine.delta import table_history

    history = table_history(root / ".lockgate/lake/dev/shop/items", name="shop.items")
    assert [entry.operation for entry in reversed(history)] == [
        "CREATE TABLE",
        "INSERT INTO",
        "INSERT INTO",
        "UPDATE",
        "DELETE",
        "MERGE",
    ]


def test_drop_table_keeps_the_files_in_trash(run) -> None:
    code = notebook('spark.range(2).write.saveAsTable("t.gone")', "# MAGIC %sql\n# MAGIC DROP TABLE t.gone")
    root, result = run({"nb/main.py": code})
    assert result.status == RunStatus.succeeded
    assert not (root / ".lockgate/lake/dev/t/gone").exists()
    assert any(p.name.startswith("t.gone.") for p in (root / ".lockgate/lake/dev/.trash").iterdir())


def test_save_modes(run) -> None:
    code = notebook(
        'spark.range(3).write.saveAsTable("t.n")',
        'spark.range(2).write.mode("append").saveAsTable("t.n")',
        'spark.range(9).write.mode("ignore").saveAsTable("t.n")',
        'spark.range(1).write.saveAsTable("t.n")',
    )
    root, result = run({"nb/main.py": code})
    assert "already exists" in error(result)
    assert len(rows(root, "t.n")) == 5


def test_three_part_names_use_the_environment_catalog(run) -> None:
    code = notebook(
        'spark.range(2).write.saveAsTable("dev.t.a")',
        'assert spark.table("spark_catalog.t.a").count() == 2',
        'spark.table("sales.t.a")',
    )
    _, result = run({"nb/main.py": code})
    message = error(result)
    assert "unknown catalog 'sales'" in message and "nb/main.py:6" in message


def test_sql_cell_widgets_with_create_widget(run) -> None:
    code = (
        "-- Databricks notebook source\nCREATE WIDGET TEXT region DEFAULT 'north';\n"
        "CREATE OR REPLACE TABLE t.r AS SELECT '${region}' AS a, :region AS b;\n"
    )
    root, result = run({"nb/main.sql": code}, target="nb/main.sql", region="south")
    assert result.status == RunStatus.succeeded, result.activities[0].error
    assert rows(root, "t.r") == [{"a": "south", "b": "south"}]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("from pyspark.ml.feature import VectorAssembler", "Spark MLlib needs the Spark engine"),
        ("spark.sparkContext.parallelize([1, 2])", "needs the Spark engine"),
        ("from pyspark.sql.functions import udf\nspark.udf.register('f', lambda x: x)", "needs the Spark engine"),
    ],
)
def test_spark_only_features_say_they_need_spark(run, code: str, expected: str) -> None:
    _, result = run({"nb/main.py": notebook(code)})
    assert expected in error(result)


def test_analysis_exception_is_catchable_as_in_pyspark(run) -> None:
    code = notebook(
        "from pyspark.sql.utils import AnalysisException\n"
        "try:\n    spark.table('nope.nothing')\nexcept AnalysisException:\n"
        "    dbutils.notebook.exit('caught')"
    )
    _, result = run({"nb/main.py": code})
    assert output(result) == "caught"


def test_temp_views_cross_between_python_and_sql(run) -> None:
    code = notebook(
        'spark.range(4).createOrReplaceTempView("numbers")',
        "# MAGIC %sql\n# MAGIC CREATE OR REPLACE TABLE t.evens AS SELECT id FROM numbers WHERE id % 2 = 0",
        "# MAGIC %sql\n# MAGIC CREATE OR REPLACE TEMP VIEW odds AS SELECT id FROM numbers WHERE id % 2 = 1",
        'spark.table("odds").write.saveAsTable("t.odds")\n'
        'dbutils.notebook.exit(str(spark.sql("SELECT count(*) AS n FROM numbers").collect()[0]["n"]))',
    )
    root, result = run({"nb/main.py": code})
    assert result.status == RunStatus.succeeded, result.activities[0].error
    assert output(result) == "4"
    assert rows(root, "t.evens") == [{"id": 0}, {"id": 2}]
    assert rows(root, "t.odds") == [{"id": 1}, {"id": 3}]


def test_drop_schema_moves_its_tables_to_trash_and_never_touches_the_lake(run) -> None:
    code = notebook(
        'spark.range(2).write.saveAsTable("keep.t")\nspark.range(2).write.saveAsTable("gone.a")',
        "# MAGIC %sql\n# MAGIC DROP SCHEMA gone CASCADE",
        "# MAGIC %sql\n# MAGIC DROP SCHEMA IF EXISTS whatever",
        "# MAGIC %sql\n# MAGIC DROP SCHEMA keep",
    )
    root, result = run({"nb/main.py": code})
    assert "schema keep is not empty" in error(result)
    lake = root / ".lockgate/lake/dev"
    assert rows(root, "keep.t") == [{"id": 0}, {"id": 1}]
    assert not (lake / "gone").exists()
    assert any(p.name.startswith("gone.a.") for p in (lake / ".trash").iterdir())


def test_show_tables_in_a_schema(run) -> None:
    code = notebook(
        'spark.range(1).write.saveAsTable("a.x")\nspark.range(1).write.saveAsTable("b.y")',
        'names = [r["tableName"] for r in spark.sql("SHOW TABLES IN b").collect()]\n'
        'dbutils.notebook.exit(",".join(names))',
    )
    _, result = run({"nb/main.py": code})
    assert output(result) == "y"


def test_dataframe_file_writes_resolve_paths_like_reads(run) -> None:
    code = notebook(
        'spark.range(3).write.mode("overwrite").parquet("dbfs:/out/n.parquet")\n'
        'spark.range(2).write.mode("overwrite").csv("out/n.csv", header=True)\n'
        'n = spark.read.parquet("out/n.parquet").count() + spark.read.csv("/dbfs/out/n.csv", header=True).count()\n'
        "dbutils.notebook.exit(str(n))"
    )
    root, result = run({"nb/main.py": code})
    assert output(result) == "5", result.activities[0].error
    assert (root / "out/n.parquet").exists()


def test_truncate_commits_an_empty_version(run) -> None:
    code = notebook('spark.range(3).write.saveAsTable("t.n")', "# MAGIC %sql\n# MAGIC TRUNCATE TABLE t.n")
    root, result = run({"nb/main.py": code})
    assert result.status == RunStatus.succeeded, result.activities[0].error
    assert rows(root, "t.n") == []
    assert DeltaTable(str(root / ".lockgate/lake/dev/t/n")).version() == 1


COMMON_IDIOMS = """\
# Databricks notebook source
from pyspark.sql import functions as F
from pyspark.sql.types import StructType, StructField, StringType, IntegerType
from pyspark.sql.window import Window
spark.conf.set("spark.sql.shuffle.partitions", 8)
print(spark.conf.get("spark.sql.shuffle.partitions"))

# COMMAND ----------
schema = StructType([StructField("id", IntegerType()), StructField("name", StringType())])
df = spark.createDataFrame([(1, "a b"), (2, "c d"), (3, None)], schema)
df = (df.withColumn("loaded_at", F.current_timestamp())
        .withColumn("parts", F.split(F.col("name"), " "))
        .withColumn("first", F.col("parts")[0])
        .withColumn("clean", F.regexp_replace("name", " ", "_"))
        .withColumn("flag", F.when(F.col("id") > 1, F.lit("big")).otherwise("small"))
        .withColumn("rn", F.row_number().over(Window.orderBy(F.desc("id"))))
        .withColumn("ts", F.to_timestamp(F.lit("2024-01-02 03:04:05")))
        .withColumn("d", F.date_format(F.col("ts"), "yyyy-MM-dd")))
df.write.format("delta").mode("overwrite").option("overwriteSchema", "true").saveAsTable("bronze.probe")
display(df.select("id", "first", "clean", "flag", "rn", "d"))
exploded = spark.table("bronze.probe").select("id", F.explode("parts").alias("part"))
print(exploded.count())
print(spark.table("bronze.probe").groupBy("flag").agg(F.count("*").alias("n"), F.max("id")).orderBy("flag").collect())
pdf = spark.table("bronze.probe").toPandas()
print(len(pdf))
spark.sql("SELECT current_date() AS today").show()
print(spark.catalog.tableExists("bronze.probe"))
dbutils.notebook.exit("done")
"""


def test_common_databricks_idioms_run(run) -> None:
    root, result = run({"nb/main.py": COMMON_IDIOMS})
    assert result.status == RunStatus.succeeded, result.activities[0].error
    assert output(result) == "done"
    assert [r["first"] for r in sorted(rows(root, "bronze.probe"), key=lambda r: r["id"])] == ["a", "c", None]


def test_sums_of_longs_are_longs_as_in_spark(run) -> None:
    code = notebook(
        'spark.range(5).write.saveAsTable("t.n")',
        "# MAGIC %sql\n# MAGIC CREATE OR REPLACE TABLE t.s AS SELECT sum(id) AS total FROM t.n",
    )
    root, result = run({"nb/main.py": code})
    assert result.status == RunStatus.succeeded, result.activities[0].error
    from lockgate.engine.delta import open_snapshot

    snapshot = open_snapshot(root / ".lockgate/lake/dev/t/s", name="t.s")
    assert [(c.name, c.delta_type) for c in snapshot.columns] == [("total", "long")]
    assert rows(root, "t.s") == [{"total": 10}]


CSV_AND_DATAFRAME_EXTRAS = notebook(
    "from pyspark.sql import functions as F\n"
    'dbutils.fs.put("data/s.csv", "id,region,amount\\n1,north,10.5\\n2,south,20\\n2,south,20\\n", overwrite=True)\n'
    'raw = spark.read.option("header", True).csv("data/s.csv")\n'
    'typed = spark.read.csv("data/s.csv", header=True, inferSchema=True)\n'
    "assert raw.dtypes == [('id', 'string'), ('region', 'string'), ('amount', 'string')], raw.dtypes\n"
    "assert dict(typed.dtypes)['id'] in ('int', 'bigint')\n"
    'padded = raw.select(F.lpad("id", 3, "0").alias("p")).take(1)[0]["p"]\n'
    'doubled = typed.selectExpr("id", "amount * 2 AS a").filter("a > 30").count()\n'
    'left = typed.subtract(typed.filter("id = 1")).count()\n'
    'dbutils.notebook.exit(f"{padded},{doubled},{left}")'
)


def test_csv_columns_are_strings_unless_inferred_and_dataframe_extras(run) -> None:
    _, result = run({"nb/main.py": CSV_AND_DATAFRAME_EXTRAS})
    assert result.status == RunStatus.succeeded, result.activities[0].error
    assert output(result) == "001,2,1"


def test_command_line_widget_values_are_literal(run) -> None:
    code = notebook('dbutils.widgets.text("x", "")', 'dbutils.notebook.exit(dbutils.widgets.get("x"))')
    _, result = run({"nb/main.py": code}, x="{{ env.name }}")
    assert output(result) == "{{ env.name }}"


SPARK_ONLY_FUNCTIONS = """\
CREATE OR REPLACE TABLE t.f AS
SELECT pmod(-7, 3) AS pmod, bround(2.5) AS b1, bround(3.5) AS b2, format_number(1234567.891, 2) AS fmt,
       nanvl(CAST('NaN' AS DOUBLE), 1.0) AS nv, btrim('  x ') AS bt,
       timestamp_seconds(0) = TIMESTAMP '1970-01-01' AS ts;
CREATE OR REPLACE TABLE t.ids AS SELECT x, monotonically_increasing_id() AS id FROM VALUES (5), (6), (7) AS v(x)
"""


def test_spark_functions_duckdb_lacks_have_spark_meaning(run) -> None:
    root, result = run({"nb/main.sql": SPARK_ONLY_FUNCTIONS}, target="nb/main.sql")
    assert result.status == RunStatus.succeeded, result.activities[0].error
    [row] = rows(root, "t.f")
    # Values Spark 3.5 returns for the same expressions.
    assert (row["pmod"], float(row["b1"]), float(row["b2"]), row["fmt"]) == (2, 2.0, 4.0, "1,234,567.89")
    assert (row["nv"], row["bt"], row["ts"]) == (1.0, "x", True)
    ids = [r["id"] for r in rows(root, "t.ids")]
    assert len(set(ids)) == 3


DESCRIBE_AND_SAMPLE = notebook(
    'df = spark.createDataFrame([(1, "a", 2.5), (2, "b", None), (3, None, 4.0)], ["id", "name", "v"])\n'
    'stats = {r["summary"]: r.asDict() for r in df.describe().collect()}\n'
    'assert stats["count"] == {"summary": "count", "id": "3", "name": "2", "v": "2"}, stats\n'
    'assert stats["mean"]["v"] == "3.25" and stats["mean"]["name"] is None\n'
    'assert [r["summary"] for r in df.summary("count", "max").collect()] == ["count", "max"]\n'
    "assert df.sample(1.0).count() == 3 and df.sample(False, 0.0).count() == 0\n"
    'dbutils.notebook.exit("ok")'
)


def test_describe_summary_and_sample(run) -> None:
    _, result = run({"nb/main.py": DESCRIBE_AND_SAMPLE})
    assert output(result) == "ok", result.activities[0].error
