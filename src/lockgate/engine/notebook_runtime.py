"""Running notebooks, engine-neutral: cells in order with `spark`, `dbutils`, `display` in scope.

Python cells are compiled with the notebook's file name and line numbers, so a traceback points at the line
in the file; `%sql` cells go to the session's Spark SQL; `%run` runs another notebook in the same namespace;
`dbutils.notebook.run` runs one in a fresh namespace and returns its exit value. Anything a cell raises
becomes a :class:`~lockgate.errors.UserCodeError` (or keeps its lockgate error type) naming the notebook,
the cell and the line.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lockgate.engine.base import EngineSession, LazyDataFrame
from lockgate.engine.dbutils import DBUtils, FileSystem, NotebookExit, NotebookUtils, Secrets, Widgets
from lockgate.engine.secrets import SecretStore
from lockgate.engine.sql_parameters import substitute_parameters
from lockgate.errors import LockgateError, SourceLocation, UserCodeError
from lockgate.model.notebook import Cell, Notebook, resolve_reference

NotebookLoader = Callable[[str], Notebook]
"""Loads a notebook by project-relative path (with or without extension); raises NotFoundError."""

_GET_ARGUMENT = re.compile(r"""getArgument\(\s*(['"])(?P<name>[^'"]+)\1\s*\)""")
_WIDGET_STATEMENT = re.compile(
    r"""^[ \t]*(?:CREATE[ \t]+WIDGET[ \t]+(?P<kind>TEXT|DROPDOWN|COMBOBOX|MULTISELECT)[ \t]+`?(?P<name>\w+)`?"""
    r"""(?:[ \t]+DEFAULT[ \t]+(?P<default>'(?:[^']|'')*'|"[^"]*"))?(?P<choices>[^;]*?)"""
    r"""|REMOVE[ \t]+WIDGET[ \t]+`?(?P<removed>\w+)`?)[ \t]*;?[ \t]*$""",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_UNSUPPORTED_CELLS = {
    "sh": "shell (%sh) cells",
    "fs": "%fs cells (use dbutils.fs in a Python cell)",
    "scala": "Scala cells",
    "r": "R cells",
    "conda": "%conda cells",
}


@dataclass(frozen=True, slots=True)
class NotebookResult:
    exit_value: str | None
    """The value given to `dbutils.notebook.exit`, or None if the notebook ran to its end."""


class NotebookRuntime:
    """Runs notebooks in one engine session.

    The caller holds ``session.notebook_imports()`` open for the whole run: it swaps process-wide import
    aliases, so it must not be entered per notebook while other notebooks run in parallel threads.
    """

    def __init__(
        self,
        session: EngineSession,
        *,
        load_notebook: NotebookLoader,
        secrets: SecretStore,
        resolve_path: Callable[[str], Path],
    ):
        self.session = session
        self._load = load_notebook
        self._secrets = secrets
        self._resolve_path = resolve_path

    def run(self, notebook: Notebook, *, widgets: dict[str, str]) -> NotebookResult:
        """Run every cell of ``notebook``; stops early at `dbutils.notebook.exit`."""
        widget_state = Widgets(widgets)
        namespace = self._namespace(notebook, widget_state)
        try:
            self._run_cells(notebook, namespace, widget_state, include_stack=(notebook.file,))
        except NotebookExit as exit_:
            return NotebookResult(exit_value=exit_.value)
        return NotebookResult(exit_value=None)

    def _namespace(self, notebook: Notebook, widgets: Widgets) -> dict[str, Any]:
        def run_child(path: str, _timeout: int, arguments: dict[str, str]) -> str:
            child = self._load(resolve_reference(notebook.file, path))
            return self.run(child, widgets=arguments).exit_value or ""

        dbutils = DBUtils(
            widgets=widgets,
            fs=FileSystem(self._resolve_path),
            secrets=Secrets(self._secrets),
            notebook=NotebookUtils(run_child),
        )
        return {
            "__name__": "__main__",
            "__file__": notebook.file,
            "dbutils": dbutils,
            "display": self._display,
            "displayHTML": lambda html: print(html),  # noqa: T201 - notebooks' output goes to the log
            "getArgument": widgets.getArgument,
        }

    def _run_cells(
        self, notebook: Notebook, namespace: dict[str, Any], widgets: Widgets, *, include_stack: tuple[str, ...]
    ) -> None:
        for cell in notebook.cells:
            try:
                self._run_cell(notebook, cell, namespace, widgets, include_stack=include_stack)
            except (NotebookExit, KeyboardInterrupt):
                raise
            except LockgateError as exc:
                _locate(exc, notebook, cell)
                raise
            except BaseException as exc:
                raise _user_code_error(exc, notebook, cell) from exc

    def _run_cell(
        self,
        notebook: Notebook,
        cell: Cell,
        namespace: dict[str, Any],
        widgets: Widgets,
        *,
        include_stack: tuple[str, ...],
    ) -> None:
        if cell.kind == "python":
            if "spark" not in namespace:  # bound on the first Python cell: SQL-only notebooks never load it
                namespace["spark"] = namespace["sqlContext"] = self.session.spark
            code = compile("\n" * (cell.line - 1) + cell.source, notebook.file, "exec")
            exec(code, namespace)
        elif cell.kind == "sql":
            self._run_sql_cell(notebook, cell, widgets)
        elif cell.kind == "run":
            self._include(notebook, cell, namespace, widgets, include_stack=include_stack)
        elif cell.kind == "pip":
            print(f"skipped %pip cell {cell.index}: install packages into lockgate's environment instead")  # noqa: T201
        elif cell.kind in _UNSUPPORTED_CELLS:
            raise UserCodeError(
                f"{_UNSUPPORTED_CELLS[cell.kind]} are not supported",
                location=SourceLocation(notebook.file, cell.line),
                cell=cell.index,
                hint="rewrite the cell in Python or SQL",
            )

    def _run_sql_cell(self, notebook: Notebook, cell: Cell, widgets: Widgets) -> None:
        text = _define_sql_widgets(cell.source, widgets)
        values = widgets.values()
        text = _GET_ARGUMENT.sub(lambda m: "'" + widgets.getArgument(m["name"]).replace("'", "''") + "'", text)
        text = substitute_parameters(text, values)
        result = self.session.sql(text, file=notebook.file, line=cell.line, column_offset=cell.column_offset)
        if _is_displayed(result):
            self._display(result)

    def _include(
        self,
        notebook: Notebook,
        cell: Cell,
        namespace: dict[str, Any],
        widgets: Widgets,
        *,
        include_stack: tuple[str, ...],
    ) -> None:
        target = resolve_reference(notebook.file, cell.run_target or "")
        included = self._load(target)
        if included.file in include_stack:
            raise UserCodeError(
                f"%run cycle: {' -> '.join((*include_stack, included.file))}",
                location=SourceLocation(notebook.file, cell.line),
                cell=cell.index,
            )
        widgets.pass_values(cell.run_args)
        self._run_cells(included, namespace, widgets, include_stack=(*include_stack, included.file))

    def _display(self, value: Any, *args: Any, **kwargs: Any) -> None:
        # A DataFrame of either engine (sqlframe or PySpark) has `columns` and `collect`; pandas has no `collect`.
        if isinstance(value, LazyDataFrame) or (hasattr(value, "columns") and hasattr(value, "collect")):
            print(self.session.render_dataframe(value))  # noqa: T201
        elif hasattr(value, "head") and hasattr(value, "to_string"):
            print(value.head(20).to_string())  # noqa: T201
        else:
            print(value)  # noqa: T201


def _is_displayed(result: Any) -> bool:
    """A SQL cell shows the rows of its last query, as Databricks does; writes and DDL show nothing."""
    if isinstance(result, LazyDataFrame):
        return not result.is_write_result
    return result is not None and bool(result.columns)


def _define_sql_widgets(sql: str, widgets: Widgets) -> str:
    """Apply `CREATE WIDGET` / `REMOVE WIDGET` statements (Databricks SQL notebooks) and blank them out.

    They are handled before parameters are substituted, so a widget can be used in the same cell; blanking
    keeps the line numbers of the remaining statements.
    """

    def apply(match: re.Match[str]) -> str:
        if match["removed"]:
            widgets.remove(match["removed"])
        else:
            default = (match["default"] or "''")[1:-1].replace("''", "'")
            widgets.text(match["name"], default)
        return "\n" * match.group(0).count("\n")

    return _WIDGET_STATEMENT.sub(apply, sql)


def _locate(exc: LockgateError, notebook: Notebook, cell: Cell) -> None:
    """Point an error raised inside a cell at that cell when it has no place of its own in the notebook."""
    if exc.location is None or exc.location.file != notebook.file:
        line = _user_line(exc, notebook.file) or cell.line
        exc.location = SourceLocation(notebook.file, line)
    if isinstance(exc, UserCodeError) and exc.cell is None:
        exc.cell = cell.index
    if notebook.format == "ipynb" and exc.location.line is not None:
        # Lines in a .ipynb count within the cell, so name the cell and keep the file line-free.
        exc.message = f"cell {cell.index}, line {exc.location.line}: {exc.message}"
        exc.location = SourceLocation(notebook.file)


def _user_line(exc: BaseException, file: str) -> int | None:
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == file:
            line = frame.lineno
    return line


def _user_code_error(exc: BaseException, notebook: Notebook, cell: Cell) -> UserCodeError:
    line = _user_line(exc, notebook.file)
    if isinstance(exc, SyntaxError) and exc.filename == notebook.file:
        line = exc.lineno
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == notebook.file]
    detail = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(exc))
    line = line or cell.line
    where = f"cell {cell.index}" + (f" ({cell.title})" if cell.title else "")
    location = SourceLocation(notebook.file, line)
    if notebook.format == "ipynb":  # lines count within the cell: say so, and keep the file line-free
        where, location = f"{where}, line {line}", SourceLocation(notebook.file)
    message = f"{type(exc).__name__}: {exc}".rstrip(": ") if str(exc) else type(exc).__name__
    return UserCodeError(f"{where}: {message}", location=location, cell=cell.index, detail=detail)
