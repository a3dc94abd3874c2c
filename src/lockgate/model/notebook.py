"""Notebook files as cells: owns turning notebook *text* into a :class:`Notebook` of :class:`Cell` values.

Formats, chosen by the file suffix and the first line:

* Databricks source (``.py`` starting ``# Databricks notebook source``, ``.sql`` starting
  ``-- Databricks notebook source``): cells split on ``COMMAND ----------`` lines, ``MAGIC`` cells decoded,
  ``DBTITLE`` lines become titles;
* plain ``.py``: one python cell, or one cell per ``# %%`` marker (percent format, ``[markdown]`` cells);
* plain ``.sql``: one sql cell (``lockgate.engine.sql`` splits it into statements);
* ``.ipynb``: Jupyter JSON (nbformat 4), including Databricks' ``%sql`` / ``%md`` / ``%run`` magics.

Rules: pure (text in, values out; no file access, no nbformat), and every ``Cell.line`` is the 1-based
line where ``Cell.source`` starts, so line ``n`` of a cell's source is line ``cell.line + n - 1`` of the file
(of the cell, for ``.ipynb``). Malformed notebooks raise :class:`~lockgate.errors.ProjectError` naming
the place.
"""

from __future__ import annotations

import difflib
import itertools
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal

from lockgate.errors import ProjectError, SourceLocation

__all__ = ["MAGIC_KINDS", "Cell", "Notebook", "parse_notebook", "resolve_reference"]

NotebookFormat = Literal["databricks", "python", "sql", "ipynb"]
NotebookLanguage = Literal["python", "sql"]

MAGIC_KINDS: dict[str, str] = {
    "md": "markdown",
    "md-sandbox": "markdown",
    "sql": "sql",
    "python": "python",
    "run": "run",
    "pip": "pip",
    "sh": "sh",
    "fs": "fs",
    "scala": "scala",
    "r": "r",
    "conda": "conda",
}
"""Databricks cell magics (without ``%``) and the cell kind each one gives."""

_PY_HEADER = "# Databricks notebook source"
_DATABRICKS_CELL = "application/vnd.databricks.v1+cell"
_SQL_HEADER = "-- Databricks notebook source"
_PERCENT_MARKER = re.compile(r"^# %%(?P<rest>(?:\s.*)?)$")
_PERCENT_TYPE = re.compile(r"\[(?P<type>[A-Za-z]+)\]")
_DBTITLE = re.compile(r"^DBTITLE\s+\d+\s*,(?P<title>.*)$")
_RUN_ARG = re.compile(r"^\$(?P<name>[A-Za-z_][\w.-]*)=(?P<value>.*)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Cell:
    """One cell of a notebook, with its source decoded and its place in the file."""

    index: int
    """1-based position among all the notebook's cells, markdown included."""
    kind: str
    """``python``, ``sql``, ``markdown``, ``run``, ``pip``, ``sh``, ``fs``, ``scala``, ``r`` or ``conda``."""
    source: str
    """The cell's text: ``MAGIC``/comment prefixes and the magic command itself removed."""
    line: int
    """1-based line where ``source`` starts: in the file, or in the cell for ``.ipynb``."""
    title: str | None = None
    """The Databricks ``DBTITLE`` (or ipynb cell title), when there is one."""
    run_target: str | None = None
    """For ``%run`` cells: the notebook path as written (``./helpers``)."""
    run_args: dict[str, str] = field(default_factory=dict)
    """For ``%run`` cells: the ``$name=value`` arguments."""
    column_offset: int = 0
    """Characters before ``source`` on each file line (the ``# MAGIC `` prefix), so columns map back too."""


@dataclass(frozen=True, slots=True)
class Notebook:
    """A parsed notebook: its format, its default language and its cells in order."""

    file: str
    """The path the text came from, as given to :func:`parse_notebook` (used in error locations)."""
    format: NotebookFormat
    """``databricks`` source, plain ``python``, plain ``sql`` or Jupyter ``ipynb``."""
    language: NotebookLanguage
    """The language of cells without a magic."""
    cells: tuple[Cell, ...]
    """Every cell, markdown included, in file order."""


def parse_notebook(text: str, *, file: str) -> Notebook:
    """Parse notebook text into cells.

    Args:
        text: The whole file's text.
        file: The file's path; its suffix picks the format and it names the place in errors.

    Returns:
        The notebook with its cells in order.

    Raises:
        ProjectError: The suffix is not a notebook format, the ``.ipynb`` JSON is corrupt, a magic is unknown
            or a ``%run`` cell is malformed.
    """
    text = text.removeprefix("\ufeff")
    suffix = PurePath(file).suffix.lower()
    first_line = text.split("\n", 1)[0].strip()
    if suffix == ".ipynb":
        return _parse_ipynb(text, file)
    if suffix == ".py":
        if first_line == _PY_HEADER:
            return _parse_databricks(text, file, language="python", comment="#")
        return _parse_plain_python(text, file)
    if suffix == ".sql":
        if first_line == _SQL_HEADER:
            return _parse_databricks(text, file, language="sql", comment="--")
        lines = text.splitlines()
        return Notebook(file, "sql", "sql", (_text_cell(1, "sql", lines, 1),))
    raise ProjectError(
        f"unsupported notebook file type {suffix or '(no suffix)'!r}",
        location=SourceLocation(file),
        hint="notebooks are .py (plain, percent or Databricks source), .sql or .ipynb files",
    )


# --- shared helpers ---------------------------------------------------------------------------------------


def _trim(lines: list[str], first_line: int) -> tuple[list[str], int]:
    """Drop leading and trailing blank lines; return the rest and the file line of the first one kept."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end], first_line + start if start < end else first_line


def _text_cell(
    index: int, kind: str, lines: list[str], first_line: int, title: str | None = None, column_offset: int = 0
) -> Cell:
    body, line = _trim(lines, first_line)
    return Cell(index=index, kind=kind, source="\n".join(body), line=line, title=title, column_offset=column_offset)


def _unknown_magic(magic: str, location: SourceLocation) -> ProjectError:
    close = difflib.get_close_matches(magic, list(MAGIC_KINDS), n=1)
    suggestion = f"did you mean %{close[0]}? " if close else ""
    return ProjectError(
        f"unknown cell magic %{magic}",
        location=location,
        hint=f"{suggestion}supported: {', '.join('%' + name for name in MAGIC_KINDS)}",
    )


def _magic_cell(
    index: int,
    lines: list[str],
    first_line: int,
    *,
    title: str | None,
    location: SourceLocation,
    column_offset: int = 0,
) -> Cell:
    """Build a cell whose first line is ``%magic [rest]``; ``lines`` carry no comment prefix any more."""
    magic, _, rest = lines[0].strip().partition(" ")
    name = magic[1:].removeprefix("%").lower()  # ``%%sql`` is the Jupyter cell-magic spelling
    kind = MAGIC_KINDS.get(name)
    if kind is None:
        raise _unknown_magic(name, location)
    body = [rest, *lines[1:]] if rest.strip() else lines[1:]
    body_line = first_line if rest.strip() else first_line + 1
    if kind == "run":
        return _run_cell(index, body, body_line, title=title, location=location)
    return _text_cell(index, kind, body, body_line, title, column_offset)


def _run_cell(index: int, lines: list[str], first_line: int, *, title: str | None, location: SourceLocation) -> Cell:
    body, line = _trim(lines, first_line)
    if len(body) > 1:
        raise ProjectError(
            "%run needs exactly one line: the notebook path and its arguments",
            location=location,
            hint='write it as `%run ./other_notebook $name="value"`, in a cell of its own',
        )
    try:
        words = shlex.split(body[0]) if body else []
    except ValueError as exc:
        raise ProjectError(f"cannot read %run arguments: {exc}", location=location) from exc
    if not words:
        raise ProjectError("%run without a notebook path", location=location, hint="write `%run ./other_notebook`")
    args: dict[str, str] = {}
    for word in words[1:]:
        match = _RUN_ARG.match(word)
        if match is None:
            raise ProjectError(
                f"cannot read %run argument {word!r}",
                location=location,
                hint='arguments are written $name="value" or $name=value',
            )
        args[match["name"]] = match["value"]
    return Cell(index, "run", body[0], line, title, run_target=words[0], run_args=args)


# --- Databricks source format -----------------------------------------------------------------------------


def _parse_databricks(text: str, file: str, *, language: NotebookLanguage, comment: str) -> Notebook:
    separator = f"{comment} COMMAND ----------"
    lines = text.splitlines()
    chunks: list[tuple[int, list[str]]] = []  # (file line of the chunk's first line, lines)
    start, current = 2, list[str]()
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() == separator:
            chunks.append((start, current))
            start, current = number + 1, []
        else:
            current.append(line)
    chunks.append((start, current))
    cells = tuple(
        _databricks_cell(index, chunk, first, file=file, language=language, comment=comment)
        for index, (first, chunk) in enumerate(chunks, start=1)
    )
    return Notebook(file, "databricks", language, cells)


def _databricks_cell(index: int, lines: list[str], first_line: int, *, file: str, language: str, comment: str) -> Cell:
    body, line = _trim(lines, first_line)
    title: str | None = None
    title_match = _DBTITLE.match(body[0].removeprefix(comment).strip()) if body else None
    if title_match is not None:
        title = title_match["title"].strip() or None
        body, line = _trim(body[1:], line + 1)
    magic_prefix = f"{comment} MAGIC"
    is_magic = bool(body) and body[0].startswith(magic_prefix)
    if is_magic and all(not text.strip() or text.startswith(magic_prefix) for text in body):
        decoded = [_strip_magic(text, magic_prefix) for text in body]
        if decoded[0].lstrip().startswith("%"):
            location = SourceLocation(file, line)
            return _magic_cell(
                index, decoded, line, title=title, location=location, column_offset=len(magic_prefix) + 1
            )
        return _text_cell(index, language, decoded, line, title)
    return _text_cell(index, language, body, line, title)


def _strip_magic(line: str, prefix: str) -> str:
    rest = line.removeprefix(prefix)
    return rest[1:] if rest.startswith(" ") else rest


# --- plain python (optionally percent format) -------------------------------------------------------------


def _parse_plain_python(text: str, file: str) -> Notebook:
    lines = text.splitlines()
    markers = [number for number, line in enumerate(lines, start=1) if _PERCENT_MARKER.match(line)]
    if not markers:
        return Notebook(file, "python", "python", (_text_cell(1, "python", lines, 1),))
    cells: list[Cell] = []
    head = lines[: markers[0] - 1]
    if any(line.strip() for line in head):
        cells.append(_text_cell(1, "python", head, 1))
    bounds = [*markers, len(lines) + 1]
    for marker, end in itertools.pairwise(bounds):
        header = _PERCENT_MARKER.match(lines[marker - 1])
        rest = header["rest"].strip() if header else ""
        type_match = _PERCENT_TYPE.search(rest)
        cell_type = type_match["type"].lower() if type_match else "python"
        title = _PERCENT_TYPE.sub("", rest).strip() or None
        body = lines[marker : end - 1]
        if cell_type in ("markdown", "md", "raw"):
            body = [_uncomment(line) for line in body]
            cells.append(_text_cell(len(cells) + 1, "markdown", body, marker + 1, title))
        else:
            cells.append(_text_cell(len(cells) + 1, "python", body, marker + 1, title))
    return Notebook(file, "python", "python", tuple(cells))


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    return line.removeprefix("#")


# --- Jupyter .ipynb ---------------------------------------------------------------------------------------


def _parse_ipynb(text: str, file: str) -> Notebook:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProjectError(
            f"corrupt notebook: invalid JSON ({exc.msg})",
            location=SourceLocation(file, exc.lineno, exc.colno),
            hint="open and re-save the notebook in Jupyter or Databricks, or fix the JSON by hand",
        ) from exc
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise ProjectError(
            "not a Jupyter notebook: no 'cells' list at the top level",
            location=SourceLocation(file),
            hint="lockgate reads nbformat 4 notebooks; re-save older ones with a current Jupyter",
        )
    metadata = document.get("metadata")
    language = _ipynb_language(metadata if isinstance(metadata, dict) else {}, file)
    cells = tuple(
        _ipynb_cell(index, raw, file=file, language=language) for index, raw in enumerate(document["cells"], start=1)
    )
    return Notebook(file, "ipynb", language, cells)


def _ipynb_language(metadata: dict[str, Any], file: str) -> NotebookLanguage:
    candidates = [
        _dig(metadata, "language_info", "name"),
        _dig(metadata, "kernelspec", "language"),
        _dig(metadata, "application/vnd.databricks.v1+notebook", "language"),
    ]
    name = next((value for value in candidates if isinstance(value, str) and value), "python").lower()
    if name in ("python", "sql"):
        return "python" if name == "python" else "sql"
    raise ProjectError(
        f"unsupported notebook language {name!r}",
        location=SourceLocation(file),
        hint="lockgate runs python and sql notebooks",
    )


def _dig(mapping: dict[str, Any], *keys: str) -> object:
    value: object = mapping
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _ipynb_cell(index: int, raw: object, *, file: str, language: str) -> Cell:
    location = SourceLocation(file)
    if not isinstance(raw, dict) or not isinstance(raw.get("cell_type"), str):
        raise ProjectError(f"corrupt notebook: cell {index} has no cell_type", location=location)
    source = raw.get("source", "")
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        source = "".join(source)
    if not isinstance(source, str):
        raise ProjectError(f"corrupt notebook: cell {index} has a malformed source", location=location)
    metadata = raw.get("metadata")
    title = _dig(metadata, _DATABRICKS_CELL, "title") if isinstance(metadata, dict) else None
    cell_title = title if isinstance(title, str) and title else None
    lines = source.splitlines()
    if raw["cell_type"] != "code":  # markdown, and raw cells, are text that never runs
        return _text_cell(index, "markdown", lines, 1, cell_title)
    body, line = _trim(lines, 1)
    if body and body[0].lstrip().startswith("%"):
        magic = body[0].lstrip().split(" ", 1)[0].lstrip("%").lower()
        if magic in MAGIC_KINDS:
            return _magic_cell(index, body, line, title=cell_title, location=location)
    return _text_cell(index, language, lines, 1, cell_title)


def resolve_reference(current_file: str, reference: str) -> str:
    """The project path a `%run` / `dbutils.notebook.run` reference names, from the notebook that makes it.

    ``./x`` and ``../x`` are relative to the current notebook's folder; anything else to the project root.
    """
    if not reference.startswith(("./", "../")):
        return reference.lstrip("/")
    parts: list[str] = []
    for part in (PurePath(current_file).parent / reference).parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)
