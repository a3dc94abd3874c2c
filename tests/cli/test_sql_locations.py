"""SQL problems point at the statement's line, in SQL files, notebooks and inline `sql:` activities."""

from __future__ import annotations

INLINE_PIPELINE = """\
description: inline SQL
activities:
  - name: q
    type: sql
    sql: |
      CREATE OR REPLACE TABLE t.a AS SELECT 1 AS x;
      SELECT * FROM t.a WHERE x = = 1;
"""

QUOTED_PARAMETER_NOTEBOOK = """\
-- Databricks notebook source
CREATE WIDGET TEXT day DEFAULT '2024-01-01';
CREATE OR REPLACE TABLE t.d AS SELECT '${day}' AS day;
"""

MISSING_TABLE_FILE = """\
CREATE OR REPLACE TABLE t.a AS SELECT 1 AS x;

SELECT * FROM t.a;
SELECT * FROM t.nope;
"""


def test_inline_sql_error_points_into_the_pipeline_file(run_cli, write_project) -> None:
    root = write_project({"pipelines/p.yaml": INLINE_PIPELINE})
    result = run_cli("validate", cwd=root)
    assert result.exit_code == 2
    assert "pipelines/p.yaml:7:" in result.stderr, result.stderr


def test_quoted_widget_reference_validates_and_runs(run_cli, write_project) -> None:
    root = write_project(
        {
            "nb/d.sql": QUOTED_PARAMETER_NOTEBOOK,
            "pipelines/p.yaml": "activities:\n  - {name: d, type: notebook, notebook: nb/d.sql}\n",
        }
    )
    assert run_cli("validate", cwd=root).exit_code == 0
    assert run_cli("run", "p", cwd=root).exit_code == 0
    assert run_cli("query", "SELECT day FROM t.d", "-f", "csv", cwd=root).stdout.splitlines() == ["day", "2024-01-01"]


def test_run_time_error_names_the_failing_statement_line(run_cli, write_project) -> None:
    root = write_project(
        {
            "sql/q.sql": MISSING_TABLE_FILE,
            "pipelines/p.yaml": "activities:\n  - {name: q, type: sql, file: sql/q.sql}\n",
        }
    )
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 2
    assert "sql/q.sql:4: table t.nope does not exist" in result.stderr, result.stderr


def test_a_final_query_in_a_sql_activity_runs_and_is_the_output(run_cli, write_project) -> None:
    from lockgate.state import StateStore

    root = write_project(
        {
            "pipelines/p.yaml": (
                "activities:\n  - name: q\n    type: sql\n"
                "    sql: SELECT id * 2 AS doubled FROM range(3) AS r(id) ORDER BY 1\n"
            )
        }
    )
    assert run_cli("run", "p", cwd=root).exit_code == 0
    with StateStore.open(f"sqlite:///{root}/.lockgate/state.db") as store:
        run = store.list_runs(limit=1)[0]
        [activity] = store.list_activity_runs(run.id)
    assert activity.output == {
        "resultSets": [{"rowCount": 3, "rows": [{"doubled": 0}, {"doubled": 2}, {"doubled": 4}]}]
    }
