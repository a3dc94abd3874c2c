"""The deploy story of docs/deploy.md, through the CLI, on SQLite and PostgreSQL state."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

RunCli = Callable[..., Any]  # the run_cli fixture: returns a Any


@pytest.fixture
def repo(
    demo_project: Path, git_commit: Callable[[Path, str], str], state_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    git_commit(demo_project, "init")
    monkeypatch.setenv("LOCKGATE_STATE_URL", state_url)
    monkeypatch.setenv("LOCKGATE_USER", "ana")
    return demo_project


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr + result.stdout
    return result


def json_out(result: Any) -> object:
    return json.loads(ok(result).stdout)


def test_deploy_change_plan_deploy_rollback_history(
    repo: Path, run_cli: RunCli, git_commit: Callable[[Path, str], str]
) -> None:
    for env in ("dev", "test", "prod"):
        ok(run_cli("deploy", "--env", env, "--yes", cwd=repo))
    first = json_out(run_cli("status", "--env", "prod", "-f", "json"))
    assert first["triggers"] == {"nightly": {"state": "started", "set_by": "deploy", "actor": "deployment #3"}}
    dev_status = json_out(run_cli("status", "--env", "dev", "-f", "json"))
    assert dev_status["triggers"]["nightly"]["state"] == "stopped"

    notebook = repo / "notebooks/silver/encounters.py"
    notebook.write_text(notebook.read_text() + "\n# keep only real encounters\n")
    trigger = repo / "triggers/nightly.yaml"
    trigger.write_text(trigger.read_text().replace('cron: "0 2 * * *"', 'cron: "30 3 * * *"'))
    git_commit(repo, "change a notebook and the nightly cron")

    plan = json_out(run_cli("plan", "--env", "prod", "--format", "json"))
    changed = [(c["kind"], c["name"], c["action"], c["reasons"]) for c in plan["changes"] if c["action"] != "unchanged"]
    assert changed == [
        ("notebook", "notebooks/silver/encounters.py", "update", ["definition"]),
        ("trigger", "nightly", "update", ["schedule"]),
    ]
    assert [(t["name"], t["action"]) for t in plan["triggers"]] == [("nightly", "pause and resume")]
    assert plan["drift"] == []

    deployed = ok(run_cli("deploy", "--env", "prod", "--yes", cwd=repo))
    assert "2 updated" in deployed.stdout and "nightly: pause and resume" in deployed.stdout
    rolled_back = ok(run_cli("rollback", "--env", "prod", "--yes"))
    assert "Rollback #5 to prod" in rolled_back.stdout

    history = json_out(run_cli("history", "--env", "prod", "-f", "json"))
    assert [(h["id"], h["action"], h["status"]) for h in history] == [
        (5, "rollback", "succeeded"),
        (4, "deploy", "succeeded"),
        (3, "deploy", "succeeded"),
    ]
    assert history[2]["release_hash"] == history[0]["release_hash"] != history[1]["release_hash"]
    assert history[1]["triggers_before"] == history[1]["triggers_after"] == {"nightly": "started"}
    assert history[0]["note"] == "rollback to deployment #3"
    assert history[0]["user"] == "ana"
    after = json_out(run_cli("status", "--env", "prod", "-f", "json"))
    assert after["deployment"]["release_hash"] == first["deployment"]["release_hash"]
    assert after["triggers"]["nightly"]["state"] == "started"
    # Back on the first release, the plan from Git shows the same two changes again, and nothing else.
    again = json_out(run_cli("plan", "--env", "prod", "-f", "json"))
    assert sum(c["action"] == "update" for c in again["changes"]) == 2


def test_promote_deploys_the_commit_the_source_runs(
    repo: Path, run_cli: RunCli, git_commit: Callable[[Path, str], str]
) -> None:
    ok(run_cli("deploy", "--env", "test", cwd=repo))
    tested = json_out(run_cli("status", "--env", "test", "-f", "json"))["deployment"]["commit"]
    (repo / "notebooks/gold/patient_summary.py").write_text("# not tested yet\n")
    git_commit(repo, "untested")

    promoted = ok(run_cli("promote", "--from", "test", "--to", "staging", "--yes"))
    assert "Promote #2 to staging" in promoted.stdout
    staging = json_out(run_cli("status", "--env", "staging", "-f", "json"))["deployment"]
    assert staging["commit"] == tested
    assert staging["note"].startswith("promoted from test (deployment #1")


def test_operator_pause_survives_deploys_and_hand_starts_are_drift(
    repo: Path, run_cli: RunCli, git_commit: Callable[[Path, str], str]
) -> None:
    ok(run_cli("deploy", "--env", "prod", "--yes", cwd=repo))
    ok(run_cli("deploy", "--env", "dev"))
    ok(run_cli("trigger", "pause", "nightly", "--env", "prod"))
    ok(run_cli("trigger", "resume", "nightly", "--env", "dev"))  # Git has it stopped in dev

    drift = run_cli("drift")
    assert drift.exit_code == 1
    assert "dev: 1 change outside a deploy" in drift.stdout
    assert "trigger/nightly: started by hand by ana; Git has it stopped here" in drift.stdout
    assert "prod: no drift" in drift.stdout

    trigger = repo / "triggers/nightly.yaml"
    trigger.write_text(trigger.read_text().replace('cron: "0 2 * * *"', 'cron: "0 4 * * *"'))
    git_commit(repo, "later")
    ok(run_cli("deploy", "--env", "prod", "--yes"))
    assert json_out(run_cli("status", "--env", "prod", "-f", "json"))["triggers"]["nightly"]["state"] == "stopped"
    ok(run_cli("deploy", "--env", "prod", "--yes", "--resume-all"))
    assert json_out(run_cli("status", "--env", "prod", "-f", "json"))["triggers"]["nightly"]["state"] == "started"

    restored = ok(run_cli("deploy", "--env", "dev"))
    assert "drift undone, Git wins" in restored.stdout
    assert run_cli("drift", "--env", "dev").exit_code == 0
    assert json_out(run_cli("status", "--env", "dev", "-f", "json"))["triggers"]["nightly"]["state"] == "stopped"


def test_saved_plan_deploys_once_then_is_stale(repo: Path, run_cli: RunCli, tmp_path: Path) -> None:
    saved = tmp_path / "prod.plan.json"
    ok(run_cli("plan", "--env", "prod", "--out", str(saved), cwd=repo))
    ok(run_cli("deploy", "--env", "prod", "--plan", str(saved), "--yes"))
    stale = run_cli("deploy", "--env", "prod", "--plan", str(saved), "--yes")
    assert stale.exit_code == 3
    assert "changed since the plan was made" in stale.stderr


def test_approval_is_required_where_configured(
    repo: Path, run_cli: RunCli, git_commit: Callable[[Path, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(run_cli("deploy", "--env", "prod", "--yes", cwd=repo))
    config = repo / "lockgate.yaml"
    config.write_text(
        config.read_text().replace("protected: true, vars:", "protected: true, require_approval: true, vars:")
    )
    git_commit(repo, "prod needs approvals")
    refused = run_cli("deploy", "--env", "prod", "--yes")
    assert refused.exit_code == 3 and "need an approved plan" in refused.stderr
    plan_hash = json_out(run_cli("plan", "--env", "prod", "-f", "json"))["plan_hash"]
    assert run_cli("approve", "--env", "prod", "not-a-hash").exit_code == 2
    ok(run_cli("approve", "--env", "prod", plan_hash[:12]))
    self_approved = run_cli("deploy", "--env", "prod")
    assert self_approved.exit_code == 3 and "approvals need a second person" in self_approved.stderr
    monkeypatch.setenv("LOCKGATE_USER", "bo")
    ok(run_cli("approve", "--env", "prod", plan_hash))
    monkeypatch.setenv("LOCKGATE_USER", "ana")
    # An approval stands for the confirmation: no --yes needed, even without a terminal.
    ok(run_cli("deploy", "--env", "prod"))
    assert json_out(run_cli("history", "--env", "prod", "-f", "json"))[0]["plan_hash"] == plan_hash
    # The rule holds for a rollback to a release from before it existed, and for a commit that drops it.
    refused = run_cli("rollback", "--env", "prod", "--yes")
    assert refused.exit_code == 3 and "need an approved plan" in refused.stderr
    config.write_text(config.read_text().replace(" require_approval: true,", ""))
    git_commit(repo, "no more approvals")
    refused = run_cli("deploy", "--env", "prod", "--yes")
    assert refused.exit_code == 3 and "need an approved plan" in refused.stderr


def test_a_saved_plan_inside_the_project_does_not_make_the_tree_dirty(repo: Path, run_cli: RunCli) -> None:
    ok(run_cli("plan", "--env", "prod", "--out", "prod-plan.json", cwd=repo))
    (repo / "plan.md").write_text(run_cli("plan", "--env", "prod", "-f", "markdown").stdout)
    ok(run_cli("deploy", "--env", "prod", "--plan", "prod-plan.json", "--yes"))
    (repo / "scratch.py").write_text("print('not committed')\n")
    dirty = run_cli("plan", "--env", "prod")
    assert dirty.exit_code == 3 and "uncommitted changes" in dirty.stderr
