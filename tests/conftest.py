"""Shared fixtures: run the CLI through its real error boundary, and make projects to run it on."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lockgate.cli import main
from lockgate.cli.options import CliState

FIXTURES = Path(__file__).parent / "fixtures"
_MARKERS_THAT_ARE_SLOW = {"slow", "spark", "postgres", "browser"}


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., CliResult]:
    """Run `lockgate ARGS...` in ``cwd`` through `lockgate.cli.main`, returning exit code and output."""

    def invoke(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["lockgate", *args])
        monkeypatch.setenv("COLUMNS", "200")
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            CliState.current = None
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from lockgate.services.scaffold import init_project

    root = tmp_path_factory.mktemp("template") / "demo"
    init_project(root, rows=300)
    return root


@pytest.fixture
def demo_project(_demo_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the `lockgate init` project (small data set), not yet run."""
    target = tmp_path / "demo"
    shutil.copytree(_demo_template, target)
    return target


@pytest.fixture
def fixture_project(tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of `tests/fixtures/projects/<name>`."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / "projects" / name, target)
        return target

    return copy


@pytest.fixture
def write_project(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A project made of the given files (path -> text); `lockgate.yaml` gets a default if missing."""

    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "project"
        files = {"lockgate.yaml": DEFAULT_PROJECT_YAML, **files}
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return root

    return write


DEFAULT_PROJECT_YAML = """\
name: sample
environments:
  dev: {lake: .lockgate/lake/dev}
  prod: {lake: .lockgate/lake/prod, protected: true}
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(name) for name in _MARKERS_THAT_ARE_SLOW):
            item.add_marker("fast")


@pytest.fixture(autouse=True)
def _isolated_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's own secrets file or state settings."""
    monkeypatch.setenv("LOCKGATE_SECRETS_FILE", str(tmp_path / "no-secrets.yaml"))
    monkeypatch.delenv("LOCKGATE_STATE_URL", raising=False)
    yield
