"""Loading a project: the only reader of `lockgate.yaml`, pipeline files, table declarations and notebooks.

Every problem in every file is collected before anything is raised, so `lockgate validate` shows them all at
once, in file order, each with its `file:line:col` and a hint.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lockgate.errors import NotFoundError, Problem, ProjectError, SourceLocation, SqlError
from lockgate.model.activities import ActivityPath, CheckActivity
from lockgate.model.checks import Check, TableDeclaration, TablesFile
from lockgate.model.connection_refs import find_connection_problems
from lockgate.model.notebook import Notebook, parse_notebook, resolve_reference
from lockgate.model.pipeline import (
    NOTEBOOK_SUFFIXES,
    NotebookActivity,
    Pipeline,
    SqlActivity,
    find_child_pipeline_problems,
    find_pipeline_problems,
    resolve_notebook_path,
)
from lockgate.model.project import ProjectConfig, find_config_problems, unknown_name_problem
from lockgate.model.suggest import did_you_mean
from lockgate.model.trigger import FileTrigger, ScheduleTrigger, TriggerFile, WindowTrigger, find_trigger_problems
from lockgate.model.yamlerrors import validate_document
from lockgate.model.yamlsource import YamlDocument, parse_yaml

PROJECT_FILE = "lockgate.yaml"
PIPELINE_DIR = "pipelines"
TRIGGER_DIR = "triggers"
TABLE_DIR = "tables"
_TABLE_NAME = re.compile(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")
_SKIPPED_DIRS = {"node_modules", "venv", "site-packages"}
_SQL_PARAMETER = re.compile(r"\$\{\s*[A-Za-z_][\w.]*\s*\}")
_PARAMETER_STAND_IN = "lockgate_parameter"
"""Parses as an identifier, a literal's text ('${d}') and a name part (${schema}.t) alike."""


@dataclass(frozen=True, slots=True)
class PipelineSource:
    """A pipeline with the document it came from, so run-time errors can point into the file."""

    name: str
    file: str
    pipeline: Pipeline
    document: YamlDocument


@dataclass(frozen=True, slots=True)
class TriggerSource:
    """A trigger with the document it came from."""

    name: str
    file: str
    trigger: ScheduleTrigger | WindowTrigger | FileTrigger
    document: YamlDocument


@dataclass(frozen=True, slots=True)
class TableSource:
    """A table declared in `tables/*.yaml` (`schema.table` as written) with the document it came from."""

    name: str
    file: str
    declaration: TableDeclaration
    document: YamlDocument


@dataclass(frozen=True)
class Project:
    """A loaded, structurally valid project."""

    root: Path
    config: ProjectConfig
    pipelines: dict[str, PipelineSource]
    notebooks: frozenset[str]
    """Project-relative paths (POSIX) of every notebook-like file."""
    triggers: dict[str, TriggerSource] = field(default_factory=dict)
    """Triggers by name (the file's stem); deploys start and stop them per environment."""
    tables: dict[str, TableSource] = field(default_factory=dict)
    """Declared tables by lower-case `schema.table`; look one up with :meth:`declared_table`."""
    _notebook_cache: dict[str, Notebook] = field(default_factory=dict, repr=False, compare=False)

    def pipeline(self, name: str) -> PipelineSource:
        if name in self.pipelines:
            return self.pipelines[name]
        problem = unknown_name_problem(
            "pipeline", name, sorted(self.pipelines), None, fix=f"add {PIPELINE_DIR}/{name}.yaml"
        )
        raise NotFoundError(problem.message, hint=problem.hint)

    def declared_table(self, table: str) -> TableSource | None:
        """The declaration of ``table`` as a query names it (any case; a catalog and backticks are ignored)."""
        return self.tables.get(table_key(table))

    def notebook_path(self, reference: str) -> str:
        path = resolve_notebook_path(reference, self.notebooks)
        if path is None:
            problem = unknown_name_problem("notebook", reference, sorted(self.notebooks), None)
            raise NotFoundError(problem.message, hint=problem.hint)
        return path

    def pipeline_files(self, pipeline: Pipeline) -> list[str]:
        """The project files (notebooks, SQL files) a pipeline runs, as project-relative paths."""
        used: list[str] = []
        for _, activity in pipeline.all_activities():
            if isinstance(activity, NotebookActivity):
                reference: str | None = activity.notebook
            elif isinstance(activity, SqlActivity):
                reference = activity.file
            else:
                continue
            path = resolve_notebook_path(reference, self.notebooks) if reference else None
            if path is not None and path not in used:
                used.append(path)
        return used

    def read_source(self, path: str) -> str:
        """A project file's text (UTF-8).

        Raises:
            ProjectError: it is missing, unreadable or not UTF-8.
        """
        return _read_text(self.root / path, path)

    def load_notebook(self, reference: str) -> Notebook:
        """Read and parse a notebook by project-relative path (extension optional)."""
        path = self.notebook_path(reference)
        notebook = self._notebook_cache.get(path)
        if notebook is None:
            notebook = parse_notebook(_read_text(self.root / path, path), file=path)
            self._notebook_cache[path] = notebook
        return notebook


def is_project_source(path: str) -> bool:
    """Whether a project-relative path is read by :func:`load_project` (so a change to it changes a release)."""
    parts = path.split("/")
    if any(part.startswith((".", "__")) or part in _SKIPPED_DIRS for part in parts[:-1]):
        return False
    if path == PROJECT_FILE:
        return True
    if len(parts) == 2 and parts[0] in (PIPELINE_DIR, TRIGGER_DIR, TABLE_DIR) and parts[1].endswith((".yaml", ".yml")):
        return True
    return path.endswith(NOTEBOOK_SUFFIXES)


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` holding `lockgate.yaml`."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise NotFoundError(
        f"no {PROJECT_FILE} in {here} or any folder above it",
        hint="run lockgate inside a project, or create one with `lockgate init DIR`",
    )


def load_project(start: Path | None = None) -> Project:
    """Load and validate the project's YAML files; raises one ProjectError listing every problem."""
    loaded = _load(start)
    if loaded.problems or loaded.config is None:
        raise ProjectError(loaded.problems)
    return Project(
        root=loaded.root,
        config=loaded.config,
        pipelines=loaded.pipelines,
        notebooks=loaded.notebooks,
        triggers=loaded.triggers,
        tables=loaded.tables,
    )


def validate_project(start: Path | None = None) -> tuple[Project | None, list[Problem]]:
    """Every problem of the project, in file order: its YAML files, then the notebooks and SQL they use.

    The sources of every pipeline file that is valid itself are checked even when other files have problems,
    so one `lockgate validate` shows everything to fix. The project is None when `lockgate.yaml` is unusable.
    """
    loaded = _load(start)
    # check_sources only reads the environments' engines: with a broken lockgate.yaml, an unchecked placeholder
    # with no environments lets it check parsing without checking which engines can run the SQL.
    config = loaded.config or ProjectConfig.model_construct(name=loaded.root.name, environments={})
    project = Project(
        root=loaded.root,
        config=config,
        pipelines=loaded.pipelines,
        notebooks=loaded.notebooks,
        triggers=loaded.triggers,
        tables=loaded.tables,
    )
    problems = loaded.problems + check_sources(project)
    return (project if loaded.config is not None else None), problems


@dataclass(frozen=True, slots=True)
class _Loaded:
    root: Path
    config: ProjectConfig | None
    pipelines: dict[str, PipelineSource]
    """Only the pipeline files without problems."""
    notebooks: frozenset[str]
    triggers: dict[str, TriggerSource]
    tables: dict[str, TableSource]
    problems: list[Problem]


def _load(start: Path | None) -> _Loaded:
    """Read every YAML file of the project, collecting every problem, each file's in file order."""
    root = find_project_root(start)
    problems: list[Problem] = []
    config: ProjectConfig | None = None
    try:
        config_doc = parse_yaml(_read_text(root / PROJECT_FILE, PROJECT_FILE), file=PROJECT_FILE)
    except ProjectError as exc:  # keep going: the pipeline files' problems are worth showing too
        problems += exc.problems
    else:
        config, config_problems = validate_document(config_doc, ProjectConfig)
        if config is not None:
            config_problems += find_config_problems(config, config_doc.locate)
        problems += _in_file_order(config_problems)
    notebooks = frozenset(_discover_notebooks(root))
    pipelines, pipeline_problems = _load_pipelines(root, notebooks)
    for source in pipelines.values():
        if config is not None:
            pipeline_problems += find_connection_problems(source.pipeline, config.connections, source.document.locate)
    pipeline_names = {file.stem for file in _yaml_files(root / PIPELINE_DIR)}
    pipeline_problems += find_child_pipeline_problems(
        {name: source.pipeline for name, source in pipelines.items()},
        {name: source.document.locate for name, source in pipelines.items()},
        pipeline_names,
    )
    triggers, trigger_problems = _load_triggers(root, pipeline_names, config)
    tables, table_problems = _load_tables(root)
    problems += pipeline_problems + trigger_problems + table_problems + _check_activity_problems(pipelines, tables)
    return _Loaded(root, config, pipelines, notebooks, triggers, tables, problems)


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.y*ml"))


def _load_pipelines(root: Path, notebooks: frozenset[str]) -> tuple[dict[str, PipelineSource], list[Problem]]:
    problems: list[Problem] = []
    pipelines: dict[str, PipelineSource] = {}
    for file, document in _documents(root / PIPELINE_DIR, root, problems):
        pipeline, pipeline_problems = validate_document(document, Pipeline)
        if pipeline is not None:
            pipeline_problems = find_pipeline_problems(
                pipeline, document.locate, notebooks=notebooks, file_exists=lambda path: (root / path).is_file()
            )
            if not pipeline_problems:
                pipelines[file.stem] = PipelineSource(file.stem, document.file, pipeline, document)
        problems += _in_file_order(pipeline_problems)
    return pipelines, problems


def _load_triggers(
    root: Path, pipeline_names: set[str], config: ProjectConfig | None
) -> tuple[dict[str, TriggerSource], list[Problem]]:
    problems: list[Problem] = []
    triggers: dict[str, TriggerSource] = {}
    for file, document in _documents(root / TRIGGER_DIR, root, problems):
        parsed, trigger_problems = validate_document(document, TriggerFile)
        if parsed is not None:
            trigger = parsed.root
            trigger_problems = find_trigger_problems(
                trigger,
                document.locate,
                pipelines=pipeline_names,
                environments=config.environments if config else None,
                connections=config.connections if config else None,
            )
            if not trigger_problems:
                triggers[file.stem] = TriggerSource(file.stem, document.file, trigger, document)
        problems += _in_file_order(trigger_problems)
    return triggers, problems


def _load_tables(root: Path) -> tuple[dict[str, TableSource], list[Problem]]:
    problems: list[Problem] = []
    tables: dict[str, TableSource] = {}
    for _, document in _documents(root / TABLE_DIR, root, problems):
        parsed, file_problems = validate_document(document, TablesFile)
        for name, declaration in parsed.tables.items() if parsed is not None else ():
            where = document.locate(("tables", name))
            if not _TABLE_NAME.match(name):
                hint = "declare a table by its schema and name, as queries write it: silver.orders"
                file_problems.append(Problem(f"table name {name!r} is not schema.table", where, hint))
            elif table_key(name) in tables:
                other = tables[table_key(name)].file
                file_problems.append(Problem(f"table {name!r} is declared twice", where, f"keep one: see {other}"))
            else:
                tables[table_key(name)] = TableSource(name, document.file, declaration, document)
                file_problems += _check_column_problems(
                    declaration.checks, declaration, name, document, ("tables", name, "checks")
                )
        problems += _in_file_order(file_problems)
    return tables, problems


def _check_activity_problems(pipelines: dict[str, PipelineSource], tables: dict[str, TableSource]) -> list[Problem]:
    """Checks of `check` activities naming columns their (declared) table does not list."""
    problems: list[Problem] = []
    for source in pipelines.values():
        found: list[Problem] = []
        for path, activity in source.pipeline.all_activities():
            declared = tables.get(table_key(activity.table)) if isinstance(activity, CheckActivity) else None
            if isinstance(activity, CheckActivity) and declared is not None:
                found += _check_column_problems(
                    activity.checks, declared.declaration, declared.name, source.document, (*path, "checks")
                )
        problems += _in_file_order(found)
    return problems


def _check_column_problems(
    checks: tuple[Check, ...], declaration: TableDeclaration, table: str, document: YamlDocument, path: ActivityPath
) -> list[Problem]:
    """Columns named by ``checks`` that the table's declared `columns` do not list (none when it lists none)."""
    columns = list(declaration.columns)
    known = {column.lower() for column in columns}
    problems: list[Problem] = []
    for index, check in enumerate(checks if known else ()):
        for position, column in enumerate(check.columns_used()):
            if column.lower() in known:
                continue
            suggestion = did_you_mean(column, columns)
            hint = (f"did you mean {suggestion!r}? " if suggestion else "") + (
                f"{table} declares {', '.join(columns)}; add the column under `columns:` if it is new"
            )
            where = _locate_column(document, (*path, index), check.type, position)
            problems.append(Problem(f"check {check.label!r}: {table} has no column {column!r}", where, hint))
    return problems


def _locate_column(document: YamlDocument, path: ActivityPath, kind: str, position: int) -> SourceLocation:
    """Where a check names its ``position``-th column, written in full (`columns: [a]`) or short (`not_null: [a]`)."""
    for candidate in (("columns", position), (kind, position), ("column",), (kind, "column"), (kind,)):
        if document.has((*path, *candidate)):
            return document.locate_value((*path, *candidate))
    return document.locate(path)


def table_key(table: str) -> str:
    """`schema.table` in lower case, for a table as a query names it (`Main.Silver.Orders`, `` `s`.`t` ``)."""
    parts = [part.strip().strip("`").lower() for part in table.split(".")]
    return ".".join(parts[-2:])


def _documents(folder: Path, root: Path, problems: list[Problem]) -> Iterable[tuple[Path, YamlDocument]]:
    """Each YAML file of ``folder`` parsed; files that do not parse add their problems and are skipped."""
    for file in _yaml_files(folder):
        relative = file.relative_to(root).as_posix()
        try:
            yield file, parse_yaml(_read_text(file, relative), file=relative)
        except ProjectError as exc:
            problems += exc.problems


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: (p.location.line or 0, p.location.col or 0) if p.location else (0, 0))


def check_sources(project: Project, pipelines: Iterable[PipelineSource] | None = None) -> list[Problem]:
    """Parse every notebook and SQL file the pipelines use, and every SQL statement in them.

    Each statement must also run on every engine the project's environments use (see
    :mod:`lockgate.services.sql_portability`).
    """
    problems: list[Problem] = []
    seen: set[str] = set()
    engines = _engine_environments(project.config)
    for source in pipelines if pipelines is not None else project.pipelines.values():
        for path, activity in source.pipeline.all_activities():
            if isinstance(activity, NotebookActivity):
                problems += _notebook_problems(project, activity.notebook, seen, engines)
            elif isinstance(activity, SqlActivity):
                text, file, line = sql_activity_text(project.root, activity, source.document, path)
                offset = _inline_sql_indent(project.root / file, text, line) if activity.file is None else 0
                problems += _sql_problems(text, file=file, line=line, column_offset=offset, engines=engines)
    return problems


def _inline_sql_indent(path: Path, text: str, line: int) -> int:
    """Characters before inline `sql:` text on its lines of the pipeline file (a `|` block's indentation)."""
    try:
        file_lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return 0
    for index, text_line in enumerate(text.splitlines()):
        if text_line.strip() and 0 < line + index <= len(file_lines):
            return max(file_lines[line + index - 1].find(text_line), 0)
    return 0


def _engine_environments(config: ProjectConfig) -> dict[str, tuple[str, ...]]:
    """Each engine the environments run on (an environment's `engine`, else the project's), with their names."""
    usage: dict[str, list[str]] = {}
    for name, environment in config.environments.items():
        usage.setdefault(environment.engine or config.engine, []).append(name)
    return {engine: tuple(names) for engine, names in usage.items()}


def sql_activity_text(
    root: Path, activity: SqlActivity, document: YamlDocument | None, path: ActivityPath
) -> tuple[str, str, int]:
    """A `sql` activity's SQL, the file it is written in and the line where it starts there."""
    if activity.file is not None:
        return _read_text(root / activity.file, activity.file), activity.file, 1
    text = str(activity.sql)
    if document is None:
        return text, "<sql>", 1
    key = document.locate((*path, "sql"))
    value = document.locate_value((*path, "sql"))
    # A `sql: |` block starts on the line after its key; an inline string on the key's own line.
    line = (key.line or 1) + 1 if value.line == key.line and "\n" in text.strip() else (value.line or 1)
    return text, document.file, line


def _notebook_problems(
    project: Project, reference: str, seen: set[str], engines: dict[str, tuple[str, ...]]
) -> list[Problem]:
    path = project.notebook_path(reference)
    if path in seen:
        return []
    seen.add(path)
    try:
        notebook = project.load_notebook(path)
    except ProjectError as exc:
        return list(exc.problems)
    problems: list[Problem] = []
    for cell in notebook.cells:
        if cell.kind == "sql":
            problems += _sql_problems(
                cell.source, file=path, line=cell.line, column_offset=cell.column_offset, engines=engines
            )
        elif cell.kind == "run" and cell.run_target:
            target = resolve_reference(path, cell.run_target)
            if resolve_notebook_path(target, project.notebooks) is None:
                location = SourceLocation(path, cell.line)
                problems.append(unknown_name_problem("notebook", target, sorted(project.notebooks), location))
            else:
                problems += _notebook_problems(project, target, seen, engines)
    return problems


def _sql_problems(
    text: str, *, file: str, line: int = 1, column_offset: int = 0, engines: dict[str, tuple[str, ...]]
) -> list[Problem]:
    # sqlglot loads only when there is SQL to check
    from lockgate.engine.sql import split_statements
    from lockgate.services.sql_portability import find_portability_problems

    sql = _SQL_PARAMETER.sub(_PARAMETER_STAND_IN, text)
    try:
        statements = split_statements(sql, file=file, line=line, column_offset=column_offset)
    except SqlError as exc:
        return [Problem(exc.message, exc.location, exc.hint)]
    return find_portability_problems(sql, statements, usage=engines, line=line, column_offset=column_offset)


def _discover_notebooks(root: Path) -> Iterable[str]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")) and d not in _SKIPPED_DIRS)
        base = Path(folder)
        for name in files:
            if name.endswith(NOTEBOOK_SUFFIXES):
                yield (base / name).relative_to(root).as_posix()


def _read_text(path: Path, shown: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ProjectError(f"{shown} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise ProjectError(
            Problem(f"{shown} is not UTF-8 text (byte {exc.start})", None, "save the file as UTF-8")
        ) from exc
    except OSError as exc:
        raise ProjectError(f"{shown} cannot be read: {exc.strerror}") from exc
