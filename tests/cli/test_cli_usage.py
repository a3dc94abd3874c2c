"""Command-line usage errors, settings errors and the read-only query, through the real entry point."""

from __future__ import annotations

from pathlib import Path


def test_usage_errors_exit_2_with_typer_message(run_cli, demo_project: Path) -> None:
    missing = run_cli("run", cwd=demo_project)
    assert missing.exit_code == 2 and "give a pipeline or notebook to run, or --rerun RUN_ID" in missing.stderr
    bad_choice = run_cli("query", "select 1", "--dialect", "postgres", cwd=demo_project)
    assert bad_choice.exit_code == 2 and "--dialect" in bad_choice.stderr
    assert "Traceback" not in missing.output + bad_choice.output


def test_bad_setting_names_the_variable(run_cli, demo_project: Path, monkeypatch) -> None:
    monkeypatch.setenv("LOCKGATE_MAX_PARALLEL", "0")
    result = run_cli("run", "daily", cwd=demo_project)
    assert result.exit_code == 2
    assert "LOCKGATE_MAX_PARALLEL" in result.stderr and "hint:" in result.stderr


def test_query_refuses_writes(run_cli, demo_project: Path) -> None:
    result = run_cli("query", "DROP TABLE gold.patient_summary", cwd=demo_project)
    assert result.exit_code == 2 and "only reads" in result.stderr


def test_help_lists_every_command(run_cli) -> None:
    result = run_cli("--help")
    assert result.exit_code == 0
    for command in ("init", "run", "query", "validate", "schema", "runs"):
        assert command in result.stdout
