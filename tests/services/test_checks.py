"""Data-quality checks on real DuckDB tables: each check type passes on good rows and fails on bad ones, with
the failing count and sample rows; bad checks name the check and column; table declarations are validated."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from lockgate.engine import EngineSession, LakeTarget, get_engine
from lockgate.errors import CheckFailedError, ProjectError, SqlError, TableNotFoundError
from lockgate.model.checks import Check
from lockgate.services.checks import (
    CheckResult,
    build_check_failure,
    evaluate_check,
    evaluate_checks,
    render_check_results,
    run_declared_checks,
)
from lockgate.services.project import is_project_source, load_project, validate_project

WriteProject = Callable[[dict[str, str]], Path]
CHECK: TypeAdapter[Any] = TypeAdapter(Check)


def check(value: Any) -> Any:
    return CHECK.validate_python(value)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[EngineSession]:
    target = LakeTarget(environment="dev", lake_root=tmp_path / "lake", catalog="dev", project_root=tmp_path)
    with get_engine("duckdb").open_session(target) as opened:
        opened.sql(
            "CREATE TABLE s.orders AS SELECT * FROM VALUES "
            "(1, 'new', 10.5, 'a@x.io'), (2, 'paid', 0.0, NULL), (3, 'lost', -4.0, 'c@x.io'), "
            "(3, 'paid', NULL, 'c@x.io'), (4, NULL, 7.0, 'd@x.io') AS v(id, status, amount, email)"
        )
        yield opened


def run(session: EngineSession, spec: Any, **options: Any) -> CheckResult:
    return evaluate_check(session, "s.orders", check(spec), **options)


# -- each check type -------------------------------------------------------------------------------------------


def test_not_null_counts_rows_with_a_null_and_samples_them(session: EngineSession) -> None:
    assert run(session, {"not_null": ["id"]}).passed
    result = run(session, {"not_null": ["status", "email"]})
    assert (result.passed, result.failing_rows) == (False, 2)
    assert sorted(row["id"] for row in result.sample) == [2, 4]
    assert result.sample[0].keys() == {"id", "status", "amount", "email"}
    assert result.message == "2 rows with NULL in status, email"


def test_unique_reports_duplicated_keys_with_their_counts(session: EngineSession) -> None:
    result = run(session, {"unique": "id"})
    assert (result.passed, result.failing_rows) == (False, 1)
    assert result.sample == [{"id": 3, "row_count": 2}]
    assert run(session, {"unique": ["id", "status"]}).passed


def test_unique_ignores_rows_with_a_null_key(session: EngineSession) -> None:
    session.sql("CREATE TABLE s.keys AS SELECT * FROM VALUES (1), (NULL), (NULL) AS v(k)")
    assert evaluate_check(session, "s.keys", check({"unique": ["k"]})).passed


def test_accepted_values_ignores_nulls(session: EngineSession) -> None:
    result = run(session, {"accepted_values": {"column": "status", "values": ["new", "paid"]}})
    assert (result.passed, result.failing_rows) == (False, 1)
    assert result.sample[0]["status"] == "lost"
    assert "status is not 'new' or 'paid'" in result.message
    assert run(session, {"type": "accepted_values", "column": "status", "values": ["new", "paid", "lost"]}).passed


def test_accepted_values_quotes_values_as_spark_reads_them(session: EngineSession) -> None:
    session.sql("CREATE TABLE s.quotes AS SELECT * FROM VALUES ('it\\'s'), ('a\\\\b') AS v(word)")
    assert evaluate_check(
        session, "s.quotes", check({"accepted_values": {"column": "word", "values": ["it's", "a\\b"]}})
    ).passed


def test_row_count_bounds(session: EngineSession) -> None:
    assert run(session, {"row_count": {"min": 5, "max": 5}}).passed
    low = run(session, {"row_count": {"min": 10}})
    assert (low.passed, low.message) == (False, "5 rows; expected at least 10")
    high = run(session, {"type": "row_count", "max": 3})
    assert (high.passed, high.message, high.sample) == (False, "5 rows; expected at most 3", [])


def test_freshness_compares_the_newest_value_with_now(session: EngineSession) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    recent = (now - dt.timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    session.sql(
        f"CREATE TABLE s.events AS SELECT * FROM VALUES (TIMESTAMP '{recent}', DATE '2020-01-01') AS v(ts, day)"
    )
    assert evaluate_check(session, "s.events", check({"freshness": {"column": "ts", "max_age": "1h"}})).passed
    stale = evaluate_check(session, "s.events", check({"freshness": {"column": "ts", "max_age": "1m"}}))
    assert not stale.passed
    assert "old; expected at most 1m" in stale.message
    assert not evaluate_check(session, "s.events", check({"freshness": {"column": "day", "max_age": "30d"}})).passed


def test_freshness_fails_on_an_empty_table(session: EngineSession) -> None:
    result = run(session, {"freshness": {"column": "id", "max_age": "1h"}, "where": "id > 100"})
    assert not result.passed
    assert result.message.startswith("no id value")


def test_expression_treats_null_as_failing(session: EngineSession) -> None:
    result = run(session, {"expression": "amount >= 0"})
    assert (result.passed, result.failing_rows) == (False, 2)
    assert sorted(row["id"] for row in result.sample) == [3, 3]
    assert run(session, {"expression": "id > 0"}).passed


def test_sql_check_fails_with_the_rows_the_query_returns(session: EngineSession) -> None:
    query = "SELECT id, COUNT(*) AS n FROM s.orders GROUP BY id HAVING COUNT(*) > 1;"
    result = run(session, {"sql": query})
    assert (result.passed, result.failing_rows, result.sample) == (False, 1, [{"id": 3, "n": 2}])
    assert run(session, {"sql": "SELECT * FROM s.orders WHERE id > 100"}).passed


def test_where_limits_the_rows_checked(session: EngineSession) -> None:
    assert run(session, {"not_null": ["email"], "where": "status = 'paid'"}).failing_rows == 1
    assert run(session, {"not_null": ["email"], "where": "id <> 2"}).passed
    assert run(session, {"row_count": {"max": 2}, "where": "status = 'paid'"}).passed
    assert run(session, {"expression": "amount >= 0", "where": "amount IS NOT NULL AND id < 3"}).passed
    assert run(session, {"sql": "SELECT * FROM s.orders", "where": "id > 100"}).passed
    assert "(where id <> 2)" in run(session, {"not_null": ["email"], "where": "id <> 2"}).message


def test_sample_size_limits_the_sample_not_the_count(session: EngineSession) -> None:
    result = run(session, {"expression": "id > 10"}, sample_size=2)
    assert (result.failing_rows, len(result.sample)) == (5, 2)
    assert run(session, {"expression": "id > 10"}, sample_size=0).sample == []


def test_results_are_json(session: EngineSession) -> None:
    session.sql("CREATE TABLE s.typed AS SELECT CAST(1.25 AS DECIMAL(5,2)) AS d, DATE '2024-01-02' AS day")
    result = evaluate_check(session, "s.typed", check({"expression": "d < 1"}))
    assert result.sample == [{"d": 1.25, "day": "2024-01-02"}]
    json.dumps([r.as_dict() for r in evaluate_checks(session, "s.orders", [check({"not_null": "status"})])])


def test_full_and_short_forms_are_the_same_check() -> None:
    assert check({"not_null": ["id"], "severity": "warn"}) == check(
        {"type": "not_null", "columns": ["id"], "severity": "warn"}
    )
    assert check({"not_null": "id"}).columns == ("id",)
    short = check({"accepted_values": {"column": "s", "values": ["a"]}, "where": "x > 1"})
    assert (short.type, short.column, short.values, short.where) == ("accepted_values", "s", ("a",), "x > 1")
    assert check({"freshness": {"column": "ts", "max_age": "1h"}}).max_age == 3600
    assert check({"row_count": {"min": 1}}).label == "row_count"
    assert check({"unique": ["a", "b"], "name": "one per day"}).label == "one per day"


# -- errors --------------------------------------------------------------------------------------------------


def test_an_unknown_column_names_the_check_and_the_column(session: EngineSession) -> None:
    with pytest.raises(
        SqlError, match=r"check 'not_null\(id, emial\)' on s.orders: column 'emial' does not exist"
    ) as err:
        run(session, {"not_null": ["id", "emial"]})
    assert err.value.hint is not None and "did you mean 'email'?" in err.value.hint
    with pytest.raises(SqlError, match=r"check 'expression' on s.orders: .*nope") as err:
        run(session, {"expression": "nope > 1"})
    assert "columns of s.orders: id, status, amount, email" in str(err.value.hint)


def test_an_unknown_table_names_the_check(session: EngineSession) -> None:
    with pytest.raises(TableNotFoundError, match=r"check 'not_null\(id\)': table s.missing does not exist"):
        evaluate_check(session, "s.missing", check({"not_null": "id"}))


def test_check_failure_lists_failed_checks_with_sample_rows(session: EngineSession) -> None:
    results = evaluate_checks(
        session,
        "s.orders",
        [
            check({"not_null": ["id"]}),
            check({"unique": "id"}),
            check({"expression": "amount >= 0", "severity": "warn"}),
        ],
    )
    error = build_check_failure(results)
    assert isinstance(error, CheckFailedError) and not error.retryable and error.exit_code == 1
    text = str(error)
    assert text.splitlines()[0] == "1 data check failed on s.orders: unique(id) (1 duplicated value)"
    assert "FAIL s.orders unique(id): 1 duplicated value of (id)" in text
    assert "| id | row_count |" in text and "| 3  | 2         |" in text
    assert "WARN s.orders expression: 2 rows where (amount >= 0) is not true" in text
    assert "PASS" not in text
    assert "lockgate query" in str(error.hint)
    assert error.results == tuple(results)
    assert build_check_failure([r for r in results if r.severity == "warn"]) is None


def test_render_shows_every_check(session: EngineSession) -> None:
    results = evaluate_checks(session, "s.orders", [check({"not_null": ["id"]}), check({"expression": "id > 3"})])
    text = render_check_results(results, sample_rows=2)
    assert text.splitlines()[0] == "PASS s.orders not_null(id): no NULL in id"
    assert text.splitlines()[1] == "FAIL s.orders expression: 4 rows where (id > 3) is not true"
    assert "... 2 more" in text


# -- table declarations --------------------------------------------------------------------------------------

TABLES_YAML = """\
tables:
  s.orders:
    description: one row per order
    columns: {id: bigint, status: string, amount: null, email: null}
    checks:
      - not_null: [id]
      - {type: unique, columns: [id], severity: warn}
      - accepted_values: {column: status, values: [new, paid, lost]}
"""


def test_declared_tables_load_and_their_checks_run(write_project: WriteProject, session: EngineSession) -> None:
    project = load_project(write_project({"tables/sales.yaml": TABLES_YAML}))
    assert list(project.tables) == ["s.orders"]
    assert project.declared_table("Dev.S.`Orders`") is project.tables["s.orders"]
    results = run_declared_checks(session, project, ["s.orders", "dev.s.orders", "s.other"])
    assert [(r.label, r.passed) for r in results] == [
        ("not_null(id)", True),
        ("unique(id)", False),
        ("accepted_values(status)", True),
    ]
    assert build_check_failure(results) is None  # the failing check only warns
    assert is_project_source("tables/sales.yaml")


BAD_TABLES_YAML = """\
tables:
  orders:
    checks: [{not_null: [id]}]
  s.orders:
    columns: {id: bigint, status: string}
    checks:
      - not_null: [id, stauts]
      - type: accepted_values
        column: state
        values: [a]
      - {unique: idd}
"""

CHECK_PIPELINE = """\
activities:
  - name: verify
    type: check
    table: S.Orders
    checks:
      - expression: "amount > 0"
      - not_null: [id, amount]
"""


def test_validation_finds_unknown_columns_and_bad_table_names(write_project: WriteProject) -> None:
    root = write_project({"tables/sales.yaml": BAD_TABLES_YAML, "pipelines/p.yaml": CHECK_PIPELINE})
    _, problems = validate_project(root)
    shown = [str(problem) for problem in problems]
    assert shown[0].startswith("tables/sales.yaml:2:3: table name 'orders' is not schema.table")
    assert shown[1].startswith("tables/sales.yaml:7:24: check 'not_null(id, stauts)': s.orders has no column 'stauts'")
    assert "did you mean 'status'?" in shown[1]
    assert shown[2].startswith("tables/sales.yaml:9:17: check 'accepted_values(state)': s.orders has no column 'state'")
    assert shown[3].startswith("tables/sales.yaml:11:18: check 'unique(idd)': s.orders has no column 'idd'")
    assert shown[4].startswith("pipelines/p.yaml:7:24: check 'not_null(id, amount)': s.orders has no column 'amount'")
    assert len(shown) == 5
    with pytest.raises(ProjectError, match=r"is not schema\.table"):
        load_project(root)


def test_a_table_declared_twice_is_a_problem(write_project: WriteProject) -> None:
    root = write_project({"tables/a.yaml": TABLES_YAML, "tables/b.yaml": TABLES_YAML.replace("s.orders", "S.orders")})
    _, problems = validate_project(root)
    assert [str(p).splitlines()[0] for p in problems] == ["tables/b.yaml:2:3: table 'S.orders' is declared twice"]


def test_a_malformed_check_is_located(write_project: WriteProject) -> None:
    root = write_project({"tables/a.yaml": "tables:\n  s.t:\n    checks:\n      - row_count: {}\n"})
    _, problems = validate_project(root)
    assert len(problems) == 1 and str(problems[0]).startswith("tables/a.yaml:4:")
