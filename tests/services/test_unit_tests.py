"""Unit tests of notebooks and pipelines (`tests/*.yaml`): loading with positions, scratch runs on given tables,
typed comparison with a row diff, declared checks, JUnit XML, and the pytest plugin."""

from __future__ import annotations

import csv
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from lockgate.errors import NotFoundError, ProjectError
from lockgate.services.junit import render_junit
from lockgate.services.project import load_project
from lockgate.services.runner import run_notebook
from lockgate.services.testing import CaseResult, CaseStatus, SuiteResult, is_selected, load_unit_tests, run_test_suite
from lockgate.state import StateStore

WriteProject = Callable[[dict[str, str]], Path]

ORDER_TOTALS = """\
-- Orders per customer.
CREATE OR REPLACE TABLE gold.totals AS
SELECT customer, count(*) AS orders, round(sum(amount), 2) AS amount, max(order_date) AS last_order
FROM silver.orders
GROUP BY customer
"""

BIG_ORDERS = """\
dbutils.widgets.text("min_amount", "0")
min_amount = float(dbutils.widgets.get("min_amount"))
if min_amount < 0:
    raise ValueError("min_amount must not be negative")
spark.table("silver.orders").filter(f"amount >= {min_amount}").write.mode("overwrite").saveAsTable("gold.big_orders")
"""

PIPELINE = """\
parameters:
  min_amount: {type: float, default: 0}
activities:
  - name: totals
    type: notebook
    notebook: notebooks/totals.sql
  - name: big
    type: notebook
    notebook: notebooks/big_orders.py
    parameters: {min_amount: "{{ pipeline.parameters.min_amount }}"}
"""

GIVEN_ORDERS = """\
given:
  silver.orders:
    rows:
      - {order_id: 1, customer: ann, amount: 10.5, order_date: 2024-01-02}
      - {order_id: 2, customer: ann, amount: 4.25, order_date: 2024-01-05}
      - {order_id: 3, customer: bob, amount: 99.0, order_date: 2024-02-01}
"""

PASSING = f"""\
name: totals_per_customer
notebook: notebooks/totals.sql
{GIVEN_ORDERS}
expect:
  gold.totals:
    rows:
      - {{customer: bob, orders: 1, amount: 99.0, last_order: 2024-02-01}}
      - {{customer: ann, orders: 2, amount: 14.75, last_order: 2024-01-05}}
"""

FAILING = f"""\
name: totals_wrong
notebook: notebooks/totals.sql
{GIVEN_ORDERS}
expect:
  gold.totals:
    columns: [customer, orders]
    rows:
      - {{customer: ann, orders: 2}}
      - {{customer: bob, orders: 2}}
"""


@pytest.fixture
def project(write_project: WriteProject) -> Path:
    return write_project(
        {
            "notebooks/totals.sql": ORDER_TOTALS,
            "notebooks/big_orders.py": BIG_ORDERS,
            "pipelines/orders.yaml": PIPELINE,
            "tests/totals.yaml": PASSING,
        }
    )


def suite(root: Path, **options: object) -> SuiteResult:
    return run_test_suite(load_project(root), **options)  # type: ignore[arg-type]


def only(result: SuiteResult) -> CaseResult:
    assert len(result.cases) == 1, result.cases
    return result.cases[0]


def add(root: Path, name: str, text: str) -> None:
    (root / "tests" / name).write_text(text, encoding="utf-8")


def test_a_passing_and_a_failing_test(project: Path) -> None:
    add(project, "wrong.yaml", FAILING)
    result = suite(project)
    passed, failed = result.cases
    assert (passed.name, passed.status, passed.group) == ("totals_per_customer", CaseStatus.passed, "tests/totals.yaml")
    assert (failed.name, failed.status) == ("totals_wrong", CaseStatus.failed)
    assert failed.message == "gold.totals: 1 expected row missing, 1 unexpected row (1 matched)"
    assert failed.detail.splitlines()[1:] == [
        "    | customer | orders |",
        "  + | bob      | 1      |",
        "  - | bob      | 2      |",
    ]
    assert not result.ok
    assert result.count(CaseStatus.passed) == 1


def test_scratch_lakes_are_removed_and_the_project_lake_is_untouched(project: Path) -> None:
    assert suite(project).ok
    assert list((project / ".lockgate" / "test").iterdir()) == []
    assert not (project / ".lockgate" / "lake").exists()


def test_values_are_compared_with_their_types(project: Path) -> None:
    add(project, "totals.yaml", PASSING.replace("orders: 1,", 'orders: "1",'))
    case = only(suite(project))
    assert case.status == CaseStatus.failed
    assert '  - | bob      | "1"    |' in case.detail
    assert 'note: orders: expected string "1", got bigint 1' in case.detail


def test_a_missing_expected_table_and_column(project: Path) -> None:
    add(
        project,
        "totals.yaml",
        PASSING + "  gold.nothing: {rows: []}\n  gold.totals_again: {rows: [{x: 1}]}\n",
    )
    add(
        project,
        "column.yaml",
        FAILING.replace("name: totals_wrong", "name: column")
        .replace("[customer, orders]", "[customer, order]")
        .replace("orders: 2}", "order: 2}"),
    )
    column, missing = suite(project).cases
    assert missing.status == CaseStatus.failed
    assert "gold.nothing does not exist after the run" in missing.message
    assert "hint: the run wrote gold.totals" in missing.detail
    assert column.status == CaseStatus.failed
    assert column.message == "gold.totals has no column 'order'"
    assert "did you mean 'orders'?" in column.detail


def test_given_tables_from_csv_and_parquet_files(project: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    fixtures = project / "tests" / "fixtures"
    fixtures.mkdir()
    with (fixtures / "orders.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "customer", "amount", "order_date", "code"])
        writer.writerows([[1, "ann", "10.5", "2024-01-02", "007"], [2, "bob", "1.25", "2024-01-03", "010"]])
    pq.write_table(
        pa.table(
            {
                "order_id": [1, 2],
                "customer": ["ann", "bob"],
                "amount": [10.5, 1.25],
                "order_date": ["2024-01-02", "2024-01-03"],
            }
        ),
        fixtures / "orders.parquet",
    )
    expect = """\
expect:
  gold.totals:
    rows:
      - {customer: ann, orders: 1, amount: 10.5, last_order: 2024-01-02}
      - {customer: bob, orders: 1, amount: 1.25, last_order: 2024-01-03}
"""
    add(
        project,
        "totals.yaml",
        "notebook: notebooks/totals.sql\ngiven:\n"
        "  silver.orders: {file: fixtures/orders.csv, columns: {code: string}}\n" + expect,
    )
    add(
        project,
        "parquet.yaml",
        "notebook: notebooks/totals.sql\ngiven:\n  silver.orders:\n"
        "    file: fixtures/orders.parquet\n    columns: {order_date: date}\n" + expect,
    )
    result = suite(project)
    assert [(case.name, case.status) for case in result.cases] == [
        ("parquet", CaseStatus.passed),
        ("totals", CaseStatus.passed),
    ], result.cases


def test_expected_rows_from_a_file_and_in_order(project: Path) -> None:
    (project / "tests" / "totals.csv").write_text("customer,orders\nann,2\nbob,1\n", encoding="utf-8")
    add(
        project,
        "from_file.yaml",
        f"notebook: notebooks/totals.sql\n{GIVEN_ORDERS}expect:\n  gold.totals: {{file: totals.csv}}\n",
    )
    add(
        project,
        "ordered.yaml",
        f"notebook: notebooks/totals.sql\n{GIVEN_ORDERS}expect:\n  gold.totals:\n    ordered: true\n"
        "    rows: [{customer: bob}, {customer: ann}]\n",
    )
    cases = {case.name: case for case in suite(project, select=["from_file", "ordered"]).cases}
    assert cases["from_file"].status == CaseStatus.passed, cases["from_file"].detail
    ordered = cases["ordered"]
    # Without ORDER BY the table's order is the engine's: either it matches, or the message says where it differs.
    assert ordered.status == CaseStatus.passed or "not in order" in ordered.message


def test_a_pipeline_test_with_parameters(project: Path) -> None:
    add(
        project,
        "pipeline.yaml",
        f"pipeline: orders\nparameters: {{min_amount: 10}}\n{GIVEN_ORDERS}"
        "expect:\n  gold.big_orders:\n    columns: [order_id]\n    rows: [{order_id: 1}, {order_id: 3}]\n",
    )
    assert only(suite(project, select=["pipeline"])).status == CaseStatus.passed


def test_expected_failures(project: Path) -> None:
    add(
        project,
        "raises.yaml",
        f"""\
tests:
  - name: negative_amount_raises
    notebook: notebooks/big_orders.py
    parameters: {{min_amount: -1}}
    error_contains: must not be negative
{_indented(GIVEN_ORDERS)}
  - name: wrong_message
    notebook: notebooks/big_orders.py
    parameters: {{min_amount: -1}}
    error_contains: something else
  - name: does_not_raise
    notebook: notebooks/big_orders.py
    expect_failure: true
{_indented(GIVEN_ORDERS)}
  - name: unexpected_error
    notebook: notebooks/big_orders.py
    parameters: {{min_amount: -1}}
{_indented(GIVEN_ORDERS)}
""",
    )
    cases = {case.name: case for case in suite(project, select=["raise", "message", "error"]).cases}
    assert cases["negative_amount_raises"].status == CaseStatus.passed
    assert cases["wrong_message"].status == CaseStatus.failed
    assert "does not contain 'something else'" in cases["wrong_message"].message
    assert cases["does_not_raise"].status == CaseStatus.failed
    assert cases["does_not_raise"].message == "the run succeeded, but the test expects it to fail"
    error = cases["unexpected_error"]
    assert error.status == CaseStatus.error
    assert "ValueError: min_amount must not be negative" in error.detail
    assert error.location is not None and error.location.file == "tests/raises.yaml"


def _indented(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def test_a_given_column_mixing_types_is_an_error_at_the_table(project: Path) -> None:
    add(project, "mixed.yaml", "notebook: notebooks/totals.sql\ngiven:\n  silver.orders:\n    rows: [{a: 1}, {a: x}]\n")
    case = only(suite(project, select=["mixed"]))
    assert case.status == CaseStatus.error
    assert case.message == "given table silver.orders: column 'a' mixes bigint and string values"
    assert case.detail.startswith("tests/mixed.yaml:3:3: ")


def test_invalid_test_files_report_every_problem_with_its_position(project: Path) -> None:
    add(
        project,
        "bad.yaml",
        """\
notebook: notebooks/totls.sql
given:
  orders:
    rows: [{a: 1}]
  silver.x: {file: missing.csv}
""",
    )
    add(project, "keys.yaml", "notebook: notebooks/totals.sql\nexpect:\n  gold.t: {rows: [], orderd: true}\n")
    add(project, "two.yaml", "notebook: notebooks/totals.sql\npipeline: orders\n")
    with pytest.raises(ProjectError) as raised:
        load_unit_tests(load_project(project))
    assert [str(problem).splitlines()[0] for problem in raised.value.problems] == [
        "tests/bad.yaml:1:11: unknown notebook 'notebooks/totls.sql'",
        "tests/bad.yaml:3:3: given: 'orders' is not schema.table",
        "tests/bad.yaml:5:20: fixture file tests/missing.csv does not exist",
        "tests/keys.yaml:3:22: unknown key 'orderd' in expect.gold.t",
        "tests/two.yaml:1:1: a test runs one `notebook:` or one `pipeline:`",
    ]
    assert "did you mean 'notebooks/totals.sql'?" in str(raised.value)
    assert "did you mean 'ordered'?" in str(raised.value)


def test_names_default_to_the_file_and_must_be_unique(project: Path) -> None:
    add(project, "totals_per_customer.yaml", "notebook: notebooks/totals.sql\n")
    add(project, "many.yaml", "tests:\n  - notebook: notebooks/totals.sql\n")
    with pytest.raises(ProjectError) as raised:
        load_unit_tests(load_project(project))
    shown = str(raised.value)
    assert "tests/many.yaml:2:5: a test under `tests:` needs a `name`" in shown
    assert "duplicate test name 'totals_per_customer'" in shown


def test_selection_by_glob_or_substring(project: Path) -> None:
    assert is_selected(["totals_per_customer"], ["totals_*"])
    assert is_selected(["totals_per_customer"], ["PER_cust"])
    assert not is_selected(["totals_per_customer"], ["gold_*"])
    assert is_selected(["anything"], [])
    with pytest.raises(NotFoundError, match="no test or checked table matches 'totals_per_custmer'") as raised:
        suite(project, select=["totals_per_custmer"])
    assert raised.value.hint is not None and "did you mean 'totals_per_customer'?" in raised.value.hint


TABLES = """\
tables:
  gold.totals:
    checks:
      - unique: [customer]
      - {expression: "orders > 1", severity: warn, name: repeat_customers}
      - {expression: "amount < 50", name: small_amounts}
"""


def test_declared_checks_run_on_the_environment_and_are_skipped_before_it_is_built(project: Path) -> None:
    (project / "tables").mkdir()
    (project / "tables" / "gold.yaml").write_text(TABLES, encoding="utf-8")
    before = suite(project, select=["gold.totals"])
    assert [case.status for case in before.cases] == [CaseStatus.skipped] * 3
    assert before.ok
    assert before.cases[0].group == "checks.gold.totals"
    assert before.cases[0].message.startswith("gold.totals is not built in env dev")

    (project / "notebooks" / "seed.sql").write_text(
        "CREATE OR REPLACE TABLE gold.totals AS SELECT * FROM VALUES ('ann', 2, 14.75), ('bob', 1, 99.0) "
        "AS t(customer, orders, amount)",
        encoding="utf-8",
    )
    with StateStore.open(f"sqlite:///{project / '.lockgate' / 'state.db'}") as store:
        run_notebook(load_project(project), "notebooks/seed.sql", store=store)
    after = suite(project, select=["checks.gold"])
    statuses = {case.name: case.status for case in after.cases}
    assert statuses == {
        "unique(customer)": CaseStatus.passed,
        "repeat_customers": CaseStatus.warned,
        "small_amounts": CaseStatus.failed,
    }
    failed = next(case for case in after.cases if case.name == "small_amounts")
    assert "FAIL gold.totals small_amounts: 1 row where (amount < 50) is not true" in failed.detail
    assert not after.ok


def test_junit_xml_lists_every_case_with_counts() -> None:
    result = SuiteResult(
        (
            CaseResult("test", "good", "tests/a.yaml", CaseStatus.passed, 0.5),
            CaseResult(
                "test", "bad", "tests/a.yaml", CaseStatus.failed, 0.25, "t.t: 1 row missing", "t.t: diff\n  - | 1 |"
            ),
            CaseResult("test", "broken", "tests/b.yaml", CaseStatus.error, 0.1, "boom", "boom\x00 trace"),
            CaseResult("check", "unique(id)", "checks.s.t", CaseStatus.skipped, message="s.t is not built"),
            CaseResult("check", "warned", "checks.s.t", CaseStatus.warned, message="2 rows"),
        ),
        1.5,
    )
    root = ET.fromstring(render_junit(result))
    assert root.tag == "testsuites"
    (suite_element,) = root
    assert suite_element.tag == "testsuite"
    for element in (root, suite_element):
        assert {key: element.get(key) for key in ("name", "tests", "failures", "errors", "skipped", "time")} == {
            "name": "lockgate",
            "tests": "5",
            "failures": "1",
            "errors": "1",
            "skipped": "1",
            "time": "1.500",
        }
    cases = {case.get("name"): case for case in suite_element.iter("testcase")}
    assert [case.get("classname") for case in cases.values()] == [
        "tests/a.yaml",
        "tests/a.yaml",
        "tests/b.yaml",
        "checks.s.t",
        "checks.s.t",
    ]
    assert list(cases["good"]) == []
    failure = cases["bad"].find("failure")
    assert failure is not None
    assert failure.get("message") == "t.t: 1 row missing"
    assert failure.text == "t.t: diff\n  - | 1 |"
    error = cases["broken"].find("error")
    assert error is not None and error.text == "boom trace"
    assert cases["unique(id)"].find("skipped") is not None
    out = cases["warned"].find("system-out")
    assert out is not None and out.text == "warning: 2 rows"


# -- the pytest plugin ------------------------------------------------------------------------------------------


def test_the_pytest_plugin_collects_a_projects_yaml_tests(project: Path, tmp_path: Path) -> None:
    add(project, "wrong.yaml", FAILING)
    other = tmp_path / "elsewhere" / "tests"
    other.mkdir(parents=True)
    (other / "config.yaml").write_text("not: a lockgate test\n", encoding="utf-8")  # no lockgate.yaml above
    # Installed, the package registers the plugin itself (entry point `pytest11`); else load it by name.
    installed = any(point.name == "lockgate" for point in entry_points(group="pytest11"))
    plugin = [] if installed else ["-p", "lockgate.pytest_plugin"]
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", "-q",
         "--rootdir", str(tmp_path), str(project), str(other.parent)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "1 failed, 1 passed" in output
    assert "FAILED project/tests/wrong.yaml::totals_wrong - gold.totals: 1 expected" in output
    assert "  - | bob      | 2      |" in output
    assert "config.yaml" not in output


def test_declared_checks_run_inside_unit_tests(project: Path) -> None:
    (project / "tables").mkdir()
    (project / "tables" / "gold.yaml").write_text(
        "tables:\n  gold.totals:\n    checks:\n      - {expression: 'orders < 2', name: one_order_each}\n",
        encoding="utf-8",
    )
    add(project, "caught.yaml", f"notebook: notebooks/totals.sql\nerror_contains: one_order_each\n{GIVEN_ORDERS}")
    cases = {case.name: case for case in suite(project, checks=False).cases}
    assert cases["caught"].status == CaseStatus.passed, cases["caught"].detail
    broken = cases["totals_per_customer"]
    assert broken.status == CaseStatus.error
    assert "1 data check failed on gold.totals: one_order_each (1 row)" in broken.detail
