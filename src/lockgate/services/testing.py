"""`lockgate test`: the project's unit tests (`tests/**/*.yaml`) and the checks its tables declare, as one suite.

Key contracts:
- :func:`load_unit_tests` reads every test file and reports every problem at once (``file:line:col``), as
  :func:`~lockgate.services.project.load_project` does; nothing runs while a test file is invalid.
- Each unit test runs in a scratch environment of its own (an empty lake under `.lockgate/test/`, removed
  afterwards) through the public runner, recorded in a scratch state store, never the project's.
- A test *fails* when the tables differ from what it expects (or a run expected to fail succeeds); it is an
  *error* when it cannot be judged: the run failed unexpectedly, a given table cannot be written.
- Declared checks run on the tables of an environment (the default one unless told): a table not built there is
  skipped, a failed `warn` check is reported and passes.
- Results are data (:class:`SuiteResult`); printing is the CLI's job and JUnit XML :mod:`lockgate.services.junit`'s.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from lockgate.engine import get_engine
from lockgate.engine.base import EngineSession, LakeTarget
from lockgate.errors import LockgateError, NotFoundError, Problem, ProjectError, SourceLocation, TableNotFoundError
from lockgate.model.checks import Check
from lockgate.model.project import resolve_environment
from lockgate.model.suggest import did_you_mean, format_choices
from lockgate.model.unit_test import UnitTest, UnitTestFile, find_unit_test_problems
from lockgate.model.yamlerrors import validate_document
from lockgate.model.yamlsource import YamlDocument, YamlPath, parse_yaml
from lockgate.services.checks import evaluate_check, quote_table, render_check_results
from lockgate.services.project import Project
from lockgate.services.settings import Settings
from lockgate.services.unit_test_run import UnitTestSource, run_unit_test
from lockgate.state import StateStore

__all__ = [
    "TESTS_DIR",
    "CaseResult",
    "CaseStatus",
    "SuiteResult",
    "UnitTestRunner",
    "UnitTestSource",
    "find_unit_tests",
    "is_selected",
    "load_unit_tests",
    "run_table_checks",
    "run_test_suite",
]

TESTS_DIR = "tests"
SCRATCH_DIR = ".lockgate/test"


class CaseStatus(StrEnum):
    passed = "passed"
    warned = "warned"
    """A `warn` check that failed: reported, not a failure."""
    failed = "failed"
    error = "error"
    skipped = "skipped"


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One unit test or one check, as it ended."""

    kind: str
    """`test` or `check`."""
    name: str
    group: str
    """The test's file, or `checks.<schema.table>` (JUnit's classname)."""
    status: CaseStatus
    seconds: float = 0.0
    message: str = ""
    """One line: why it failed, erred, was skipped or warned."""
    detail: str = ""
    """The row diff, the error with its hint, the failing rows of a check."""
    location: SourceLocation | None = None


@dataclass(frozen=True, slots=True)
class SuiteResult:
    cases: tuple[CaseResult, ...]
    seconds: float

    def count(self, status: CaseStatus) -> int:
        return sum(1 for case in self.cases if case.status == status)

    @property
    def ok(self) -> bool:
        """No failure and no error (skipped and warned cases are fine)."""
        return not any(case.status in (CaseStatus.failed, CaseStatus.error) for case in self.cases)


ResultSink = Callable[[CaseResult], None]


# -- loading ------------------------------------------------------------------------------------------------


def load_unit_tests(project: Project) -> list[UnitTestSource]:
    """Every unit test in the project's `tests/` folder (sub-folders too), in file order.

    Raises:
        ProjectError: a test file is invalid (every problem of every file, each at its place).
    """
    tests, problems = find_unit_tests(project)
    if problems:
        raise ProjectError(problems)
    return tests


def find_unit_tests(project: Project) -> tuple[list[UnitTestSource], list[Problem]]:
    """The valid unit tests, and the problems of the invalid ones (each file's in file order)."""
    problems: list[Problem] = []
    tests: list[UnitTestSource] = []
    for file in unit_test_files(project.root):
        relative = file.relative_to(project.root).as_posix()
        try:
            document = parse_yaml(file.read_text(encoding="utf-8"), file=relative)
        except ProjectError as exc:
            problems += exc.problems
            continue
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(f"{relative} cannot be read: {exc}", SourceLocation(relative)))
            continue
        found, file_problems = _file_tests(project, file, document)
        tests += found
        problems += sorted(file_problems, key=_position)
    problems += _duplicate_names(tests)
    return tests, problems


def unit_test_files(root: Path) -> list[Path]:
    """The YAML files under `tests/`, hidden folders skipped, sorted by path."""
    folder = root / TESTS_DIR
    files = [*folder.rglob("*.yaml"), *folder.rglob("*.yml")]
    return sorted(file for file in files if not any(part.startswith(".") for part in file.relative_to(root).parts))


def _file_tests(project: Project, file: Path, document: YamlDocument) -> tuple[list[UnitTestSource], list[Problem]]:
    if "tests" in document.data:
        parsed, problems = validate_document(document, UnitTestFile)
        if parsed is None:
            return [], problems
        entries: list[tuple[UnitTest, YamlPath]] = [(test, ("tests", i)) for i, test in enumerate(parsed.tests)]
    else:
        single, problems = validate_document(document, UnitTest)
        if single is None:
            return [], problems
        entries = [(single, ())]
    tests: list[UnitTestSource] = []
    for test, path in entries:
        source = UnitTestSource(test.name or file.stem, document.file, file.parent, test, document, path)
        found = find_unit_test_problems(test, document.locate, path) + _reference_problems(project, source)
        if test.name is None and path:
            found.append(Problem("a test under `tests:` needs a `name`", document.locate(path), "add `name: ...`"))
        problems += found
        if not found:
            tests.append(source)
    return tests, problems


def _reference_problems(project: Project, source: UnitTestSource) -> list[Problem]:
    """Unknown notebooks and pipelines, missing fixture files: each at the value that names them."""
    test = source.test
    problems: list[Problem] = []
    if test.notebook is not None:
        try:
            project.notebook_path(test.notebook)
        except NotFoundError as exc:
            problems.append(Problem(exc.message, source.document.locate_value((*source.path, "notebook")), exc.hint))
    if test.pipeline is not None and test.pipeline not in project.pipelines:
        suggestion = did_you_mean(test.pipeline, project.pipelines)
        problems.append(
            Problem(
                f"unknown pipeline {test.pipeline!r}",
                source.document.locate_value((*source.path, "pipeline")),
                (f"did you mean {suggestion!r}? " if suggestion else "")
                + f"pipelines: {format_choices(sorted(project.pipelines)) or 'none'}",
            )
        )
    for section, tables in (("given", test.given), ("expect", test.expect)):
        for table, data in tables.items():
            if data.file is not None and not (source.folder / data.file).is_file():
                where = source.document.locate_value((*source.path, section, table, "file"))
                shown = os.path.relpath(source.folder / data.file, project.root)
                hint = "fixture paths are relative to the test file's folder"
                problems.append(Problem(f"fixture file {shown} does not exist", where, hint))
    return problems


def _duplicate_names(tests: list[UnitTestSource]) -> list[Problem]:
    seen: dict[str, UnitTestSource] = {}
    problems: list[Problem] = []
    for source in tests:
        first = seen.setdefault(source.name, source)
        if first is not source:
            where = source.locate("name") if source.test.name else source.locate()
            hint = f"the first is in {first.file}; give one a different `name:`"
            problems.append(Problem(f"duplicate test name {source.name!r}", where, hint))
    return problems


def _position(problem: Problem) -> tuple[int, int]:
    location = problem.location
    return (location.line or 0, location.col or 0) if location else (0, 0)


def is_selected(names: Iterable[str], patterns: Sequence[str]) -> bool:
    """Whether any of ``names`` matches a pattern: a glob (`gold_*`) or else a substring, any case."""
    if not patterns:
        return True
    for name in names:
        for pattern in patterns:
            wanted, candidate = pattern.lower(), name.lower()
            if any(char in wanted for char in "*?[") and fnmatch.fnmatchcase(candidate, wanted):
                return True
            if wanted in candidate:
                return True
    return False


# -- running ------------------------------------------------------------------------------------------------


class UnitTestRunner:
    """Runs unit tests of one project: one scratch folder and state store, one lake per test (both removed)."""

    def __init__(
        self,
        project: Project,
        *,
        engine: str | None = None,
        environment: str | None = None,
        settings: Settings | None = None,
    ):
        self.project = project
        self.engine = engine
        self.environment = environment or project.config.default_environment
        resolve_environment(project.config, self.environment)  # an unknown environment fails before any test
        self.settings = settings or Settings()
        parent = project.root / SCRATCH_DIR
        parent.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="session-", dir=parent))
        self._store: StateStore | None = None

    @property
    def store(self) -> StateStore:
        if self._store is None:
            self._store = StateStore.open(f"sqlite:///{self.root / 'state.db'}")
        return self._store

    def run(self, source: UnitTestSource) -> CaseResult:
        """Run one test in a fresh scratch lake."""
        lake = Path(tempfile.mkdtemp(prefix=f"{_safe(source.name)}-", dir=self.root))
        started = time.perf_counter()
        try:
            outcome = run_unit_test(
                self.project,
                source,
                lake=lake,
                store=self.store,
                engine=self.engine,
                environment=self.environment,
                settings=self.settings,
            )
        finally:
            shutil.rmtree(lake, ignore_errors=True)
        return CaseResult(
            "test",
            source.name,
            source.file,
            CaseStatus(outcome.status),
            time.perf_counter() - started,
            outcome.message,
            outcome.detail,
            outcome.location,
        )

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> UnitTestRunner:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _safe(name: str) -> str:
    return "".join(char if char.isalnum() or char in "-_" else "_" for char in name)[:40] or "test"


@dataclass
class _Selection:
    tests: list[UnitTestSource]
    tables: list[str] = field(default_factory=list)


def run_test_suite(
    project: Project,
    *,
    select: Sequence[str] = (),
    engine: str | None = None,
    environment: str | None = None,
    settings: Settings | None = None,
    checks: bool = True,
    on_result: ResultSink | None = None,
) -> SuiteResult:
    """Run the selected unit tests, then the selected tables' declared checks on ``environment``.

    Raises:
        ProjectError: a test file is invalid.
        NotFoundError: ``select`` matches nothing, or the environment or engine is unknown.
    """
    started = time.perf_counter()
    selection = _select(project, load_unit_tests(project), select, checks=checks)
    emit = on_result or (lambda _case: None)
    cases: list[CaseResult] = []
    if selection.tests:
        with UnitTestRunner(project, engine=engine, environment=environment, settings=settings) as runner:
            for source in selection.tests:
                cases.append(runner.run(source))
                emit(cases[-1])
    if selection.tables:
        cases += run_table_checks(project, selection.tables, environment=environment, engine=engine, on_result=emit)
    return SuiteResult(tuple(cases), time.perf_counter() - started)


def _select(project: Project, tests: list[UnitTestSource], patterns: Sequence[str], *, checks: bool) -> _Selection:
    chosen = [source for source in tests if is_selected([source.name], patterns)]
    tables = [
        source.name
        for _, source in sorted(project.tables.items())
        if checks and source.declaration.checks and is_selected([source.name, f"checks.{source.name}"], patterns)
    ]
    if patterns and not chosen and not tables:
        names = [source.name for source in tests] + [source.name for source in project.tables.values()]
        suggestion = did_you_mean(patterns[0], names)
        raise NotFoundError(
            f"no test or checked table matches {format_choices(patterns, quote=True)}",
            hint=(f"did you mean {suggestion!r}? " if suggestion else "")
            + (f"tests and tables: {format_choices(names)}" if names else f"there are no tests in {TESTS_DIR}/"),
        )
    return _Selection(chosen, tables)


def run_table_checks(
    project: Project,
    tables: Iterable[str],
    *,
    environment: str | None = None,
    engine: str | None = None,
    on_result: ResultSink | None = None,
) -> list[CaseResult]:
    """The declared checks of ``tables`` on ``environment``'s data, one case per check."""
    env = resolve_environment(project.config, environment, engine=engine)
    target = LakeTarget(
        environment=env.name,
        lake_root=(project.root / env.lake).resolve(),
        catalog=env.catalog,
        project_root=project.root,
    )
    emit = on_result or (lambda _case: None)
    cases: list[CaseResult] = []
    with get_engine(env.engine).open_session(target) as session:
        for table in tables:
            source = project.declared_table(table)
            if source is None:
                continue
            group = f"checks.{source.name}"
            try:
                session.query(f"SELECT * FROM {quote_table(source.name)} LIMIT 0")
            except TableNotFoundError:
                reason = f"{source.name} is not built in env {env.name}: run the pipeline that writes it first"
                for check in source.declaration.checks:
                    cases.append(CaseResult("check", check.label, group, CaseStatus.skipped, message=reason))
                    emit(cases[-1])
                continue
            for check in source.declaration.checks:
                cases.append(_check_case(session, source.name, group, check))
                emit(cases[-1])
    return cases


def _check_case(session: EngineSession, table: str, group: str, check: Check) -> CaseResult:
    started = time.perf_counter()
    try:
        result = evaluate_check(session, table, check)
    except LockgateError as exc:
        seconds = time.perf_counter() - started
        return CaseResult("check", check.label, group, CaseStatus.error, seconds, exc.message, str(exc))
    seconds = time.perf_counter() - started
    if result.passed:
        return CaseResult("check", result.label, group, CaseStatus.passed, seconds)
    status = CaseStatus.failed if result.is_error else CaseStatus.warned
    return CaseResult("check", result.label, group, status, seconds, result.message, render_check_results([result]))
