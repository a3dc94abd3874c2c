"""`check` activities in real runs: a failed `error` check fails the activity and skips what depends on it, and
`lockgate runs show` shows the rows that broke the rule; a failed `warn` check only reports."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

WriteProject = Callable[[dict[str, str]], Path]

PIPELINE = """\
activities:
  - name: load
    type: sql
    sql: |
      CREATE OR REPLACE TABLE s.orders AS
      SELECT * FROM VALUES (1, 'new', 10.0), (2, 'bogus', 5.0), (NULL, 'paid', -1.0) AS v(id, status, amount)
  - name: verify
    type: check
    depends_on: [load]
    table: s.orders
    retry: 2
    retry_interval: 0s
    checks:
      - accepted_values: {column: status, values: [new, paid]}
        severity: SEVERITY
      - {type: expression, expression: "amount >= {{ pipeline.parameters.floor }}", severity: warn}
  - name: publish
    type: sql
    depends_on: [verify]
    sql: CREATE OR REPLACE TABLE s.published AS SELECT * FROM s.orders
parameters:
  floor: {type: int, default: 0}
"""

TABLES = """\
tables:
  s.orders:
    columns: {id: bigint, status: string, amount: double}
    checks:
      - not_null: [id]
        severity: warn
"""


def run_id(result: Any) -> str:
    found = re.search(r"\brun (\d{8}-\d{6}-\w+)", result.output)
    assert found, result.output
    return found.group(1)


def test_a_failed_error_check_fails_the_activity_and_shows_the_bad_rows(
    write_project: WriteProject, run_cli: Callable[..., Any]
) -> None:
    root = write_project({"pipelines/p.yaml": PIPELINE.replace("SEVERITY", "error"), "tables/orders.yaml": TABLES})
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert re.search(r"verify\s+│\s+failed", result.stdout), result.output
    assert re.search(r"publish\s+│\s+skipped", result.stdout), result.output
    assert not (root / ".lockgate/lake/dev/s/published").exists()

    shown = run_cli("runs", "show", run_id(result), cwd=root)
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert "attempt 2" not in text, text  # a failed check is not retried (`retry: 2`)
    assert "1 data check failed on s.orders: accepted_values(status) (1 row)" in text
    assert "FAIL s.orders accepted_values(status): 1 row where status is not 'new' or 'paid'" in text
    assert re.search(r"\|\s*2\s*\|\s*bogus\s*\|\s*5\.0\s*\|", text), text  # the row that broke the rule
    assert "WARN s.orders expression: 1 row where (amount >= 0) is not true" in text  # rendered expression
    assert "WARN s.orders not_null(id): 1 row with NULL in id" in text  # the table's declared check


def test_failed_warn_checks_only_report(write_project: WriteProject, run_cli: Callable[..., Any]) -> None:
    root = write_project({"pipelines/p.yaml": PIPELINE.replace("SEVERITY", "warn"), "tables/orders.yaml": TABLES})
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 0, result.output
    assert (root / ".lockgate/lake/dev/s/published").is_dir()
    shown = run_cli("runs", "show", run_id(result), cwd=root)
    assert "WARN s.orders accepted_values(status): 1 row where status is not 'new' or 'paid'" in shown.stdout


def test_validate_points_at_an_unknown_column(write_project: WriteProject, run_cli: Callable[..., Any]) -> None:
    pipeline = PIPELINE.replace("SEVERITY", "error").replace("column: status", "column: state")
    root = write_project({"pipelines/p.yaml": pipeline, "tables/orders.yaml": TABLES})
    result = run_cli("validate", cwd=root)
    assert result.exit_code == 2, result.output
    assert "pipelines/p.yaml:14:35: check 'accepted_values(state)': s.orders has no column 'state'" in result.stderr
    assert "did you mean 'status'?" in result.stderr


def test_an_unknown_column_at_run_time_points_at_the_check(
    write_project: WriteProject, run_cli: Callable[..., Any]
) -> None:
    pipeline = PIPELINE.replace("SEVERITY", "error").replace("column: status", "column: state")
    root = write_project({"pipelines/p.yaml": pipeline})  # no declaration: only the run can tell
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 2, result.output
    assert "pipelines/p.yaml:14:9: check 'accepted_values(state)' on s.orders: column 'state' does not exist" in (
        result.stderr
    )
    assert "did you mean 'status'? columns of s.orders: id, status, amount" in result.stderr


def test_declared_checks_run_after_the_activity_that_writes_the_table(run_cli, write_project) -> None:
    root = write_project(
        {
            "tables/silver.yaml": (
                "tables:\n"
                "  silver.orders:\n"
                "    columns: {id: int, amount: double}\n"
                "    checks:\n"
                "      - not_null: [id]\n"
                "      - {expression: amount >= 0, severity: warn}\n"
            ),
            "pipelines/p.yaml": (
                "activities:\n"
                "  - name: load\n"
                "    type: sql\n"
                "    sql: CREATE OR REPLACE TABLE silver.orders AS\n"
                "      SELECT * FROM VALUES (1, 5.0), (NULL, -1.0) AS t(id, amount)\n"
                "  - {name: publish, type: wait, seconds: 0, depends_on: [load]}\n"
            ),
        }
    )
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 1
    assert "not_null(id)" in result.stderr
    runs = run_cli("runs", "show", result.stdout.split()[1], cwd=root)
    assert "publish (wait) · skipped" in runs.stdout
    assert "WARN silver.orders expression" in runs.stdout  # the warning is in the log, the run still fails on the error
