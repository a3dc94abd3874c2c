"""Deploy commands on bad input and faults: a clear error with the fix, and nothing changed."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lockgate.state import StateStore

RunCli = Callable[..., Any]  # the run_cli fixture: returns a Any


@pytest.fixture
def shop(
    fixture_project: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, state_url: str
) -> Iterator[Path]:
    monkeypatch.setenv("LOCKGATE_SECRET_PROD_WAREHOUSE_PASSWORD", "hunter2")
    monkeypatch.setenv("LOCKGATE_SECRET_DEV_WAREHOUSE_PASSWORD", "hunter3")
    monkeypatch.setenv("LOCKGATE_STATE_URL", state_url)
    root = fixture_project("shop")
    monkeypatch.chdir(root)
    yield root


def history(run_cli: RunCli, env: str = "prod") -> list[dict[str, object]]:
    result = run_cli("history", "--env", env, "-f", "json")
    assert result.exit_code == 0, result.stderr
    return list(json.loads(result.stdout))


def test_unknown_environment_suggests_the_right_one(shop: Path, run_cli: RunCli) -> None:
    for command in (["plan"], ["deploy", "--yes"], ["rollback", "--yes"], ["history"], ["status"], ["drift"]):
        result = run_cli(*command, "--env", "prdo")
        assert result.exit_code == 2, command
        assert "unknown environment 'prdo'" in result.stderr and "did you mean 'prod'?" in result.stderr


def test_a_missing_secret_is_named_with_where_to_set_it(
    shop: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LOCKGATE_SECRET_PROD_WAREHOUSE_PASSWORD")
    for command in (["plan"], ["deploy", "--yes"]):
        result = run_cli(*command, "--env", "prod")
        assert result.exit_code == 2
        assert "prod/warehouse_password (used by environment/prod)" in result.stderr
        assert "LOCKGATE_SECRET_PROD_WAREHOUSE_PASSWORD" in result.stderr
        assert "hunter" not in result.stderr + result.stdout
    assert history(run_cli) == []


def test_a_protected_environment_without_terminal_or_yes_is_refused(shop: Path, run_cli: RunCli) -> None:
    config = shop / "lockgate.yaml"
    config.write_text(config.read_text().replace("prod: {lake:", "prod: {protected: true, lake:"))
    result = run_cli("deploy", "--env", "prod")
    assert result.exit_code == 2
    assert "needs confirmation, and there is no terminal to ask" in result.stderr and "--yes" in result.stderr
    assert history(run_cli) == []


def test_saved_plans_of_another_project_or_release_are_refused(
    shop: Path, run_cli: RunCli, tmp_path: Path, write_project: Callable[[dict[str, str]], Path]
) -> None:
    saved = tmp_path / "plan.json"
    assert run_cli("plan", "--env", "prod", "--out", str(saved)).exit_code == 0

    other = write_project(
        {"lockgate.yaml": "name: other\ndefault_environment: prod\nenvironments:\n  prod: {lake: lake}\n"}
    )
    result = run_cli("deploy", "--plan", str(saved), "--yes", cwd=other)
    assert result.exit_code == 2 and "is a plan of project 'shop', not of 'other'" in result.stderr

    (shop / "notebooks/orders_silver.py").write_text("# Databricks notebook source\nprint('changed')\n")
    result = run_cli("deploy", "--plan", str(saved), "--yes", cwd=shop)
    assert result.exit_code == 3 and "was made for release" in result.stderr and "make a new plan" in result.stderr

    result = run_cli("deploy", "--env", "dev", "--plan", str(saved), "--yes")
    assert result.exit_code == 2 and "is a plan for environment 'prod', not 'dev'" in result.stderr

    saved.write_text("# Plan\nnot json")
    result = run_cli("deploy", "--plan", str(saved), "--yes")
    assert result.exit_code == 2 and "is not a saved plan: not JSON" in result.stderr
    saved.write_text('{"format": "terraform"}')
    result = run_cli("deploy", "--plan", str(saved), "--yes")
    assert result.exit_code == 2 and "it says 'terraform'" in result.stderr
    assert history(run_cli) == []


def test_a_held_lock_fails_at_once_naming_the_holder(shop: Path, run_cli: RunCli, state_url: str) -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        holder = "lockgate deploy by bo@ci (pid 99)"
        with StateStore.open(state_url) as store, store.deploy_transaction("prod", timeout=5, holder=holder):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        result = run_cli("deploy", "--env", "prod", "--yes", "--lock-timeout", "0")
    finally:
        release.set()
        holder.join()
    assert result.exit_code == 3
    assert "is held by lockgate deploy by bo@ci (pid 99)" in result.stderr
    assert "--lock-timeout" in result.stderr
    assert history(run_cli) == []
    assert run_cli("deploy", "--env", "prod", "--yes", "--lock-timeout", "0").exit_code == 0


def test_a_git_revision_that_does_not_exist(
    shop: Path, run_cli: RunCli, git_commit: Callable[[Path, str], str]
) -> None:
    git_commit(shop, "init")
    for command in (["plan"], ["deploy", "--yes"]):
        result = run_cli(*command, "--env", "prod", "--commit", "no-such-branch")
        assert result.exit_code == 2, result.stderr
        assert "no-such-branch" in result.stderr
    assert history(run_cli) == []


def test_nothing_to_roll_back_or_promote(shop: Path, run_cli: RunCli) -> None:
    result = run_cli("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 2 and "nothing is deployed to 'prod' yet" in result.stderr
    assert run_cli("deploy", "--env", "prod", "--yes").exit_code == 0
    result = run_cli("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 2 and "nothing to roll back to" in result.stderr
    result = run_cli("rollback", "--env", "prod", "--to", "42", "--yes")
    assert result.exit_code == 2 and "no deployment #42" in result.stderr
    result = run_cli("promote", "--from", "dev", "--to", "prod", "--yes")
    assert result.exit_code == 2 and "nothing is deployed to 'dev' yet" in result.stderr
    result = run_cli("promote", "--from", "prod", "--to", "dev", "--yes")
    assert result.exit_code == 3 and "built from uncommitted changes" in result.stderr
    result = run_cli("trigger", "pause", "nope", "--env", "prod")
    assert result.exit_code == 2 and "trigger 'nope' is not deployed to 'prod'" in result.stderr
    assert len(history(run_cli)) == 1


def test_a_corrupt_state_database_is_refused_and_left_alone(
    fixture_project: Callable[[str], Path], run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGATE_SECRET_PROD_WAREHOUSE_PASSWORD", "x")
    root = fixture_project("shop")
    database = root / ".lockgate" / "state.db"
    database.parent.mkdir()
    database.write_bytes(b"this is not a database" * 100)
    result = run_cli("deploy", "--env", "prod", "--yes", cwd=root)
    assert result.exit_code == 4
    assert "not a lockgate state database or is corrupt" in result.stderr and "move" in result.stderr
    assert database.read_bytes() == b"this is not a database" * 100


def test_another_project_cannot_deploy_over_an_environment(
    shop: Path, run_cli: RunCli, write_project: Callable[[dict[str, str]], Path]
) -> None:
    assert run_cli("deploy", "--env", "prod", "--yes").exit_code == 0
    other = write_project(
        {"lockgate.yaml": "name: other\ndefault_environment: prod\nenvironments:\n  prod: {lake: lake}\n"}
    )
    result = run_cli("deploy", "--env", "prod", "--yes", cwd=other)
    assert result.exit_code == 3
    assert "environment 'prod' in this state database runs project 'shop', not 'other'" in result.stderr
    assert len(history(run_cli)) == 1
