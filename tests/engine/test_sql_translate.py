"""Spark SQL translated for DuckDB: executed on DuckDB where it translates, refused with a reason where not."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from lockgate.engine.sql import Statement, TableName, rewrite_tables, split_statements
from lockgate.engine.sql_parameters import substitute_parameters
from lockgate.engine.sql_translate import to_duckdb
from lockgate.errors import SourceLocation, SqlError


def one(sql: str) -> Statement:
    statements = split_statements(sql, file="q.sql")
    assert len(statements) == 1
    return statements[0]


@pytest.fixture(scope="module")
def duck() -> Iterator[Any]:
    import duckdb  # only the engine imports duckdb at module level

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA silver")
    con.execute(
        "CREATE TABLE silver.patients AS SELECT * FROM (VALUES"
        " (1, 'ann', DATE '2024-01-10', 3.5, ['flu', 'cold']),"
        " (2, 'bob', DATE '2024-01-01', NULL, []::VARCHAR[]),"
        " (3, 'cy', DATE '2023-12-31', 1.25, NULL)"
        ") v(id, name, visit, score, tags)"
    )
    yield con
    con.close()


def run(duck: Any, spark_sql: str) -> list[tuple[Any, ...]]:
    """Translate Spark SQL (catalog dropped, as the engine does) and execute it on DuckDB."""
    statement = one(spark_sql)
    local = rewrite_tables(statement.expression, lambda name: TableName(None, name.schema, name.name))
    rows: list[tuple[Any, ...]] = duck.execute(to_duckdb(local, location=statement.location)).fetchall()
    return rows


# --- to_duckdb: statements, generated -----------------------------------------------------------------------


def test_table_options_are_dropped() -> None:
    expression = one(
        "CREATE OR REPLACE TABLE silver.x USING DELTA PARTITIONED BY (year, month) CLUSTER BY (id) "
        "LOCATION 's3://bucket/x' TBLPROPERTIES ('delta.appendOnly' = 'true', 'owner' = 'ops') "
        "COMMENT 'visits' AS SELECT 1 AS id, 2024 AS year, 1 AS month"
    ).expression

    assert to_duckdb(expression) == "CREATE OR REPLACE TABLE silver.x AS SELECT 1 AS id, 2024 AS year, 1 AS month"


# --- to_duckdb: statements, executed ------------------------------------------------------------------------


def test_delta_ddl_and_dml_run_on_duckdb(duck: Any) -> None:
    script = """
        CREATE DATABASE IF NOT EXISTS gold COMMENT 'marts';
        USE SCHEMA gold;
        CREATE OR REPLACE TABLE main.gold.visits (
            id BIGINT COMMENT 'patient id', name STRING, n INT
        ) USING DELTA PARTITIONED BY (id) TBLPROPERTIES ('delta.enableChangeDataFeed' = 'true');
        INSERT INTO gold.visits SELECT /*+ BROADCAST(p) */ id, name, 1 FROM main.silver.patients p;
        MERGE INTO gold.visits AS tgt
        USING (SELECT 1 AS id, 'ANN' AS name UNION ALL SELECT 9, 'new') AS src ON tgt.id = src.id
        WHEN MATCHED THEN UPDATE SET tgt.name = src.name, tgt.n = tgt.n + 1
        WHEN NOT MATCHED THEN INSERT (id, name, n) VALUES (src.id, src.name, 0);
        UPDATE gold.visits v SET v.n = 5 WHERE v.id = 2;
        DELETE FROM gold.visits WHERE id = 3;
        CREATE OR REPLACE TEMP VIEW recent AS SELECT * FROM gold.visits WHERE n > 0;
        USE silver
    """
    for statement in split_statements(script, file="ddl.sql"):
        local = rewrite_tables(statement.expression, lambda n: TableName(None, n.schema, n.name))
        duck.execute(to_duckdb(local, location=statement.location))

    assert duck.execute("SELECT * FROM gold.visits ORDER BY id").fetchall() == [
        (1, "ANN", 2),
        (2, "bob", 5),
        (9, "new", 0),
    ]
    assert duck.execute("SELECT count(*) FROM recent").fetchone() == (2,)
    temp = duck.execute("SELECT temporary FROM duckdb_views() WHERE view_name = 'recent'").fetchone()
    assert temp == (True,)


# --- to_duckdb: functions, executed -------------------------------------------------------------------------


def test_hashes_and_strings(duck: Any) -> None:
    rows = run(
        duck,
        "SELECT sha2('a', 256), md5('a'), concat_ws('-', 'a', NULL, 'b'), nvl(NULL, 'x'), "
        "upper(`name`), CASE WHEN id = 1 THEN 'one' ELSE 'many' END "
        "FROM main.silver.patients WHERE id = 1",
    )
    assert rows == [
        (hashlib.sha256(b"a").hexdigest(), hashlib.md5(b"a").hexdigest(), "a-b", "x", "ANN", "one"),
    ]


def test_dates(duck: Any) -> None:
    rows = run(
        duck,
        "SELECT datediff('2024-01-10', '2024-01-01'), date_add('2024-01-30', 3), date_sub(visit, 10), "
        "add_months('2024-01-31', 1), year(visit), year(current_date()) >= 2024, "
        "to_date('10/01/2024', 'dd/MM/yyyy'), to_date('2024-01-10', 'yyyy-MM-dd'), trunc(visit, 'MM') "
        "FROM silver.patients WHERE id = 1",
    )
    assert rows == [
        (
            9,
            dt.date(2024, 2, 2),  # DATE, as in Spark (sqlglot alone gives a TIMESTAMP)
            dt.date(2023, 12, 31),
            dt.date(2024, 2, 29),
            2024,
            True,
            dt.date(2024, 1, 10),
            dt.date(2024, 1, 10),
            dt.date(2024, 1, 1),
        )
    ]


def test_spark_date_patterns(duck: Any) -> None:
    rows = run(
        duck,
        "SELECT date_format(visit, 'yyyy/MM/dd'), date_format(visit, 'dd-MMM-yyyy EEEE'), "
        "date_format(TIMESTAMP '2024-01-02 03:04:05.123', \"yyyy-MM-dd'T'HH:mm:ss.SSS\"), "
        "to_timestamp('2024-01-02T03:04:05', \"yyyy-MM-dd'T'HH:mm:ss\"), "
        "date_format(TIMESTAMP '2024-01-02 15:04:05', 'hh:mm a') "
        "FROM silver.patients WHERE id = 1",
    )
    assert rows == [
        (
            "2024/01/10",
            "10-Jan-2024 Wednesday",
            "2024-01-02T03:04:05.123",
            dt.datetime(2024, 1, 2, 3, 4, 5),
            "03:04 PM",
        )
    ]


def test_explode_and_collect_list(duck: Any) -> None:
    rows = run(
        duck,
        "SELECT id, tag FROM silver.patients LATERAL VIEW explode(tags) t AS tag ORDER BY id, tag",
    )
    assert rows == [(1, "cold"), (1, "flu")]
    rows = run(duck, "SELECT explode(array(1, 2, 3)) AS x")
    assert rows == [(1,), (2,), (3,)]
    rows = run(
        duck,
        "SELECT size(tags) > 0, sort_array(collect_list(name)) FROM silver.patients "
        "WHERE tags IS NOT NULL GROUP BY size(tags) > 0 ORDER BY 1",
    )
    assert rows == [(False, ["bob"]), (True, ["ann"])]


def test_outer_explode_keeps_null_and_empty_rows(duck: Any) -> None:
    lateral = run(
        duck,
        "SELECT id, tag FROM silver.patients LATERAL VIEW OUTER explode(tags) t AS tag ORDER BY id, tag",
    )
    function = run(duck, "SELECT id, explode_outer(tags) FROM silver.patients ORDER BY 1, 2")
    expected = [(1, "cold"), (1, "flu"), (2, None), (3, None)]
    assert lateral == expected
    assert function == expected


def test_window_functions(duck: Any) -> None:
    rows = run(
        duck,
        "SELECT id, row_number() OVER (ORDER BY visit) AS rn, "
        "lag(name) OVER (ORDER BY id) AS prev, "
        "sum(score) OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running "
        "FROM silver.patients QUALIFY rn <= 3 ORDER BY id",
    )
    assert [(r[0], r[1], r[2], float(r[3])) for r in rows] == [
        (1, 3, None, 3.5),
        (2, 2, "ann", 3.5),
        (3, 1, "bob", 4.75),
    ]


def test_databricks_conveniences(duck: Any) -> None:
    rows = run(duck, "SELECT iff(id > 1, 'big', 'small') FROM silver.patients ORDER BY id")
    assert rows == [("small",), ("big",), ("big",)]


def test_bare_decimal_means_decimal_10_0(duck: Any) -> None:
    assert run(duck, "SELECT CAST(1.5 AS DECIMAL), CAST(1.25 AS DECIMAL(4, 2))") == [(Decimal("2"), Decimal("1.25"))]


def test_parameters_then_translation(duck: Any) -> None:
    cell = "SELECT name FROM ${catalog}.silver.patients\nWHERE visit >= :since ORDER BY id"
    sql = substitute_parameters(cell, {"catalog": "main", "since": "2024-01-01"})
    assert run(duck, sql) == [("ann",), ("bob",)]


# --- to_duckdb: refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT sha2(name, 512) FROM t", r"cannot translate SHA2\(name, 512\) from Spark SQL to DuckDB: "),
        ("INSERT OVERWRITE TABLE t SELECT 1", "cannot translate INSERT OVERWRITE"),
        ("INSERT INTO t PARTITION (d = '2024') SELECT 1", r"INSERT \.\.\. PARTITION"),
        ("OPTIMIZE t ZORDER BY (a)", "cannot translate OPTIMIZE statement"),
        ("VACUUM t", "cannot translate VACUUM statement"),
        ("REFRESH TABLE t", "cannot translate REFRESH statement"),
        ("CREATE WIDGET TEXT a DEFAULT 'b'", "cannot translate CREATE statement"),
        ("USE CATALOG main", "cannot translate USE CATALOG"),
        ("SELECT * FROM t VERSION AS OF 3", "cannot translate time travel on t"),
        ("SELECT date_format(d, 'yyyy-MM-dd XXX') FROM t", "date pattern letter 'XXX'"),
        ("SELECT date_format(d, fmt) FROM t", "date pattern that is not a string literal"),
        ("SELECT posexplode_outer(a) FROM t", r"posexplode_outer\(\)"),
        ("SELECT x FROM t LATERAL VIEW OUTER posexplode(a) e AS p, x", "LATERAL VIEW OUTER POSEXPLODE"),
    ],
)
def test_untranslatable_statements_are_named(sql: str, message: str) -> None:
    statement = split_statements(f"\n\n{sql}", file="r.sql")[0]
    with pytest.raises(SqlError, match=message) as info:
        to_duckdb(statement.expression, location=statement.location)
    assert info.value.location == SourceLocation("r.sql", 3)
    assert info.value.hint
