"""YAML text with positions: the one place lockgate reads YAML syntax.

Owns parsing into a :class:`YamlDocument` of plain data plus positions. Valid files, the common case, are read
by ruamel's C-accelerated safe loader, about six times faster than the pure-Python round-trip parser; the
positions (line and column of every key and item), needed only to point at a problem, are computed on first use
by the round-trip parser. Any file the fast path cannot vouch for (a syntax error, a tag, a duplicate key, an
alias cycle) goes through the round-trip parser at once, which owns the error messages. Also here: YAML syntax
errors as :class:`Problem` s with a hint, and how a value reads in a message (:func:`describe_value`). Mapping
pydantic errors to these positions is the job of :mod:`lockgate.model.yamlerrors`.

Key contracts:
- Pure: functions take text, never paths; nothing here touches the file system.
- :func:`parse_yaml` raises :class:`ProjectError` for anything that is not a single YAML mapping, with the
  position of the fault and a hint. Duplicate keys and unsupported tags are all reported at once.
  ``YamlDocument.data`` holds plain Python values only.
- Positions are 1-based. :meth:`YamlDocument.locate` is where a key or list item starts,
  :meth:`YamlDocument.locate_value` where its value starts; a path that does not exist falls back to its deepest
  existing parent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, CommentedSet, TaggedScalar, merge_attrib
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.scalarbool import ScalarBoolean

from lockgate.errors import Problem, ProjectError, SourceLocation

__all__ = ["NodePosition", "YamlDocument", "YamlPath", "describe_value", "parse_yaml", "raise_problems"]

YamlPath = tuple[str | int, ...]
"""Keys and list indexes from the top of a document down to one value, e.g. ``("activities", 0, "type")``."""

_YAML_TAG_PREFIX = "tag:yaml.org,2002:"
_TAB_HINT = "indent with spaces: YAML does not allow tab characters for indentation or after ':'"


class NodePosition(NamedTuple):
    """1-based start of one entry: its key (the item itself for list items) and its value."""

    key_line: int
    key_col: int
    value_line: int
    value_col: int


_START = NodePosition(1, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One parsed YAML file: plain data plus the position of every key and item.

    Attributes:
        file: The name shown in messages (as given to :func:`parse_yaml`).
        data: The top-level mapping as plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``
            (and ``datetime``/``date``/``bytes`` for YAML timestamps and binaries).
        positions: Path -> position, for the root (``()``), every mapping entry and every list item.
    """

    file: str
    data: dict[str, Any]
    positions: Mapping[tuple[Any, ...], NodePosition] = field(default_factory=dict, repr=False, compare=False)

    def value_at(self, path: Iterable[Any]) -> Any:
        """The data at ``path``.

        Raises:
            KeyError: ``path`` does not exist in the document.
        """
        value: Any = self.data
        for segment in path:
            try:
                value = value[segment]
            except (KeyError, IndexError, TypeError) as exc:
                raise KeyError(tuple(path)) from exc
        return value

    def has(self, path: Iterable[Any]) -> bool:
        """Whether ``path`` exists in the document."""
        return tuple(path) in self.positions

    def locate(self, path: Iterable[Any]) -> SourceLocation:
        """Where the key (mapping entry) or item (list element) at ``path`` starts.

        When ``path`` does not exist (a missing key, say), the position of its deepest existing parent.
        """
        position = self._nearest(tuple(path))
        return SourceLocation(self.file, position.key_line, position.key_col)

    def locate_value(self, path: Iterable[Any]) -> SourceLocation:
        """Where the value at ``path`` starts (for a block mapping or list: its first entry).

        When ``path`` does not exist, the value position of its deepest existing parent.
        """
        position = self._nearest(tuple(path))
        return SourceLocation(self.file, position.value_line, position.value_col)

    def _nearest(self, path: tuple[Any, ...]) -> NodePosition:
        for end in range(len(path), -1, -1):
            position = self.positions.get(path[:end])
            if position is not None:
                return position
        return _START


# --------------------------------------------------------------------------------------------------------
# Parsing


def parse_yaml(text: str, *, file: str) -> YamlDocument:
    """Parse one YAML document whose top level is a mapping.

    Args:
        text: The file's content.
        file: The name to show in messages, usually the path relative to the project root.

    Returns:
        The document; an empty (or comment-only) text gives ``data == {}``.

    Raises:
        ProjectError: The text is not valid YAML (with the position and a hint), has duplicate keys (all of
            them are reported), uses unsupported tags, or its top level is not a mapping.
    """
    fast = _fast_load(text)
    if isinstance(fast, dict) and fast and _is_plain(fast, set()):
        return YamlDocument(file, fast, _LazyPositions(text, file))
    return _parse_round_trip(text, file)


def _parse_round_trip(text: str, file: str) -> YamlDocument:
    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except DuplicateKeyError as exc:
        problems = _duplicate_keys(yaml.compose(text), file) or [_syntax_problem(exc, text, file)]
        raise ProjectError(problems) from exc
    except YAMLError as exc:
        raise ProjectError(_syntax_problem(exc, text, file)) from exc
    if raw is None:
        return YamlDocument(file, {}, {(): _START})
    if not isinstance(raw, CommentedMap):  # a list knows its position, a scalar does not: use its first line
        first = next((n for n, line in enumerate(text.splitlines(), 1) if line.strip()[:1] not in "#"), 1)
        at = _position(raw, None, NodePosition(first, 1, first, 1))
        message = f"the top level must be a mapping of keys, got {describe_value(_plain_scalar(raw))}"
        location = SourceLocation(file, at.key_line, at.key_col)
        raise ProjectError(Problem(message, location, "start the file with 'key: value' lines"))
    converter = _Converter(file)
    data = converter.convert(raw, (), _position(raw, None, _START))
    raise_problems(converter.problems)
    return YamlDocument(file, data, converter.positions)


_fast_loaders = threading.local()
_PLAIN_SCALARS = (str, int, float, bool, type(None), datetime, date, bytes)


def _fast_load(text: str) -> Any:
    """The data of ``text`` by the C safe loader, or None when that fails or is not installed."""
    loader = getattr(_fast_loaders, "yaml", None)
    if loader is None:
        loader = _fast_loaders.yaml = YAML(typ="safe", pure=False)
    try:
        return loader.load(text)
    except Exception:  # the round-trip parser says what is wrong, with positions
        return None


def _is_plain(value: Any, active: set[int]) -> bool:
    """Whether ``value`` holds only what the round-trip path would produce: str keys, lists, plain scalars."""
    if isinstance(value, _PLAIN_SCALARS):
        return True
    if not isinstance(value, dict | list) or id(value) in active:
        return False  # sets, tuples from complex keys, and alias cycles take the round-trip path
    active.add(id(value))
    try:
        if isinstance(value, dict):
            return all(isinstance(k, str) and _is_plain(v, active) for k, v in value.items())
        return all(_is_plain(item, active) for item in value)
    finally:
        active.discard(id(value))


class _LazyPositions(Mapping[tuple[Any, ...], NodePosition]):
    """The positions of a valid document, found by the round-trip parser the first time one is asked for."""

    def __init__(self, text: str, file: str) -> None:
        self._text = text
        self._file = file
        self._positions: Mapping[tuple[Any, ...], NodePosition] | None = None
        self._lock = threading.Lock()

    def _resolved(self) -> Mapping[tuple[Any, ...], NodePosition]:
        with self._lock:
            if self._positions is None:
                self._positions = _parse_round_trip(self._text, self._file).positions
            return self._positions

    def __getitem__(self, path: tuple[Any, ...]) -> NodePosition:
        return self._resolved()[path]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


def raise_problems(problems: Iterable[Problem]) -> None:
    """Raise one :class:`ProjectError` carrying ``problems``, if there are any.

    Raises:
        ProjectError: ``problems`` is not empty.
    """
    collected = list(problems)
    if collected:
        raise ProjectError(collected)


class _Converter:
    """Turns ruamel's round-trip nodes into plain data and records each entry's position."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[tuple[Any, ...], NodePosition] = {}
        self.problems: list[Problem] = []
        self._active: set[int] = set()  # collections being converted: an alias to one of them is a cycle

    def convert(self, node: Any, path: tuple[Any, ...], position: NodePosition) -> Any:
        self.positions[path] = position
        tag = getattr(node, "tag", None)
        tag = str(getattr(tag, "value", tag) or "")
        if tag and not (
            tag.startswith(_YAML_TAG_PREFIX) and isinstance(node, CommentedMap | CommentedSeq | CommentedSet)
        ):
            if tag == f"{_YAML_TAG_PREFIX}str" and isinstance(node, TaggedScalar):
                return str(node.value)
            shown = tag.replace(_YAML_TAG_PREFIX, "!!")
            self.problem(f"unsupported YAML tag '{shown}'", position, "remove the tag; lockgate reads plain YAML")
            return None
        if not isinstance(node, CommentedMap | CommentedSeq | CommentedSet):
            return _plain_scalar(node)
        if id(node) in self._active:
            self.problem("a value contains itself through an alias", position, "remove the recursive '*alias'")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, CommentedMap):
                items = [(_plain_scalar(key), value, _position(node, key, position)) for key, value in node.items()]
                return {key: self.convert(value, (*path, key), at) for key, value, at in items}
            if isinstance(node, CommentedSet):
                return {_plain_scalar(item) for item in node}
            return [self.convert(item, (*path, i), _position(node, i, position)) for i, item in enumerate(node)]
        finally:
            self._active.discard(id(node))

    def problem(self, message: str, position: NodePosition, hint: str) -> None:
        location = SourceLocation(self.file, position.value_line, position.value_col)
        self.problems.append(Problem(message, location, hint))


def _position(node: Any, key: Any, parent: NodePosition) -> NodePosition:
    """Where entry ``key`` of a mapping or list starts (the node itself for ``key=None``), else ``parent``.

    Merged keys (``<<: *anchor``) are found in the anchored mapping.
    """
    lc = getattr(node, "lc", None)
    found = [lc.line, lc.col] if key is None and lc is not None and lc.line is not None else None
    for source in (node, *getattr(node, merge_attrib, ())) if key is not None else ():
        data = getattr(getattr(source, "lc", None), "data", None) or {}
        if key in data:
            found = data[key]
            break
    if not found:
        return parent
    line, col, *value = [number + 1 for number in found]
    return NodePosition(line, col, *(value or (line, col)))


def _plain_scalar(value: Any) -> Any:
    """ruamel's scalar subclasses (``ScalarFloat``, ``HexInt``, ``LiteralScalarString``...) as builtins."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    for plain in (bool, int, float, str):  # bool first: ruamel's ScalarBoolean is an int
        if isinstance(value, ScalarBoolean if plain is bool else plain):
            return plain(value)
    if isinstance(value, datetime) and type(value) is not datetime:
        return datetime.combine(value.date(), value.timetz())  # ruamel's TimeStamp
    if isinstance(value, tuple):  # a complex key such as ``? [a, b]``
        return tuple(_plain_scalar(item) for item in value)
    return value


def _duplicate_keys(root: Any, file: str) -> list[Problem]:
    """Every repeated key of every mapping in a composed node tree, in file order."""
    problems: list[tuple[int, int, Problem]] = []
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        if not isinstance(node, MappingNode):
            continue
        first: dict[tuple[str, str], int] = {}
        for key_node, value_node in node.value:
            stack.append(value_node)
            if not isinstance(key_node, ScalarNode) or str(key_node.tag) == f"{_YAML_TAG_PREFIX}merge":
                continue
            ident, mark = (str(key_node.tag), str(key_node.value)), key_node.start_mark
            if ident not in first:
                first[ident] = mark.line + 1
                continue
            problem = Problem(
                f"duplicate key '{key_node.value}'",
                SourceLocation(file, mark.line + 1, mark.column + 1),
                f"'{key_node.value}' is already set at line {first[ident]}; keep only one of them",
            )
            problems.append((mark.line, mark.column, problem))
    return [problem for _, _, problem in sorted(problems, key=lambda item: item[:2])]


# --------------------------------------------------------------------------------------------------------
# YAML syntax errors


# (regex over "context\nproblem", message, hint, point at where the construct started rather than where ruamel
# gave up). Messages and hints are formatted with the regex groups and ``start``, the character at the start.
# fmt: off
_SYNTAX_RULES: tuple[tuple[str, str, str, bool], ...] = (
    (r'found duplicate key "(.*)" with value', "duplicate key '{0}'",
     "each key may appear only once in a mapping; keep one", False),
    (r"'\\t'|\btab\b", "tab character is not allowed here", _TAB_HINT, False),
    (r"quoted scalar\n.*(end of stream|document separator)", "unclosed quote",
     "add the closing {start} at the end of the value", True),
    (r"mapping values are not allowed here", "unexpected ':' in a value",
     "quote a value that contains ': ' (key: \"a: b\"), or fix the indentation of this line", False),
    (r"could not find expected ':'", "missing ':' after a key",
     "write 'key: value' with a space after ':', and indent continuation lines below their key", True),
    (r"expected <block end>", "bad indentation: this line does not line up with the lines above it",
     "entries of one mapping or list must start in the same column; indent nested ones with spaces", False),
    (r"while parsing a flow \w+\nexpected ',' or '(.)'", "'{start}' is not closed",
     "add the matching '{0}', and separate entries with ','", True),
    (r"found undefined alias '?([^']*)'?", "unknown alias '*{0}'",
     "define the anchor '&{0}' on an earlier value first", False),
    (r"single document", "a file may hold only one YAML document",
     "remove the '---' line and what follows it", False),
    (r"found character '(.+)' that cannot start any token", "a plain value cannot start with '{0}'",
     "put the value in quotes", False),
)
# fmt: on


def _syntax_problem(exc: YAMLError, text: str, file: str) -> Problem:
    """One YAML syntax error as a positioned problem with a hint."""
    lines = text.splitlines()
    if not isinstance(exc, MarkedYAMLError):  # ruamel's ReaderError: a character YAML does not accept
        offset = getattr(exc, "position", 0)
        line, col = text.count("\n", 0, offset), offset - (text.rfind("\n", 0, offset) + 1)
        message, hint, mark = (
            "the file contains a control character",
            "remove it; YAML must be plain text",
            None,
        )
    else:
        message, hint, mark = _syntax_rule(exc, lines)
        line, col = mark.line, mark.column
    if 0 <= line < len(lines) and "\t" in lines[line] and _TAB_HINT not in hint:
        hint += f" (this line contains a tab: {_TAB_HINT})"
    return Problem(message, SourceLocation(file, line + 1, col + 1), hint)


def _syntax_rule(exc: MarkedYAMLError, lines: list[str]) -> tuple[str, str, Any]:
    """Message, hint and mark (0-based) for a ruamel syntax error, from the first matching rule."""
    problem, context = str(exc.problem or ""), str(exc.context or "")
    mark = exc.problem_mark or exc.context_mark
    start = ""
    if exc.context_mark is not None and 0 <= exc.context_mark.line < len(lines):
        start = lines[exc.context_mark.line][exc.context_mark.column : exc.context_mark.column + 1]
    for pattern, message, hint, at_context in _SYNTAX_RULES:
        if found := re.search(pattern, f"{context}\n{problem}"):
            mark = exc.context_mark if at_context and exc.context_mark is not None else mark
            return (
                message.format(*found.groups(), start=start),
                hint.format(*found.groups(), start=start),
                mark,
            )
    hint = "check the indentation, the quotes and the ':' after each key near this position"
    return f"invalid YAML: {problem or context}", hint, mark


# --------------------------------------------------------------------------------------------------------
# Values in messages


def describe_value(value: Any) -> str:
    """How a value reads in a message, YAML-flavoured: ``'abc'``, ``3``, ``true``, ``null``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        shown = value if len(value) <= 40 else f"{value[:37]}..."
        return "'" + shown.replace("\n", "\\n") + "'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple | set):
        return "a list"
    return type(value).__name__
