from __future__ import annotations

import pytest

from lockgate.engine.sql import (
    Statement,
    StatementKind,
    TableName,
    TableOptions,
    classify,
    is_overwrite,
    rewrite_tables,
    source_query,
    split_statements,
    table_options,
    table_references,
    target_table,
)
from lockgate.errors import SourceLocation, SqlError


def one(sql: str) -> Statement:
    statements = split_statements(sql, file="q.sql")
    assert len(statements) == 1
    return statements[0]


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


def test_join_hints_name_aliases_not_tables() -> None:
    statement = split_statements("SELECT /*+ BROADCAST(a) */ * FROM s.t a JOIN s.u b ON a.x = b.x", file="q.sql")[0]
    assert [str(name) for name in table_references(statement.expression)] == ["s.t", "s.u"]
