"""A pytest plugin that runs lockgate unit tests (`tests/**/*.yaml` of a lockgate project) as pytest items.

Installed with lockgate (entry point `pytest11`), so `pytest` in a lockgate project collects its YAML tests
next to any Python ones: one item per test, its failure shown as the row diff `lockgate test` prints. A YAML
file is collected only below a `tests/` folder whose parent holds `lockgate.yaml`, so other projects' YAML
files (and lockgate's own test fixtures outside such folders) are left alone. Declared table checks are not
items: they read an environment's data, which is `lockgate test`'s job.

Lockgate's services load on the first YAML test collected, not when pytest starts, so the plugin costs
nothing in projects that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lockgate.errors import Problem
    from lockgate.services.testing import CaseResult, UnitTestRunner
    from lockgate.services.unit_test_run import UnitTestSource

PROJECT_FILE = "lockgate.yaml"
TESTS_DIR = "tests"
_RUNNERS = pytest.StashKey[dict[Path, "UnitTestRunner"]]()
_SOURCES = pytest.StashKey[dict[Path, tuple[list["UnitTestSource"], list["Problem"]]]]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A :class:`LockgateYamlFile` for a YAML file below a lockgate project's `tests/` folder."""
    if file_path.suffix not in (".yaml", ".yml") or project_root(file_path) is None:
        return None
    collector: pytest.Collector = LockgateYamlFile.from_parent(parent, path=file_path)
    return collector


def project_root(path: Path) -> Path | None:
    """The project whose `tests/` folder holds ``path`` (hidden folders excluded), or None."""
    for folder in path.parents:
        if folder.name.startswith("."):
            return None
        if folder.name == TESTS_DIR and (folder.parent / PROJECT_FILE).is_file():
            return folder.parent
    return None


class LockgateYamlFile(pytest.File):
    """One test file: an item per test in it."""

    def collect(self) -> Iterator[pytest.Item]:
        from lockgate.errors import ProjectError

        root = project_root(self.path)
        assert root is not None  # pytest_collect_file made this collector only for such files
        sources, problems = _sources(self.config, root)
        mine = [problem for problem in problems if problem.location and root / problem.location.file == self.path]
        if mine:
            raise ProjectError(mine)
        for source in sources:
            if (root / source.file).resolve() == self.path.resolve():
                item: pytest.Item = LockgateTestItem.from_parent(self, name=source.name, source=source, root=root)
                yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from lockgate.errors import LockgateError

        if isinstance(excinfo.value, LockgateError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class LockgateTestFailure(Exception):
    """A unit test failed or erred: carries its result for :meth:`LockgateTestItem.repr_failure`."""

    def __init__(self, case: CaseResult):
        super().__init__(case.message)
        self.case = case


class LockgateTestItem(pytest.Item):
    """One unit test, run by the project's shared :class:`~lockgate.services.testing.UnitTestRunner`."""

    def __init__(self, *, source: UnitTestSource, root: Path, **kwargs: Any):
        super().__init__(**kwargs)
        self.source = source
        self.root = root

    def runtest(self) -> None:
        case = _runner(self.config, self.root).run(self.source)
        if case.status.value in ("failed", "error"):
            raise LockgateTestFailure(case)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, LockgateTestFailure):
            case = excinfo.value.case
            if not case.detail or case.detail.startswith(case.message):
                return case.detail or case.message
            return f"{case.message}\n{case.detail}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        line = self.source.locate().line
        return self.path, (line - 1 if line else None), f"lockgate test {self.name}"


def _sources(config: pytest.Config, root: Path) -> tuple[list[UnitTestSource], list[Problem]]:
    """The project's valid unit tests and the problems of the others, loaded once per session."""
    from lockgate.services.project import load_project
    from lockgate.services.testing import find_unit_tests

    loaded = config.stash.setdefault(_SOURCES, {})
    if root not in loaded:
        loaded[root] = find_unit_tests(load_project(root))
    return loaded[root]


def _runner(config: pytest.Config, root: Path) -> UnitTestRunner:
    """The session's runner for the project at ``root`` (its scratch folder is removed when pytest ends)."""
    from lockgate.services.project import load_project
    from lockgate.services.testing import UnitTestRunner

    runners = config.stash.setdefault(_RUNNERS, {})
    if root not in runners:
        runners[root] = UnitTestRunner(load_project(root))
        config.add_cleanup(runners[root].close)
    return runners[root]
