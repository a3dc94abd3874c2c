"""What each engine can run, checked against the engines themselves: the shipped function lists, the DuckDB
engine's refusals, and the Spark functions DuckDB lacks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest

from lockgate.engine import EngineSession, LakeTarget, get_engine
from lockgate.engine.sql import split_statements
from lockgate.engine.sql_portability import (
    _SPARK_FORMS,
    DUCKDB_NAMES_FILE,
    _read_names,
    duckdb_names,
    find_engine_gaps,
    spark_functions,
    spark_keywords,
)
from lockgate.errors import SqlError

ENGINE = Path(__file__).parents[2] / "src" / "lockgate" / "engine"


@pytest.fixture
def session(tmp_path: Path) -> Iterator[EngineSession]:
    target = LakeTarget(environment="dev", lake_root=tmp_path / "lake", catalog="dev", project_root=tmp_path)
    with get_engine("duckdb").open_session(target) as opened:
        opened.sql("CREATE TABLE s.t (a STRING, b INT, c DOUBLE, d DATE, arr ARRAY<INT>)")
        yield opened


def _gaps(sql: str, *engines: str) -> list[tuple[str, str, int | None, int | None]]:
    statements = split_statements(sql, file="q.sql")
    return [
        (gap.engine, gap.message, gap.location.line, gap.location.col)
        for gap in find_engine_gaps(sql, statements, engines=engines)
    ]


# -- the shipped lists ------------------------------------------------------------------------------------


def test_spark_lists_come_from_spark_and_hold_known_names() -> None:
    header = (ENGINE / "spark_functions.txt").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# Spark 4.") and "SHOW SYSTEM FUNCTIONS" in header
    assert {"date_format", "explode", "timestamp_millis", "collect_list", "array_contains"} <= spark_functions()
    assert not {"strftime", "read_parquet", "epoch_ms", "list_value", "struct_pack"} & spark_functions()
    assert {"try_cast", "select"} <= spark_keywords()


def test_duckdb_list_holds_functions_keywords_and_lockgate_macros() -> None:
    assert {"strftime", "read_parquet", "epoch_ms", "coalesce", "try_cast", "pmod", "timestamp_millis"} <= (
        duckdb_names()
    )
    assert not {"xpath", "stack", "every"} & duckdb_names()


def test_shipped_duckdb_list_matches_the_installed_duckdb() -> None:
    from lockgate.engine.duckdb import function_names

    shipped_version, names = _read_names(DUCKDB_NAMES_FILE)
    if shipped_version != version("duckdb"):
        pytest.skip(f"{DUCKDB_NAMES_FILE} is for DuckDB {shipped_version}; validate asks duckdb {version('duckdb')}")
    assert names == function_names(), "run scripts/update_duckdb_functions.py and commit the file"


@pytest.mark.parametrize("name", sorted(_SPARK_FORMS))
def test_each_suggested_spark_form_is_spark_sql_for_a_duckdb_only_function(name: str) -> None:
    assert name in duckdb_names() and name not in spark_functions()
    for function in re.findall(r"(?<![.\w])(\w+)\(", _SPARK_FORMS[name]):
        assert function in spark_functions(), f"hint for {name}() suggests {function}(), which Spark lacks"


# -- DuckDB: what the engine refuses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a FROM s.t VERSION AS OF 0",
        "ALTER TABLE s.t ADD COLUMNS (e STRING)",
        "SHOW COLUMNS IN s.t",
        "CREATE TABLE s.u (a INT) LOCATION '/tmp/elsewhere'",
        "CREATE OR REPLACE TABLE s.u AS SELECT a, p FROM s.t LATERAL VIEW OUTER posexplode(arr) x AS p, v",
        "INSERT INTO s.t SELECT date_format(d, 'yyyy-MM-dd XXX'), b, c, d, arr FROM s.t",
        "CREATE SCHEMA `my-schema`",
    ],
)
def test_validate_refuses_what_a_run_refuses_with_the_same_message(session: EngineSession, sql: str) -> None:
    [(engine, message, line, _)] = _gaps(sql, "duckdb")

    with pytest.raises(SqlError) as raised:
        session.sql(sql, file="q.sql")

    assert (engine, line) == ("duckdb", 1)
    assert message == raised.value.message


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE OR REPLACE TABLE s.u PARTITIONED BY (b) AS SELECT * FROM s.t",
        "INSERT OVERWRITE s.t SELECT * FROM s.t",
        "MERGE INTO s.t USING (SELECT * FROM s.t) AS n ON t.b = n.b WHEN MATCHED THEN UPDATE SET t.a = n.a",
        "OPTIMIZE s.t ZORDER BY (b)",
        "SELECT pmod(b, 3), date_format(d, 'yyyy-MM'), explode_outer(arr) FROM s.t",
    ],
)
def test_what_validate_accepts_runs(session: EngineSession, sql: str) -> None:
    assert _gaps(sql, "duckdb") == []
    session.sql(sql, file="q.sql")


_MISSING = re.compile(r"function (\w+)\(\) (?:becomes (\w+)\(\) on DuckDB, which )?does not exist")


@pytest.mark.slow
def test_spark_functions_reported_missing_on_duckdb_are_missing_there(session: EngineSession) -> None:
    """Every Spark built-in, called as Spark would accept it: validate never reports one DuckDB runs."""
    wrong, confirmed = [], set()
    for function in sorted(name for name in spark_functions() if re.fullmatch(r"[a-z_]\w*", name)):
        for arguments in ("", "a", "b", "a, b", "arr", "d", "b, c", "a, b, c"):
            sql = f"SELECT {function}({arguments}) FROM s.t"
            try:
                messages = [message for _, message, _, _ in _gaps(sql, "duckdb")]
                reported = {found[2] or found[1] for m in messages if (found := _MISSING.match(m)) is not None}
            except Exception:  # not Spark SQL with these arguments: try the next ones
                continue
            try:
                session.query(sql)
                missing = set()
            except Exception as exc:  # any failure but a missing function is not this test's
                found = re.search(r"with name \"?(\w+)\"? does not exist", str(exc))
                missing = {found[1].lower()} if found else set()
            if reported - missing:
                wrong.append(f"{sql}: reported {reported}, DuckDB misses {missing or 'nothing'}")
            confirmed |= reported & missing
            break
    assert wrong == []
    assert {"xpath", "stack", "every"} <= confirmed, confirmed


# -- Spark: DuckDB functions it lacks ---------------------------------------------------------------------


def test_duckdb_only_calls_are_located_at_their_names() -> None:
    sql = "SELECT strftime(d, '%Y'),\n  arg_max(a, b), my_udf(a), main.default.f(a)\nFROM read_csv_auto('x.csv')"

    assert _gaps(sql, "spark") == [
        ("spark", "function strftime() is not in Spark SQL", 1, 8),
        ("spark", "function arg_max() is not in Spark SQL", 2, 3),
        ("spark", "function read_csv_auto() is not in Spark SQL", 3, 6),
    ]


@pytest.mark.spark
def test_spark_refuses_the_duckdb_functions_validate_reports() -> None:
    """Against a real Spark: each DuckDB function with a suggested form is unknown to Spark, `try_cast` is not."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    spark = (
        pyspark_sql.SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    try:
        accepted = []
        for name in sorted(_SPARK_FORMS):
            try:
                spark.sql(f"SELECT {name}(1)").schema  # noqa: B018 - analysing is enough
                accepted.append(name)
            except Exception as exc:  # Spark's AnalysisException: which one is the point
                assert "UNRESOLVED_ROUTINE" in str(exc), (name, str(exc)[:300])
        assert accepted == []
        assert spark.sql("SELECT try_cast('1' AS INT) AS i").collect()[0].i == 1
    finally:
        spark.stop()
