"""Databricks notebooks written for Databricks (not for lockgate) run unchanged on the embedded engine and on
Spark (`local[*]`, a standalone cluster, Spark Connect), and their tables hold exactly the rows DuckDB computes
directly from the same files."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import duckdb
import pytest
from deltalake import DeltaTable

CLASSIC = Path(__file__).parents[1] / "fixtures/projects/classic"
EXPECTED_TABLES = sorted(p.stem for p in (CLASSIC / "expected").glob("*.sql"))


def _normalized(value: object) -> object:
    if isinstance(value, float | decimal.Decimal):
        return round(float(value), 6)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _rows(columns: list[str], rows: list[tuple[object, ...]]) -> tuple[list[str], list[tuple[object, ...]]]:
    normalized = [tuple(_normalized(v) for v in row) for row in rows]
    return columns, sorted(normalized, key=repr)


def _lake_table(project: Path, qualified: str) -> tuple[list[str], list[tuple[object, ...]]]:
    schema, name = qualified.split(".")
    table = DeltaTable(str(project / ".lockgate/lake/dev" / schema / name)).to_pyarrow_table()
    return _rows(table.column_names, [tuple(r.values()) for r in table.to_pylist()])


def _expected(project: Path, qualified: str) -> tuple[list[str], list[tuple[object, ...]]]:
    sql = (project / "expected" / f"{qualified}.sql").read_text()
    connection = duckdb.connect()
    connection.execute(f"SET file_search_path = '{project}'")
    cursor = connection.execute(sql)
    return _rows([c[0] for c in cursor.description], cursor.fetchall())


_SPARK = [pytest.mark.spark, pytest.mark.slow]
_CLUSTER_CONF = {"spark.cores.max": "1", "spark.executor.memory": "512m"}


@pytest.fixture(
    scope="module",
    params=[
        "duckdb",
        pytest.param("local", marks=_SPARK),
        pytest.param("standalone", marks=_SPARK),
        pytest.param("connect", marks=_SPARK),
    ],
)
def classic_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The classic project run on DuckDB, and on Spark: `local[*]`, a standalone cluster and Spark Connect."""
    import json
    import shutil

    from lockgate.services.project import load_project
    from lockgate.services.runner import run_pipeline
    from lockgate.state import RunStatus, StateStore

    project = tmp_path_factory.mktemp("classic") / "classic"
    shutil.copytree(CLASSIC, project)
    if request.param != "duckdb":
        spark: dict[str, object] = {"master": "local[2]"}
        if request.param != "local":
            cluster = request.getfixturevalue("spark_cluster")
            spark = {"master": cluster.master_url, "conf": _CLUSTER_CONF}
            if request.param == "connect":
                spark = {"master": cluster.connect_url}
        config = (project / "lockgate.yaml").read_text().replace("engine: duckdb", "engine: spark")
        (project / "lockgate.yaml").write_text(config + f"spark: {json.dumps(spark)}\n")
    loaded = load_project(project)
    with StateStore.open(f"sqlite:///{project}/.lockgate/state.db") as store:
        result = run_pipeline(loaded, "classic", store=store)
    failures = {o.name: str(o.error) for o in result.failures}
    assert result.status == RunStatus.succeeded, failures
    assert result.engine == ("duckdb" if request.param == "duckdb" else "spark")
    return project


@pytest.mark.parametrize("table", EXPECTED_TABLES)
def test_table_matches_duckdb_on_the_same_files(classic_run: Path, table: str) -> None:
    assert _lake_table(classic_run, table) == _expected(classic_run, table)


def test_notebook_exit_value_is_the_activity_output(classic_run: Path) -> None:
    from lockgate.state import StateStore

    with StateStore.open(f"sqlite:///{classic_run}/.lockgate/state.db") as store:
        run = store.list_runs(limit=1)[0]
        outputs = {a.activity: a.output for a in store.list_activity_runs(run.id)}
    assert outputs["transform"]["runOutput"].startswith("ok: ")


def test_the_same_notebook_in_three_formats_gives_the_same_table(classic_run: Path) -> None:
    tables = {form: _lake_table(classic_run, f"formats.from_{form}") for form in ("databricks", "ipynb", "plain")}
    assert tables["databricks"] == tables["ipynb"] == tables["plain"]
    assert len(tables["plain"][1]) > 0
