"""Bad input of every kind: a one-screen message naming the place and the fix, no traceback, a distinct exit code.

Exit codes: 2 the project or command line is wrong (YAML, names, parameters, secrets, SQL), 4 the state
database, 5 a Delta table, 1 a notebook that raised. A failed run keeps earlier table versions and is recorded.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

WriteProject = Callable[[dict[str, str]], Path]

HEADER = "# Databricks notebook source\n"
SEP = "\n# COMMAND ----------\n"


def databricks(*cells: str) -> str:
    return HEADER + SEP.join(cells) + "\n"


def pipeline(*activities: str, head: str = "") -> str:
    """A pipeline file: ``head`` lines, then one notebook activity per `name:notebook` spec."""
    lines = [head] if head else []
    lines.append("activities:")
    for spec in activities:
        name, _, notebook = spec.partition(":")
        lines += [f"  - name: {name}", "    type: notebook", f"    notebook: {notebook}"]
    return "\n".join(lines) + "\n"


def failed(result: Any, code: int) -> str:
    """The output of a command that failed cleanly with ``code``: a hint, no traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output, result.output
    assert "hint:" in result.stderr, result.output
    assert "error: unexpected" not in result.stderr, result.output  # not an unmapped exception
    return result.stderr


def problems(stderr: str) -> list[str]:
    """The `file:line:col: message` lines of a ProjectError, in the order shown."""
    return [line.strip() for line in stderr.splitlines() if re.match(r"^\s+\S+:\d+(:\d+)?: ", line)]


def run_id(result: Any) -> str:
    found = re.search(r"run (\S+) failed", result.stderr)
    assert found, result.output
    return found.group(1)


# -- malformed YAML ------------------------------------------------------------------------------------------


def test_tab_indentation_in_project_file(run_cli, write_project: WriteProject) -> None:
    root = write_project(
        {
            "lockgate.yaml": "name: sample\nenvironments:\n  dev: {lake: .lockgate/lake/dev}\n\tprod: {lake: x}\n",
            "pipelines/p.yaml": pipeline("a:nb/a.py"),
            "nb/a.py": "print(1)\n",
        }
    )
    for command in (["validate"], ["run", "p"], ["runs"]):
        stderr = failed(run_cli(*command, cwd=root), 2)
        assert "lockgate.yaml:4:1: tab character is not allowed here" in stderr
        assert "indent with spaces" in stderr


def test_debug_shows_the_traceback(run_cli, write_project: WriteProject) -> None:
    root = write_project({"lockgate.yaml": "name: sample\nenvironments:\n\tdev: {lake: x}\n"})
    result = run_cli("--debug", "validate", cwd=root)
    assert result.exit_code == 2
    assert "Traceback" in result.stderr
    assert "lockgate.yaml:3:1" in result.stderr


def test_unclosed_quote_in_pipeline(run_cli, write_project: WriteProject) -> None:
    root = write_project(
        {"pipelines/p.yaml": 'description: "daily load\n' + pipeline("a:nb/a.py"), "nb/a.py": "print(1)\n"}
    )
    stderr = failed(run_cli("validate", cwd=root), 2)
    assert 'pipelines/p.yaml:1:14: unclosed quote\n  hint: add the closing " at the end of the value' in stderr


# -- wrong structure -----------------------------------------------------------------------------------------


def test_unknown_key_in_activity_suggests_the_known_one(run_cli, write_project: WriteProject) -> None:
    text = "activities:\n  - name: a\n    type: notebook\n    notebok: nb/a.py\n"
    root = write_project({"pipelines/p.yaml": text, "nb/a.py": "print(1)\n"})
    stderr = failed(run_cli("validate", cwd=root), 2)
    assert "pipelines/p.yaml:4:5: unknown key 'notebok' in activities[0]" in stderr
    assert "hint: did you mean 'notebook'?" in stderr
    # The one bad activity does not also make the list "too short": that would be noise.
    assert "at least 1 item" not in stderr


def test_wrong_type_points_at_the_value(run_cli, write_project: WriteProject) -> None:
    root = write_project(
        {"pipelines/p.yaml": pipeline("a:nb/a.py", head="max_parallel: many"), "nb/a.py": "print(1)\n"}
    )
    stderr = failed(run_cli("validate", cwd=root), 2)
    assert "pipelines/p.yaml:1:15: max_parallel: expected an integer, got 'many'" in stderr
    assert "hint: write a whole number" in stderr


def test_unknown_activity_type(run_cli, write_project: WriteProject) -> None:
    text = "activities:\n  - name: a\n    type: notebok\n    notebook: nb/a.py\n"
    root = write_project({"pipelines/p.yaml": text, "nb/a.py": "print(1)\n"})
    stderr = failed(run_cli("validate", cwd=root), 2)
    assert problems(stderr) == [
        "pipelines/p.yaml:3:11: unknown activity type 'notebok'; expected one of: notebook, sql, copy, lookup, "
        "get_metadata, check, pipeline, foreach, if, switch, until, set_variable, append_variable, wait, fail, web "
        "(did you mean 'notebook'?)"
    ]
    assert "hint: change 'type' to one of: notebook, sql, copy" in stderr


def test_unknown_notebook_suggests_a_project_notebook(run_cli, write_project: WriteProject) -> None:
    root = write_project(
        {
            "pipelines/p.yaml": pipeline("a:notebooks/silver/patient"),
            "notebooks/silver/patients.py": "print(1)\n",
            "notebooks/gold/summary.py": "print(2)\n",
        }
    )
    stderr = failed(run_cli("validate", cwd=root), 2)
    assert "pipelines/p.yaml:4:5: unknown notebook 'notebooks/silver/patient'" in stderr
    assert "hint: did you mean 'notebooks/silver/patients.py'? known: " in stderr


def test_unknown_dependency(run_cli, write_project: WriteProject) -> None:
    text = pipeline("load:nb/a.py", "clean:nb/a.py") + "    depends_on: [laod]\n"
    root = write_project({"pipelines/p.yaml": text, "nb/a.py": "print(1)\n"})
    stderr = failed(run_cli("validate", cwd=root), 2)
    assert "pipelines/p.yaml:8:18: unknown activity 'laod'" in stderr
    assert "hint: did you mean 'load'?" in stderr


def test_dependency_cycle_shows_the_path(run_cli, write_project: WriteProject) -> None:
    text = (
        "activities:\n"
        "  - {name: a, type: notebook, notebook: nb/a.py, depends_on: [b]}\n"
        "  - {name: b, type: notebook, notebook: nb/a.py, depends_on: [a]}\n"
        "  - {name: c, type: notebook, notebook: nb/a.py}\n"
    )
    root = write_project({"pipelines/p.yaml": text, "nb/a.py": "print(1)\n"})
    stderr = failed(run_cli("run", "p", cwd=root), 2)
    assert "pipelines/p.yaml:2:" in stderr
    assert "dependency cycle: a -> b -> a" in stderr
    assert "hint: remove one of these dependencies" in stderr


def test_validate_lists_every_problem_of_every_file_in_file_order(run_cli, write_project: WriteProject) -> None:
    root = write_project(
        {
            "lockgate.yaml": (
                "name: sample\n"
                "engin: duckdb\n"  # unknown key
                "environments:\n"
                "  dev: {lake: .lockgate/lake/dev, protected: maybe}\n"  # wrong type
            ),
            "pipelines/a.yaml": (
                "max_parallel: many\n"  # wrong type
                "activities:\n"
                "  - {name: x, type: notebook, notebok: nb/a.py}\n"  # unknown key (and so a missing one)
            ),
            "pipelines/b.yaml": 'description: "unclosed\nactivities: []\n',  # YAML syntax
            "pipelines/c.yaml": (
                "activities:\n"
                "  - {name: x, type: notebook, notebook: nb/a.py, depends_on: [y]}\n"
                "  - {name: y, type: notebook, notebook: nb/nosuch.py, depends_on: [x]}\n"
            ),
            # A valid pipeline whose notebook has SQL that does not parse: found in the same pass.
            "pipelines/d.yaml": pipeline("q:nb/q.sql"),
            "nb/a.py": "print(1)\n",
            "nb/q.sql": "SELECT 1;\nSELEC 2;\n",
        }
    )
    stderr = failed(run_cli("validate", cwd=root), 2)
    found = problems(stderr)
    places = [line.split(": ")[0] for line in found]
    assert places == [
        "lockgate.yaml:2:1",
        "lockgate.yaml:4:46",
        "pipelines/a.yaml:1:15",
        "pipelines/a.yaml:3:5",
        "pipelines/a.yaml:3:31",
        "pipelines/b.yaml:1:14",
        "pipelines/c.yaml:2:50",
        "pipelines/c.yaml:3:31",
        "nb/q.sql:2:7",
    ], stderr
    assert f"error: {len(found)} problems in the project" in stderr
    assert "unknown key 'engin' at the top level" in found[0]
    assert "did you mean 'engine'?" in stderr
    assert "dependency cycle: x -> y -> x" in found[6]
    assert stderr.count("hint:") >= len(found) - 1


# -- unknown names on the command line -----------------------------------------------------------------------


def test_unknown_pipeline_suggests_one(run_cli, demo_project: Path) -> None:
    stderr = failed(run_cli("run", "dialy", cwd=demo_project), 2)
    assert "unknown pipeline or notebook 'dialy'" in stderr
    assert "hint: did you mean 'daily'?" in stderr


def test_unknown_environment_suggests_one(run_cli, write_project: WriteProject) -> None:
    root = write_project({"pipelines/p.yaml": pipeline("a:nb/a.py"), "nb/a.py": "print(1)\n"})
    for command in (["run", "p", "--env", "prdo"], ["query", "SELECT 1", "--env", "prdo"]):
        stderr = failed(run_cli(*command, cwd=root), 2)
        assert "unknown environment 'prdo'" in stderr
        assert "hint: did you mean 'prod'? known: dev or prod" in stderr


def test_unknown_table_in_query(run_cli, write_project: WriteProject) -> None:
    root = write_project(
        {
            "pipelines/p.yaml": pipeline("make:nb/make.sql"),
            "nb/make.sql": "CREATE TABLE silver.patients AS SELECT 1 AS id;\n",
        }
    )
    stderr = failed(run_cli("query", "select * from silver.nosuch", cwd=root), 2)
    assert "table silver.nosuch does not exist in environment 'dev'" in stderr
    assert "hint: this environment has no tables yet" in stderr
    assert run_cli("run", "p", cwd=root).exit_code == 0
    stderr = failed(run_cli("query", "select * from silver.patient", cwd=root), 2)
    assert "hint: did you mean 'silver.patients'?" in stderr
    # Sharing the schema does not make a name close: list the tables instead of a wild guess.
    stderr = failed(run_cli("query", "select * from silver.nosuch", cwd=root), 2)
    assert "did you mean" not in stderr
    assert "hint: tables in this environment: silver.patients" in stderr


# -- pipeline parameters -------------------------------------------------------------------------------------


PARAMETERS = "parameters:\n  n: {type: int}\n  day: {type: date, default: '2024-01-31'}"


def test_missing_required_parameter(run_cli, write_project: WriteProject) -> None:
    root = write_project({"pipelines/p.yaml": pipeline("a:nb/a.py", head=PARAMETERS), "nb/a.py": "print(1)\n"})
    stderr = failed(run_cli("run", "p", cwd=root), 2)
    assert "pipelines/p.yaml:2:3: missing value for parameter 'n' of pipeline 'p'" in stderr
    assert "hint: pass it with -p n=VALUE (int)" in stderr


def test_parameter_of_the_wrong_type(run_cli, write_project: WriteProject) -> None:
    root = write_project({"pipelines/p.yaml": pipeline("a:nb/a.py", head=PARAMETERS), "nb/a.py": "print(1)\n"})
    stderr = failed(run_cli("run", "p", "-p", "n=abc", cwd=root), 2)
    assert "pipelines/p.yaml:2:3: parameter 'n' of pipeline 'p': expected an integer, got 'abc'" in stderr
    assert "hint: -p n=VALUE takes int values" in stderr


def test_unknown_parameter(run_cli, write_project: WriteProject) -> None:
    root = write_project({"pipelines/p.yaml": pipeline("a:nb/a.py", head=PARAMETERS), "nb/a.py": "print(1)\n"})
    stderr = failed(run_cli("run", "p", "-p", "n=1", "-p", "dya=2024-01-01", cwd=root), 2)
    assert "pipelines/p.yaml:1:1: pipeline 'p' has no parameter 'dya'" in stderr
    assert "hint: did you mean 'day'? parameters: day or n" in stderr
    # Nothing ran: a rejected command records no run.
    assert "no runs yet" in run_cli("runs", cwd=root).stdout


# -- secrets -------------------------------------------------------------------------------------------------


SECRET_NOTEBOOK = databricks(
    'key = dbutils.secrets.get("kv", "api-key")',
    'print("the key is", key)\nprint("key ok:", key == "s3cr3t-value")\ndbutils.notebook.exit(key)',
)


def test_missing_secret_names_the_variable_and_the_file(run_cli, write_project: WriteProject, tmp_path: Path) -> None:
    root = write_project({"pipelines/p.yaml": pipeline("use_secret:nb/secret.py"), "nb/secret.py": SECRET_NOTEBOOK})
    result = run_cli("run", "p", cwd=root)
    stderr = failed(result, 2)
    assert "nb/secret.py:2: secret 'api-key' in scope 'kv' not found" in stderr
    assert "LOCKGATE_SECRET_KV_API_KEY" in stderr
    assert str(tmp_path / "no-secrets.yaml") in stderr
    shown = run_cli("runs", "show", run_id(result), cwd=root)
    assert "failed" in shown.stdout and "LOCKGATE_SECRET_KV_API_KEY" in shown.stdout


def test_secret_from_the_environment_is_redacted_in_logs(
    run_cli, write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_SECRET_KV_API_KEY", "s3cr3t-value")
    root = write_project({"pipelines/p.yaml": pipeline("use_secret:nb/secret.py"), "nb/secret.py": SECRET_NOTEBOOK})
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 0, result.output
    listing = run_cli("runs", cwd=root)
    run = re.search(r"\d{8}-\d{6}-[0-9a-f]+", listing.stdout)
    assert run, listing.output
    shown = run_cli("runs", "show", run.group(0), cwd=root)
    assert shown.exit_code == 0, shown.output
    assert "key ok: True" in shown.stdout  # the notebook got the value...
    assert "the key is [REDACTED]" in shown.stdout  # ...and the log does not show it
    assert "s3cr3t-value" not in result.output + shown.output


def test_secret_in_an_exit_value_or_an_error_is_redacted(
    run_cli, write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_SECRET_KV_API_KEY", "s3cr3t-value")
    leaky = databricks('key = dbutils.secrets.get("kv", "api-key")', 'raise ValueError(f"rejected key {key}")')
    root = write_project(
        {
            "pipelines/p.yaml": pipeline("use_secret:nb/secret.py", "leak:nb/leak.py"),
            "nb/secret.py": SECRET_NOTEBOOK,
            "nb/leak.py": leaky,
        }
    )
    result = run_cli("run", "p", cwd=root)
    stderr = failed(result, 1)
    assert "nb/leak.py:4: cell 2: ValueError: rejected key [REDACTED]" in stderr
    shown = run_cli("runs", "show", run_id(result), cwd=root)
    assert '{"runOutput": "[REDACTED]"}' in shown.stdout
    assert "rejected key [REDACTED]" in shown.stdout
    assert "s3cr3t-value" not in result.output + shown.output


# -- notebooks that raise ------------------------------------------------------------------------------------


def test_databricks_notebook_that_raises(run_cli, write_project: WriteProject) -> None:
    code = databricks(
        "x = 1",
        "# MAGIC %md\n# MAGIC A note",
        'def check(value):\n    raise ValueError(f"bad value {value}")\n\ncheck(x)',
    )
    # Lines: 1 header, 2 x = 1, 3 COMMAND, 4-5 markdown, 6 COMMAND, 7 def, 8 raise, 9 blank, 10 check(x)
    root = write_project({"pipelines/p.yaml": pipeline("load:nb/load.py", "after:nb/load.py"), "nb/load.py": code})
    (root / "pipelines/p.yaml").write_text(
        (root / "pipelines/p.yaml").read_text() + "    depends_on: [load]\n", encoding="utf-8"
    )
    result = run_cli("run", "p", cwd=root)
    stderr = failed(result, 1)
    assert "activity load failed:" in stderr
    assert "nb/load.py:8: cell 3: ValueError: bad value 1" in stderr
    shown = run_cli("runs", "show", run_id(result), cwd=root)
    assert shown.exit_code == 0, shown.output
    assert "load (notebook) · failed" in shown.stdout, shown.stdout
    assert "after (notebook) · skipped · dependency not met: load (failed, needed succeeded)" in shown.stdout
    assert "nb/load.py:8: cell 3: ValueError: bad value 1" in shown.stdout
    assert re.search(r"\bp\b.*failed", run_cli("runs", cwd=root).stdout)


def test_ipynb_notebook_that_raises_names_the_cell(run_cli, write_project: WriteProject) -> None:
    def code(*lines: str) -> dict[str, object]:
        return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": list(lines)}

    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title"]},
        code("x = 1\n"),
        code("y = 2\n", "raise RuntimeError('kaput')\n"),
    ]
    text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    root = write_project({"nb/j.ipynb": text})
    stderr = failed(run_cli("run", "nb/j.ipynb", cwd=root), 1)
    assert "nb/j.ipynb: cell 3, line 2: RuntimeError: kaput" in stderr


# -- SQL that does not parse ---------------------------------------------------------------------------------


SQL_NOTEBOOK = "-- a SQL notebook\nCREATE SCHEMA IF NOT EXISTS silver;\n\nSELECT * FROM WHERE x = 1;\n"
SQL_CELL_NOTEBOOK = databricks("x = 1", "# MAGIC %sql\n# MAGIC SELECT 1;\n# MAGIC SELEC 2 FROM t;")


def test_sql_that_does_not_parse_in_a_sql_notebook(run_cli, write_project: WriteProject) -> None:
    root = write_project({"pipelines/p.yaml": pipeline("q:nb/q.sql"), "nb/q.sql": SQL_NOTEBOOK})
    stderr = failed(run_cli("validate", cwd=root), 2)
    assert problems(stderr) == ["nb/q.sql:4:15: cannot parse SQL near 'WHERE': Expected table name but got 'WHERE'"]
    stderr = failed(run_cli("run", "p", cwd=root), 2)  # the run fails with SqlError's exit code
    assert "nb/q.sql:4:15: cannot parse SQL near 'WHERE'" in stderr


def test_sql_that_does_not_parse_in_a_sql_cell(run_cli, write_project: WriteProject) -> None:
    root = write_project({"pipelines/p.yaml": pipeline("m:nb/m.py"), "nb/m.py": SQL_CELL_NOTEBOOK})
    stderr = failed(run_cli("validate", cwd=root), 2)
    [problem] = problems(stderr)
    assert problem.startswith("nb/m.py:6:") and "cannot parse SQL" in problem
    stderr = failed(run_cli("run", "nb/m.py", cwd=root), 2)
    assert "nb/m.py:6:" in stderr and "cannot parse SQL" in stderr


def test_sql_error_column_in_a_magic_cell_is_the_file_column(run_cli, write_project: WriteProject) -> None:
    root = write_project({"pipelines/p.yaml": pipeline("m:nb/m.py"), "nb/m.py": SQL_CELL_NOTEBOOK})
    stderr = failed(run_cli("validate", cwd=root), 2)
    assert "nb/m.py:6:15: cannot parse SQL near '2'" in stderr  # `# MAGIC SELEC 2 FROM t;`: '2' is in column 15


# -- corrupt Delta tables ------------------------------------------------------------------------------------


def _run_demo(run_cli, demo_project: Path) -> Path:
    result = run_cli("run", "daily", cwd=demo_project)
    assert result.exit_code == 0, result.output
    return demo_project / ".lockgate/lake/dev"


def _count(run_cli, project: Path, table: str) -> int:
    result = run_cli("query", f"SELECT count(*) AS n FROM {table}", "-f", "csv", cwd=project)
    assert result.exit_code == 0, result.output
    return int(result.stdout.splitlines()[1])


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_delta_log(run_cli, demo_project: Path, damage: str) -> None:
    lake = _run_demo(run_cli, demo_project)
    encounters = _count(run_cli, demo_project, "silver.encounters")
    [log] = (lake / "silver/patients/_delta_log").glob("*.json")
    log.write_bytes(b'{"commitInfo": {"timestamp": 1}}\n{{{' if damage == "garbage" else b"")
    stderr = failed(run_cli("query", "SELECT count(*) FROM silver.patients", cwd=demo_project), 5)
    assert "error: table silver.patients at " in stderr
    assert "hint: restore the table's _delta_log from a backup, or remove the folder and rerun" in stderr
    assert _count(run_cli, demo_project, "silver.encounters") == encounters


def test_truncated_parquet_file(run_cli, demo_project: Path) -> None:
    lake = _run_demo(run_cli, demo_project)
    encounters = _count(run_cli, demo_project, "silver.encounters")
    [data] = (lake / "silver/patients").glob("*.parquet")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    stderr = failed(run_cli("query", "SELECT * FROM silver.patients", cwd=demo_project), 5)
    assert "table silver.patients: a table's data file is unreadable" in stderr and "silver/patients/" in stderr
    assert "hint: the table may be corrupt or truncated" in stderr
    result = run_cli("query", "SELECT count(*) AS n FROM silver.encounters", "-f", "csv", cwd=demo_project)
    assert result.exit_code == 0, result.output
    assert int(result.stdout.splitlines()[1]) == encounters
    assert result.stderr == ""  # a broken table another query does not read is not this query's problem


# -- a state database from a newer lockgate ------------------------------------------------------------------


def test_state_database_from_a_newer_lockgate(run_cli, write_project: WriteProject) -> None:
    root = write_project({"pipelines/p.yaml": pipeline("a:nb/a.py"), "nb/a.py": "print(1)\n"})
    assert run_cli("run", "p", cwd=root).exit_code == 0
    state = root / ".lockgate/state.db"
    with sqlite3.connect(state) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.close()
    before = state.read_bytes()
    for command in (["run", "p"], ["runs"], ["runs", "show", "x"], ["run", "nb/a.py"]):
        stderr = failed(run_cli(*command, cwd=root), 4)
        assert f"the state database {state} has schema revision 9999_from_the_future" in stderr
        assert "written by a newer lockgate" in stderr
        assert "hint: upgrade lockgate (pip install -U lockgate)" in stderr
    assert state.read_bytes() == before


# -- a failed run keeps earlier table versions ---------------------------------------------------------------


def _tables(lake: Path) -> dict[str, tuple[int, pa.Table]]:
    found = {}
    for path in sorted(lake.glob("*/*/_delta_log")):
        table = DeltaTable(str(path.parent))
        found[f"{path.parent.parent.name}.{path.parent.name}"] = (table.version(), table.to_pyarrow_table())
    return found


def test_failed_run_leaves_earlier_versions_intact(run_cli, demo_project: Path) -> None:
    lake = _run_demo(run_cli, demo_project)
    before = _tables(lake)
    assert {"bronze.patients", "silver.patients", "silver.encounters", "gold.patient_summary"} <= before.keys()
    silver = demo_project / "notebooks/silver/encounters.py"
    text = silver.read_text(encoding="utf-8")
    marker = 'encounters.write.mode("overwrite")'
    assert marker in text
    silver.write_text(text.replace(marker, 'raise RuntimeError("disk full")\n' + marker), encoding="utf-8")

    result = run_cli("run", "daily", cwd=demo_project)
    stderr = failed(result, 1)
    assert "notebooks/silver/encounters.py:" in stderr and "RuntimeError: disk full" in stderr

    after = _tables(lake)
    assert after.keys() == before.keys()
    for name, (version, rows) in before.items():
        # Every version the first run wrote still reads back the same rows.
        assert DeltaTable(str(lake / name.replace(".", "/")), version=version).to_pyarrow_table().equals(rows), name
    # Tables upstream of the failure got a new version; the failed one and those below it did not.
    assert after["bronze.patients"][0] == before["bronze.patients"][0] + 1
    for name in ("silver.encounters", "gold.patient_summary", "gold.encounters_by_month"):
        assert after[name][0] == before[name][0], name
    listing = run_cli("runs", cwd=demo_project).stdout
    assert run_id(result) in listing
    assert re.search(rf"{run_id(result)}.*failed", listing)
    shown = run_cli("runs", "show", run_id(result), cwd=demo_project).stdout
    assert "silver_encounters (notebook) · failed" in shown, shown
    assert "gold_patient_summary (notebook) · skipped" in shown, shown


def test_validate_reports_a_required_variable_an_environment_does_not_set(run_cli, write_project) -> None:
    root = write_project(
        {
            "lockgate.yaml": (
                "name: v\nvars:\n  bucket: {type: string}\n"
                "environments:\n  dev:\n    lake: .lockgate/lake/dev\n    vars: {bucket: dev-bucket}\n"
                "  prod:\n    lake: .lockgate/lake/prod\n"
            ),
        }
    )
    result = run_cli("validate", cwd=root)
    assert result.exit_code == 2
    assert "lockgate.yaml:8:3: variable 'bucket' has no value in environment 'prod'" in result.stderr


def test_an_environment_value_that_references_a_secret_reads_as_the_secret(
    run_cli, write_project: WriteProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_project(
        {
            "lockgate.yaml": "name: s\nvars:\n  api_key: {type: string, default: 'secret:api-key'}\n"
            "environments:\n  dev: {lake: lake}\n",
            "pipelines/p.yaml": "activities:\n  - name: use\n    type: notebook\n    notebook: nb/key.py\n"
            "    parameters: {key: '{{ env.vars.api_key }}'}\n",
            "nb/key.py": databricks(
                'key = dbutils.widgets.get("key")', 'print("the key is", key)\nassert key == "from-dev-scope"'
            ),
        }
    )
    missing = run_cli("run", "p", cwd=root)
    assert "secret 'api-key' in scope 'dev' not found" in failed(missing, 2)
    monkeypatch.setenv("LOCKGATE_SECRET_DEV_API_KEY", "from-dev-scope")
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 0, result.output
    run = re.search(r"\d{8}-\d{6}-[0-9a-f]+", result.output)
    assert run, result.output
    shown = run_cli("runs", "show", run.group(0), cwd=root)
    assert "the key is [REDACTED]" in shown.stdout
    assert "from-dev-scope" not in result.output + shown.output
