"""Releases: what a deploy would apply, hashed so that only real changes change a hash."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lockgate.errors import ConflictError
from lockgate.services.release import build_project_release


@pytest.fixture
def repo(demo_project: Path, git_commit: Callable[[Path, str], str]) -> Path:
    git_commit(demo_project, "first")
    return demo_project


def by_key(release) -> dict[str, object]:
    return {r.key: r for r in release.resources}


def test_environment_values_change_only_the_environment_resource(repo: Path) -> None:
    dev, prod = build_project_release(repo, "dev"), build_project_release(repo, "prod")
    assert dev.hash != prod.hash and dev.commit == prod.commit and not dev.dirty
    dev_resources, prod_resources = by_key(dev), by_key(prod)
    shared = (set(dev_resources) & set(prod_resources)) - {"trigger/nightly"}
    assert set(dev_resources) ^ set(prod_resources) == {"environment/dev", "environment/prod"}
    assert all(dev_resources[key].hash == prod_resources[key].hash for key in shared)
    assert dev_resources["trigger/nightly"].hash == prod_resources["trigger/nightly"].hash
    assert (dev_resources["trigger/nightly"].state, prod_resources["trigger/nightly"].state) == ("stopped", "started")
    assert prod_resources["environment/prod"].definition["vars"]["min_admit_year"] == 2023


def test_a_commit_builds_the_same_release_as_its_clean_tree(repo: Path, git_commit: Callable[[Path, str], str]) -> None:
    first = build_project_release(repo, "prod")
    notebook = repo / "notebooks/gold/patient_summary.py"
    notebook.write_text(notebook.read_text() + "\n# a change\n")
    with pytest.raises(ConflictError, match="protected"):
        build_project_release(repo, "prod")
    assert build_project_release(repo, "dev").dirty
    second_sha = git_commit(repo, "second")
    second = build_project_release(repo, "prod")
    assert second.commit == second_sha
    (repo / "pipelines/daily.yaml").write_text("activities: [")  # a broken working tree does not matter
    old = build_project_release(repo, "prod", commit=first.commit)
    assert old.hash == first.hash
    second = build_project_release(repo, "prod", commit=second_sha)
    changed = {k for k, r in by_key(second).items() if by_key(old)[k].hash != r.hash}
    assert changed == {"notebook/notebooks/gold/patient_summary.py"}


def test_formatting_and_key_order_do_not_change_hashes(repo: Path) -> None:
    before = build_project_release(repo, "dev")
    pipeline = repo / "pipelines/daily.yaml"
    pipeline.write_text("# reformatted\n" + pipeline.read_text().replace("description:", "description: ") + "\n\n")
    assert by_key(build_project_release(repo, "dev"))["pipeline/daily"].hash == by_key(before)["pipeline/daily"].hash


def test_cli_build_json_and_errors(run_cli, repo: Path) -> None:
    result = run_cli("build", "--env", "prod", "--format", "json", cwd=repo)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["environment"] == "prod" and len(document["hash"]) == 64
    assert {r["kind"] for r in document["resources"]} == {"environment", "pipeline", "notebook", "trigger"}
    missing = run_cli("build", "--env", "prod", "--commit", "nosuch", cwd=repo)
    assert missing.exit_code == 2 and "Git revision 'nosuch' does not exist" in missing.stderr
    (repo / "pipelines/daily.yaml").write_text((repo / "pipelines/daily.yaml").read_text() + "\n# edit\n")
    dirty = run_cli("build", "--env", "prod", cwd=repo)
    assert dirty.exit_code == 3 and "uncommitted changes" in dirty.stderr


def test_outside_git_builds_without_a_commit_and_refuses_commit_option(run_cli, demo_project: Path) -> None:
    assert build_project_release(demo_project, "prod").commit is None
    result = run_cli("build", "--commit", "HEAD", cwd=demo_project)
    assert result.exit_code == 2 and "not in a Git repository" in result.stderr
