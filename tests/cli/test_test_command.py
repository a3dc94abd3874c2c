"""`lockgate test`: per-test lines with the row diff, a summary, JUnit XML for CI, exit codes, and the scaffold."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lockgate.services.scaffold import init_project

WriteProject = Callable[[dict[str, str]], Path]

NOTEBOOK = """\
CREATE OR REPLACE TABLE gold.totals AS
SELECT customer, count(*) AS orders FROM silver.orders GROUP BY customer
"""

TEST = """\
name: NAME
notebook: notebooks/totals.sql
given:
  silver.orders:
    rows: [{id: 1, customer: ann}, {id: 2, customer: ann}, {id: 3, customer: bob}]
expect:
  gold.totals:
    rows: [{customer: ann, orders: 2}, {customer: bob, orders: BOB}]
"""


@pytest.fixture
def project(write_project: WriteProject) -> Path:
    return write_project(
        {
            "notebooks/totals.sql": NOTEBOOK,
            "tests/good.yaml": TEST.replace("NAME", "totals_good").replace("BOB", "1"),
            "tests/bad.yaml": TEST.replace("NAME", "totals_bad").replace("BOB", "3"),
        }
    )


def test_a_failing_test_shows_the_diff_writes_junit_and_exits_1(project: Path, run_cli: Callable[..., Any]) -> None:
    report = project / "reports" / "junit.xml"
    result = run_cli("test", "--junit", str(report), cwd=project)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("✗ totals_bad (tests/bad.yaml) ")
    assert lines[1:5] == [
        "    gold.totals: 1 expected row missing, 1 unexpected row (1 matched)",
        "        | customer | orders |",
        "      + | bob      | 1      |",
        "      - | bob      | 3      |",
    ]
    assert lines[5].startswith("✓ totals_good (tests/good.yaml) ")
    assert lines[6].startswith("1 passed, 1 failed in ")
    assert lines[7] == f"wrote {report}"
    assert "Traceback" not in result.output

    root = ET.parse(report).getroot()
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == ("testsuites", "2", "1", "0")
    cases = {case.get("name"): case for case in root.iter("testcase")}
    assert set(cases) == {"totals_good", "totals_bad"}
    failure = cases["totals_bad"].find("failure")
    assert failure is not None
    assert failure.get("message") == "gold.totals: 1 expected row missing, 1 unexpected row (1 matched)"
    assert failure.text is not None and "  - | bob      | 3      |" in failure.text
    assert cases["totals_good"].get("classname") == "tests/good.yaml"


def test_select_runs_only_matching_tests(project: Path, run_cli: Callable[..., Any]) -> None:
    result = run_cli("test", "--select", "*good", cwd=project)
    assert result.exit_code == 0, result.output
    assert "totals_bad" not in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 passed in ")

    nothing = run_cli("test", "-s", "totals_goood", cwd=project)
    assert nothing.exit_code == 2
    assert "error: no test or checked table matches 'totals_goood'" in nothing.stderr
    assert "did you mean 'totals_good'?" in nothing.stderr


def test_an_invalid_test_file_exits_2_naming_file_and_line(project: Path, run_cli: Callable[..., Any]) -> None:
    (project / "tests" / "bad.yaml").write_text(
        "notebook: notebooks/totals.sql\nexpect:\n  gold.totals: {rows: [], colums: [a]}\n", encoding="utf-8"
    )
    result = run_cli("test", cwd=project)
    assert result.exit_code == 2
    assert "tests/bad.yaml:3:27: unknown key 'colums' in expect.gold.totals" in result.stderr
    assert "did you mean 'columns'?" in result.stderr
    assert result.stdout == ""


def test_a_project_without_tests_says_how_to_add_some(write_project: WriteProject, run_cli: Callable[..., Any]) -> None:
    result = run_cli("test", cwd=write_project({}))
    assert result.exit_code == 0
    assert "no tests: add tests/*.yaml files" in result.stdout


def test_the_scaffolded_project_passes_its_test_and_checks(tmp_path: Path, run_cli: Callable[..., Any]) -> None:
    root = tmp_path / "demo"
    init_project(root, rows=40)
    before = run_cli("test", cwd=root)
    assert before.exit_code == 0, before.output
    lines = before.stdout.splitlines()
    assert lines[0].startswith("✓ patient_summary_counts_encounters_up_to_run_date (tests/gold_patient_summary.yaml)")
    assert lines[1].startswith("- checks.gold.patient_summary skipped: gold.patient_summary is not built in env dev")
    assert lines[2].startswith("1 passed, 3 skipped in ")

    assert run_cli("run", "daily", cwd=root).exit_code == 0
    after = run_cli("test", "--junit", "junit.xml", cwd=root)
    assert after.exit_code == 0, after.output
    assert "✓ checks.gold.patient_summary: unique(patient_id)" in after.stdout
    assert "✓ checks.gold.patient_summary: counts_are_positive" in after.stdout
    assert after.stdout.splitlines()[-2].startswith("4 passed in ")
    suite = ET.parse(root / "junit.xml").getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "4",
        "0",
        "0",
        "0",
    )
