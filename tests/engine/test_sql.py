from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from lockgate.engine.sql import (
    Statement,
    StatementKind,
    TableName,
    TableOptions,
    WidgetDefinition,
    classify,
    is_overwrite,
    rewrite_tables,
    source_query,
    split_statements,
    substitute_parameters,
    table_options,
    table_references,
    target_table,
    to_duckdb,
    widget_definition,
)
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


# --- split_statements ---------------------------------------------------------------------------------------


def test_split_statements_keeps_text_and_lines() -> None:
    sql = (
        "-- build silver\n"
        "CREATE OR REPLACE TABLE silver.x USING DELTA AS\n"
        "SELECT 'a;b' AS `semi;colon`;\n"
        "\n"
        "/* second */ INSERT INTO silver.x\n"
        "SELECT 'c';;\n"
        "SELECT 1 ; -- trailing comment\n"
    )
    statements = split_statements(sql, file="nb.sql", line=10)

    assert [s.sql for s in statements] == [
        "CREATE OR REPLACE TABLE silver.x USING DELTA AS\nSELECT 'a;b' AS `semi;colon`",
        "INSERT INTO silver.x\nSELECT 'c'",
        "SELECT 1",
    ]
    assert [s.location for s in statements] == [
        SourceLocation("nb.sql", 11),
        SourceLocation("nb.sql", 14),
        SourceLocation("nb.sql", 16),
    ]
    assert [s.kind for s in statements] == [
        StatementKind.CREATE_TABLE_AS,
        StatementKind.INSERT,
        StatementKind.QUERY,
    ]


@pytest.mark.parametrize("sql", ["", "   \n", "-- only a comment\n", ";;", "/* x */ ;"])
def test_split_statements_empty(sql: str) -> None:
    assert split_statements(sql, file="e.sql") == []


def test_parse_error_points_at_the_line_in_the_file() -> None:
    sql = "SELECT 1;\nSELECT 2;\n\n-- broken below\nSELECT * FROM WHERE x = 1;\nSELECT 3;"
    with pytest.raises(SqlError, match=r"^bad\.sql:5:15: cannot parse SQL near 'WHERE'") as info:
        split_statements(sql, file="bad.sql")
    assert info.value.location == SourceLocation("bad.sql", 5, 15)
    assert info.value.hint is not None
    assert "<Token" not in info.value.message

    with pytest.raises(SqlError) as shifted:
        split_statements(sql, file="nb.py", line=20)  # the cell starts on line 20 of the notebook
    assert shifted.value.location == SourceLocation("nb.py", 24, 15)


def test_unterminated_string_is_located() -> None:
    with pytest.raises(SqlError, match=r"u\.sql:2:15: cannot read SQL: unterminated '"):
        split_statements("SELECT 1;\nSELECT name = 'ann FROM t", file="u.sql")


def test_commands_sqlglot_cannot_parse_are_kept_whole() -> None:
    statements = split_statements(
        "OPTIMIZE silver.x ZORDER BY (id);\nVACUUM silver.x RETAIN 168 HOURS;\nSHOW TABLES IN silver;"
        "\nCLEAR CACHE;\nREORG TABLE t APPLY (PURGE)",
        file="m.sql",
    )
    assert [s.kind for s in statements] == [
        StatementKind.OPTIMIZE_OR_VACUUM,
        StatementKind.OPTIMIZE_OR_VACUUM,
        StatementKind.SHOW_TABLES,
        StatementKind.OPTIMIZE_OR_VACUUM,
        StatementKind.OPTIMIZE_OR_VACUUM,
    ]
    assert statements[0].sql == "OPTIMIZE silver.x ZORDER BY (id)"


# --- substitute_parameters ----------------------------------------------------------------------------------


def test_substitute_widget_references() -> None:
    sql = (
        "SELECT * FROM ${schema}.patients\n"
        "WHERE visit >= '${start}' AND name = :name AND id::int > :min_id\n"
        "  AND payload:field = 1 AND note = ':name' AND `:name` = 1 -- :name\n"
        "  AND env = '{{ env }}'"
    )
    values = {"schema": "silver", "start": "2024-01-01", "name": "o'neil", "min_id": "3", "env": "dev"}

    assert substitute_parameters(sql, values) == (
        "SELECT * FROM silver.patients\n"
        "WHERE visit >= '2024-01-01' AND name = 'o\\'neil' AND id::int > '3'\n"
        "  AND payload:field = 1 AND note = ':name' AND `:name` = 1 -- :name\n"
        "  AND env = 'dev'"
    )


def test_substituted_marker_parses_back_to_the_value() -> None:
    sql = substitute_parameters("SELECT :v AS v", {"v": "it's \\ fine"})
    assert one(sql).expression.selects[0].this.name == "it's \\ fine"


@pytest.mark.parametrize("sql", ["SELECT ${shema}", "SELECT {{shema}}", "SELECT :shema"])
def test_unknown_parameter(sql: str) -> None:
    with pytest.raises(SqlError, match=r"p\.sql:3:8: unknown parameter 'shema'") as info:
        substitute_parameters(sql, {"schema": "x", "day": "y"}, file="p.sql", line=3)
    assert info.value.hint is not None
    assert info.value.hint.startswith("did you mean 'schema'? defined: day, schema")


# --- classify -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", StatementKind.QUERY),
        ("WITH a AS (SELECT 1) SELECT * FROM a", StatementKind.QUERY),
        ("SELECT 1 UNION ALL SELECT 2", StatementKind.QUERY),
        ("VALUES (1, 2)", StatementKind.QUERY),
        ("CREATE OR REPLACE TABLE silver.x USING DELTA AS SELECT 1", StatementKind.CREATE_TABLE_AS),
        ("CREATE TABLE IF NOT EXISTS x (a INT, b STRING) USING DELTA", StatementKind.CREATE_TABLE),
        ("CREATE TABLE x LIKE y", StatementKind.CREATE_TABLE),
        ("INSERT INTO x SELECT 1", StatementKind.INSERT),
        ("INSERT OVERWRITE TABLE x SELECT 1", StatementKind.INSERT),
        ("CREATE OR REPLACE TEMP VIEW v AS SELECT 1", StatementKind.CREATE_VIEW),
        ("CREATE VIEW silver.v AS SELECT 1", StatementKind.CREATE_VIEW),
        ("DROP TABLE IF EXISTS x", StatementKind.DROP_TABLE),
        ("DROP VIEW v", StatementKind.DROP_VIEW),
        ("DELETE FROM x WHERE a = 1", StatementKind.DELETE),
        ("UPDATE x SET a = 1", StatementKind.UPDATE),
        ("MERGE INTO x USING y ON x.id = y.id WHEN MATCHED THEN DELETE", StatementKind.MERGE),
        ("TRUNCATE TABLE x", StatementKind.TRUNCATE),
        ("CREATE SCHEMA IF NOT EXISTS gold", StatementKind.CREATE_SCHEMA),
        ("CREATE DATABASE gold", StatementKind.CREATE_SCHEMA),
        ("DROP SCHEMA gold CASCADE", StatementKind.DROP_SCHEMA),
        ("USE silver", StatementKind.USE),
        ("USE CATALOG main", StatementKind.USE),
        ("DESCRIBE TABLE x", StatementKind.DESCRIBE),
        ("SHOW TABLES", StatementKind.SHOW_TABLES),
        ("SET spark.sql.shuffle.partitions = 8", StatementKind.SET),
        ("OPTIMIZE x ZORDER BY (a)", StatementKind.OPTIMIZE_OR_VACUUM),
        ("VACUUM x", StatementKind.OPTIMIZE_OR_VACUUM),
        ("ANALYZE TABLE x COMPUTE STATISTICS", StatementKind.OPTIMIZE_OR_VACUUM),
        ("REFRESH TABLE x", StatementKind.OPTIMIZE_OR_VACUUM),
        ("CACHE TABLE x", StatementKind.OPTIMIZE_OR_VACUUM),
        ("UNCACHE TABLE x", StatementKind.OPTIMIZE_OR_VACUUM),
        ("MSCK REPAIR TABLE x", StatementKind.OPTIMIZE_OR_VACUUM),
        ("CREATE WIDGET TEXT env DEFAULT 'dev'", StatementKind.CREATE_WIDGET),
        ("SHOW DATABASES", StatementKind.OTHER),
        ("ALTER TABLE x ADD COLUMNS (c INT)", StatementKind.OTHER),
    ],
)
def test_classify(sql: str, kind: StatementKind) -> None:
    assert classify(one(sql).expression) is kind


def test_is_overwrite_and_source_query() -> None:
    overwrite = one("INSERT OVERWRITE TABLE silver.x SELECT id FROM bronze.y").expression
    append = one("INSERT INTO silver.x VALUES (1)").expression

    assert is_overwrite(overwrite) and not is_overwrite(append)
    query = source_query(overwrite)
    assert query is not None and query.sql(dialect="spark") == "SELECT id FROM bronze.y"
    assert source_query(one("CREATE TABLE t AS SELECT 1").expression) is not None
    assert source_query(one("CREATE TABLE t (a INT)").expression) is None
    assert source_query(one("SELECT 1").expression) is None


def test_widget_definition() -> None:
    text = one("CREATE WIDGET TEXT run_date DEFAULT '2024-01-01'").expression
    dropdown = one('CREATE WIDGET DROPDOWN state DEFAULT "CA" CHOICES SELECT * FROM (VALUES ("CA"))')

    assert widget_definition(text) == WidgetDefinition("text", "run_date", "2024-01-01")
    assert widget_definition(dropdown.expression) == WidgetDefinition(
        "dropdown", "state", "CA", 'SELECT * FROM (VALUES ("CA"))'
    )
    assert widget_definition(one("SELECT 1").expression) is None


# --- table names --------------------------------------------------------------------------------------------


def test_table_name() -> None:
    assert str(TableName("main", "silver", "patients")) == "main.silver.patients"
    assert str(TableName(None, None, "x")) == "x"
    assert TableName.parse("main.`silver`.patients") == TableName("main", "silver", "patients")
    assert TableName.parse("x") == TableName(None, None, "x")


def test_table_references_skip_ctes_and_targets() -> None:
    statement = one(
        """
        INSERT INTO main.gold.visits
        WITH recent AS (SELECT * FROM main.silver.patients WHERE visit > current_date() - 30),
             tagged AS (SELECT r.*, t.tag FROM recent r JOIN `silver`.`tags` t ON r.id = t.id)
        SELECT * FROM tagged
        WHERE id IN (SELECT id FROM silver.allowed) AND id NOT IN (SELECT id FROM recent)
        """
    )
    assert table_references(statement.expression) == [
        TableName("main", "silver", "patients"),
        TableName(None, "silver", "tags"),
        TableName(None, "silver", "allowed"),
    ]
    assert target_table(statement.expression) == TableName("main", "gold", "visits")


def test_cte_names_are_scoped() -> None:
    # ``orders`` inside the first CTE is the real table; ``orders`` after it is the CTE.
    expression = one(
        "WITH orders AS (SELECT * FROM orders WHERE ok), b AS (SELECT * FROM orders) SELECT * FROM b"
    ).expression
    assert table_references(expression) == [TableName(None, None, "orders")]


@pytest.mark.parametrize(
    ("sql", "target", "reads"),
    [
        ("MERGE INTO silver.x t USING bronze.y s ON t.id = s.id WHEN MATCHED THEN DELETE", "silver.x", ["bronze.y"]),
        ("CREATE TABLE silver.x (a INT) USING DELTA", "silver.x", []),
        ("CREATE OR REPLACE TEMP VIEW v AS SELECT * FROM a JOIN b USING (id)", "v", ["a", "b"]),
        ("UPDATE silver.x SET a = (SELECT max(a) FROM y)", "silver.x", ["y"]),
        ("DELETE FROM silver.x WHERE id IN (SELECT id FROM gone)", "silver.x", ["gone"]),
        ("DROP TABLE IF EXISTS main.silver.x", "main.silver.x", []),
        ("TRUNCATE TABLE silver.x", "silver.x", []),
        ("SELECT * FROM range(10) JOIN delta.`/data/x` USING (id)", None, ["delta./data/x"]),
        ("USE silver", None, []),
        ("CREATE SCHEMA gold", None, []),
    ],
)
def test_targets_and_reads(sql: str, target: str | None, reads: list[str]) -> None:
    expression = one(sql).expression
    written = target_table(expression)
    assert (str(written) if written else None) == target
    assert [str(name) for name in table_references(expression)] == reads


def test_rewrite_tables_returns_a_resolved_copy() -> None:
    statement = one(
        "WITH p AS (SELECT * FROM main.silver.patients) "
        "INSERT INTO gold.visits SELECT p.id, silver.patients.name FROM p JOIN main.silver.patients "
        "ON p.id = silver.patients.id JOIN lookups USING (id)"
    )
    seen: list[TableName] = []

    def resolve(name: TableName) -> TableName:
        seen.append(name)
        return TableName(None, f"dev_{name.schema or 'default'}", name.name)

    rewritten = rewrite_tables(statement.expression, resolve)

    assert rewritten.sql(dialect="spark") == (
        "WITH p AS (SELECT * FROM dev_silver.patients) INSERT INTO dev_gold.visits "
        "SELECT p.id, dev_silver.patients.name FROM p JOIN dev_silver.patients "
        "ON p.id = dev_silver.patients.id JOIN dev_default.lookups USING (id)"
    )
    assert TableName(None, None, "p") not in seen
    assert "main.silver.patients" in statement.expression.sql(dialect="spark")  # the input is unchanged


# --- table options ------------------------------------------------------------------------------------------


def test_table_options() -> None:
    expression = one(
        "CREATE OR REPLACE TABLE silver.x USING DELTA PARTITIONED BY (year, month) CLUSTER BY (id) "
        "LOCATION 's3://bucket/x' TBLPROPERTIES ('delta.appendOnly' = 'true', 'owner' = 'ops') "
        "COMMENT 'visits' AS SELECT 1 AS id, 2024 AS year, 1 AS month"
    ).expression

    assert table_options(expression) == TableOptions(
        format="delta",
        partitioned_by=("year", "month"),
        clustered_by=("id",),
        location="s3://bucket/x",
        properties={"delta.appendOnly": "true", "owner": "ops"},
        comment="visits",
    )
    assert table_options(one("CREATE TABLE t (a INT)").expression) == TableOptions()
    assert table_options(one("SELECT 1").expression) == TableOptions()
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
