"""YAML text with positions, and pydantic errors mapped back to ``file:line:col``.

Owns the one place lockgate reads YAML syntax (ruamel round-trip, which keeps the line and column of every
key and item) and the one place that turns pydantic ``ValidationError`` entries into :class:`Problem` s.

Key contracts:
- Pure: functions take text, never paths; nothing here touches the file system.
- :func:`parse_yaml` raises :class:`ProjectError` for anything that is not a single YAML mapping, with the
  position of the fault and a hint. ``YamlDocument.data`` holds plain Python values only.
- :func:`validate_document` reports every error of a document at once, sorted in file order. It walks each
  error's ``loc`` through the model's core schema, so union tags, union member labels and ``[key]`` segments,
  which do not exist in the data, never reach :meth:`YamlDocument.locate`.
- Positions are 1-based. Unknown keys point at the key, missing keys at the mapping (or list item) that
  lacks them, wrong scalar values at the value, wrong collections at their key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from pydantic_core.core_schema import ErrorType
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, CommentedSet, TaggedScalar, merge_attrib
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.scalarbool import ScalarBoolean

from lockgate.errors import Problem, ProjectError, SourceLocation
from lockgate.model.suggest import did_you_mean, format_choices

__all__ = ["NodePosition", "YamlDocument", "YamlPath", "parse_yaml", "raise_problems", "validate_document"]

YamlPath = tuple[str | int, ...]
"""Keys and list indexes from the top of a document down to one value, e.g. ``("activities", 0, "type")``."""

ModelT = TypeVar("ModelT", bound=BaseModel)

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
        message = f"the top level must be a mapping of keys, got {_describe(_plain_scalar(raw))}"
        location = SourceLocation(file, at.key_line, at.key_col)
        raise ProjectError(Problem(message, location, "start the file with 'key: value' lines"))
    converter = _Converter(file)
    data = converter.convert(raw, (), _position(raw, None, _START))
    raise_problems(converter.problems)
    return YamlDocument(file, data, converter.positions)


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
# Validation


def validate_document(
    doc: YamlDocument,
    model: type[ModelT],
    *,
    context: dict[str, Any] | None = None,
    base_path: YamlPath = (),
) -> tuple[ModelT | None, list[Problem]]:
    """Validate part of a document against a pydantic model, reporting errors at their YAML positions.

    Args:
        doc: The parsed document.
        model: The model to validate with (``model.model_validate``).
        context: Passed to pydantic as validation context.
        base_path: Where in the document the model's data lives, e.g. ``("environments", "dev")``.

    Returns:
        ``(instance, [])`` on success, else ``(None, problems)`` with one problem per pydantic error,
        sorted by line and column.

    Raises:
        KeyError: ``base_path`` does not exist in ``doc``.
    """
    data = doc.value_at(base_path)
    try:
        return model.model_validate(data, context=context), []
    except ValidationError as exc:
        mapper = _ErrorMapper(doc, model, tuple(base_path))
        errors = exc.errors(include_url=False)
        problems = list(dict.fromkeys(mapper.problem(error) for error in errors if not _is_consequence(error, errors)))
    problems.sort(key=lambda p: (p.location.line or 0, p.location.col or 0) if p.location else (0, 0))
    return None, problems


def _is_consequence(error: ErrorDetails, errors: list[ErrorDetails]) -> bool:
    """A list that is "too short" only because its items failed (pydantic counts the valid ones): noise."""
    loc = tuple(error["loc"])
    return error["type"] == "too_short" and any(
        len(other["loc"]) > len(loc) and tuple(other["loc"][: len(loc)]) == loc for other in errors
    )


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a pydantic ``loc`` lands: the data path and the schema found there."""

    path: tuple[Any, ...]  # below base_path, union tags and member labels removed
    schema: Mapping[str, Any] | None  # unwrapped schema at the end of loc; None when it could not be followed
    keys: tuple[str, ...] | None  # keys allowed in the mapping holding the last segment
    is_key: bool  # the error is about a dict key, not its value


# Schema types that wrap another schema without adding a ``loc`` segment
_WRAPPERS = frozenset(
    {"default", "nullable", "function-after", "function-before", "function-wrap", "model", "dataclass"}
    | {"custom-error", "definitions"}
)
_SEQUENCES = frozenset({"list", "set", "frozenset", "generator", "tuple"})
_FIELDS = frozenset({"model-fields", "typed-dict", "dataclass-args"})
_SKIPPED_SCHEMA_KEYS = frozenset({"metadata", "cls", "config", "default", "serialization", "function"})
_SYNTHETIC = re.compile(r"^\[key\]$|^[\w-]+\[.*\]$")


def _definitions(schema: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every schema carrying a ``ref`` in a core schema tree, so ``definition-ref`` can be followed."""
    found: dict[str, Mapping[str, Any]] = {}
    stack: list[Any] = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if isinstance(item.get("ref"), str) and "type" in item:
                found[item["ref"]] = item
            stack.extend(value for key, value in item.items() if key not in _SKIPPED_SCHEMA_KEYS)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def _unwrap(schema: Any, defs: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Skip schema layers that add no ``loc`` segment (defaults, validators, model shells, refs)."""
    for _ in range(100):  # a ref chain never gets near this; it only guards against a malformed schema
        if not isinstance(schema, Mapping):
            return None
        kind = schema.get("type")
        if kind == "definition-ref":
            schema = defs.get(schema.get("schema_ref", ""))
        elif kind in _WRAPPERS and "schema" in schema:
            schema = schema["schema"]
        elif kind == "lax-or-strict":
            schema = schema.get("lax_schema")
        elif kind == "json-or-python":
            schema = schema.get("python_schema")
        else:
            return schema
    return None


def _model_name(schema: Any, defs: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The class name of the model (or dataclass) a schema validates, if it validates one."""
    for _ in range(100):
        if not isinstance(schema, Mapping):
            return None
        if schema.get("type") in ("model", "dataclass", "typed-dict") and "cls" in schema:
            return str(schema["cls"].__name__)
        schema = defs.get(schema["schema_ref"]) if schema.get("type") == "definition-ref" else schema.get("schema")
    return None


def _fields(schema: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """``(input key, field name, schema)`` per field of a model, typed-dict or dataclass schema."""
    raw = schema.get("fields", {})
    pairs = raw.items() if isinstance(raw, Mapping) else ((spec.get("name", ""), spec) for spec in raw)
    found = []
    for name, spec in pairs:
        alias = spec.get("validation_alias")
        while isinstance(alias, list) and alias:  # AliasPath / AliasChoices: the first key is what users write
            alias = alias[0]
        found.append((alias if isinstance(alias, str) else name, name, spec.get("schema")))
    return found


def _union_choice(schema: Mapping[str, Any], label: Any, defs: Mapping[str, Mapping[str, Any]]) -> Any:
    """The member of a (smart) union that pydantic labels ``label`` in ``loc``."""
    for choice in schema.get("choices", ()):
        member, name = choice if isinstance(choice, tuple) else (choice, None)
        unwrapped = _unwrap(member, defs)
        name = name or _model_name(member, defs) or (unwrapped or {}).get("type")
        if name == label:
            return member
    return None


def _item_schema(schema: Mapping[str, Any], index: Any) -> Any:
    items = schema.get("items_schema")
    if not isinstance(items, list):
        return items
    variadic = schema.get("variadic_item_index")
    if isinstance(index, int) and 0 <= index < len(items) and (variadic is None or index <= variadic):
        return items[index]
    return items[variadic] if variadic is not None else None


def _exists(data: Any, path: tuple[Any, ...]) -> bool:
    try:
        for segment in path:
            data = data[segment]
    except (KeyError, IndexError, TypeError):
        return False
    return True


def _resolve(
    loc: tuple[Any, ...], schema: Mapping[str, Any], defs: Mapping[str, Mapping[str, Any]], data: Any
) -> _Target:
    """Follow ``loc`` through a core schema, keeping only the segments that exist in the data."""
    node = _unwrap(schema, defs)
    path: list[Any] = []
    keys: tuple[str, ...] | None = None
    is_key = False
    for segment in loc:
        kind = node.get("type") if node is not None else None
        if segment == "[key]":
            is_key, node = True, _unwrap(node.get("keys_schema"), defs) if node is not None else None
        elif kind in _FIELDS and node is not None:
            fields = _fields(node)
            keys = tuple(key for key, _, _ in fields)
            path.append(segment)
            node = _unwrap(next((field for key, name, field in fields if segment in (key, name)), None), defs)
        elif kind == "tagged-union" and node is not None:
            node = _unwrap(node["choices"].get(segment), defs)
        elif kind == "union" and node is not None:
            node = _unwrap(_union_choice(node, segment, defs), defs)
        elif kind in _SEQUENCES and node is not None:
            path.append(segment)
            node = _unwrap(_item_schema(node, segment), defs)
        elif kind == "dict" and node is not None:
            path.append(segment)
            node = _unwrap(node.get("values_schema"), defs)
        elif not (isinstance(segment, str) and _SYNTHETIC.match(segment) and not _exists(data, (*path, segment))):
            path.append(segment)
            node = None
    return _Target(tuple(path), node, keys, is_key)


# Error type -> (what was expected, how to fix it)
# fmt: off
_EXPECTED: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("int_parsing", "int_type", "int_from_float", "int_parsing_size"),
                    ("an integer", "write a whole number such as 3, without quotes")),
    **dict.fromkeys(("float_parsing", "float_type", "decimal_parsing", "decimal_type"),
                    ("a number", "write a number such as 1.5, without quotes")),
    **dict.fromkeys(("bool_parsing", "bool_type"), ("true or false", "write true or false, without quotes")),
    **dict.fromkeys(("string_type", "string_unicode"), ("a string", "put the value in quotes")),
    **dict.fromkeys(("dict_type", "mapping_type", "model_type", "model_attributes_type", "dataclass_type"),
                    ("a mapping", "write 'key: value' entries indented below this key")),
    **dict.fromkeys(("list_type", "tuple_type", "set_type", "frozen_set_type", "iterable_type"),
                    ("a list", "write one '- item' line per element below this key, or [a, b]")),
    **dict.fromkeys(("date_parsing", "date_type", "date_from_datetime_parsing", "date_from_datetime_inexact"),
                    ("a date", "write a date as YYYY-MM-DD")),
    **dict.fromkeys(("datetime_parsing", "datetime_type", "datetime_from_date_parsing"),
                    ("a date and time", "write a timestamp as YYYY-MM-DDTHH:MM:SS, with an optional zone")),
    **dict.fromkeys(("time_parsing", "time_type"), ("a time of day", "write a time as HH:MM or HH:MM:SS")),
    **dict.fromkeys(("timedelta_parsing", "timedelta_type"),
                    ("a duration", "write a duration in seconds or as ISO 8601 (PT5M)")),
    "none_required": ("no value", "remove the value"),
}
# fmt: on
_STANDARD_ERRORS = frozenset(get_args(ErrorType))
_VALIDATOR_PREFIXES = ("Value error, ", "Assertion failed, ")


class _ErrorMapper:
    """Turns one pydantic error into a :class:`Problem` positioned in the document."""

    def __init__(self, doc: YamlDocument, model: type[BaseModel], base_path: tuple[Any, ...]) -> None:
        self.doc = doc
        self.base_path = base_path
        self.data = doc.value_at(base_path)
        self.schema: Mapping[str, Any] = model.__pydantic_core_schema__
        self.defs = _definitions(self.schema)

    def problem(self, error: ErrorDetails) -> Problem:
        target = _resolve(tuple(error["loc"]), self.schema, self.defs, self.data)
        kind = error["type"]
        if kind == "extra_forbidden":
            return self._extra(target)
        if kind == "missing":
            return self._missing(target, error)
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            return self._tag(target, error)
        if kind in ("literal_error", "enum"):
            return self._choice(target, error)
        if kind in _EXPECTED:
            return self._wrong_type(target, error)
        if kind in ("value_error", "assertion_error") or kind not in _STANDARD_ERRORS:
            return self._validator(target, error)
        return self._generic(target, error)

    def _full(self, target: _Target) -> tuple[Any, ...]:
        return (*self.base_path, *target.path)

    def _value_location(self, path: tuple[Any, ...]) -> SourceLocation:
        """The value for scalars (the exact token), the key for collections (their value starts lower)."""
        if self.doc.has(path) and not isinstance(self.doc.value_at(path), dict | list):
            return self.doc.locate_value(path)
        return self.doc.locate(path)

    def _extra(self, target: _Target) -> Problem:
        full = self._full(target)
        key, parent = full[-1], full[:-1]
        where = f"in {_display(parent)}" if parent else "at the top level"
        if target.keys is None:
            hint = "remove the key or check its spelling"
        else:
            present = self.doc.value_at(parent) if self.doc.has(parent) else {}
            spare = [name for name in target.keys if not isinstance(present, dict) or name not in present]
            suggestion = did_you_mean(str(key), spare)
            hint = f"allowed keys: {', '.join(target.keys)}"
            if suggestion:
                hint = f"did you mean '{suggestion}'? {hint}"
        return Problem(f"unknown key '{key}' {where}", self.doc.locate(full), hint)

    def _missing(self, target: _Target, error: ErrorDetails) -> Problem:
        full = self._full(target)
        loc = error["loc"]
        key, parent = (full[-1], full[:-1]) if target.path else (loc[-1] if loc else "?", full)
        where = f"to {_display(parent)}" if parent else "at the top level"
        return Problem(f"missing required key '{key}'", self.doc.locate(parent), f"add '{key}: ...' {where}")

    def _tag(self, target: _Target, error: ErrorDetails) -> Problem:
        full = self._full(target)
        ctx = error.get("ctx") or {}
        union = target.schema if target.schema is not None and target.schema.get("type") == "tagged-union" else None
        tags = [str(tag) for tag in union["choices"]] if union else _quoted(str(ctx.get("expected_tags", "")))
        field_name = _tag_field(union, ctx)
        what = " ".join(part for part in (self._noun(union), field_name or "") if part) or "tag"
        listed = ", ".join(tags)
        if error["type"] == "union_tag_not_found":
            message = f"missing required key '{field_name}'" if field_name else f"cannot tell the {what}"
            return Problem(message, self.doc.locate(full), f"set '{field_name or what}' to one of: {listed}")
        tag = str(ctx.get("tag", ""))
        message = f"unknown {what} '{tag}'; expected one of: {listed}"
        if suggestion := did_you_mean(tag, tags):
            message += f" (did you mean '{suggestion}'?)"
        tag_path = (*full, field_name)
        location = self.doc.locate_value(tag_path) if self.doc.has(tag_path) else self.doc.locate(full)
        return Problem(message, location, f"change '{field_name or what}' to one of: {listed}")

    def _noun(self, union: Mapping[str, Any] | None) -> str:
        """``activity`` for a union of ``NotebookActivity | SqlActivity``: their shared CamelCase suffix."""
        if union is None:
            return ""
        names = [_model_name(choice, self.defs) for choice in union["choices"].values()]
        words = [re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+", name) for name in names if name]
        if len(words) < 2 or len(words) != len(names):
            return ""
        common: list[str] = []
        while all(len(split) > len(common) + 1 for split in words):
            candidates = {split[-1 - len(common)] for split in words}
            if len(candidates) != 1:
                break
            common.insert(0, candidates.pop())
        return " ".join(common).lower()

    def _choice(self, target: _Target, error: ErrorDetails) -> Problem:
        full = self._full(target)
        schema = target.schema or {}
        if schema.get("type") == "literal":
            expected = [str(value) for value in schema.get("expected", ())]
        elif schema.get("type") == "enum":
            expected = [str(getattr(member, "value", member)) for member in schema.get("members", ())]
        else:
            expected = _quoted(str((error.get("ctx") or {}).get("expected", "")))
        given = error["input"]
        message = _prefixed(full, f"expected {format_choices(expected)}, got {_describe(given)}")
        suggestion = did_you_mean(str(given), expected) if isinstance(given, str) else None
        hint = f"did you mean '{suggestion}'?" if suggestion else f"use one of: {', '.join(expected)}"
        return Problem(message, self._value_location(full), hint)

    def _wrong_type(self, target: _Target, error: ErrorDetails) -> Problem:
        full = self._full(target)
        expected, hint = _EXPECTED[error["type"]]
        if target.is_key:
            message = _prefixed(full, f"key {_describe(full[-1])} is invalid: expected {expected}")
            return Problem(message, self.doc.locate(full), hint)
        message = _prefixed(full, f"expected {expected}, got {_describe(error['input'])}")
        return Problem(message, self._value_location(full), hint)

    def _validator(self, target: _Target, error: ErrorDetails) -> Problem:
        cause = (error.get("ctx") or {}).get("error")
        text = str(cause) if isinstance(cause, Exception) else error["msg"]
        for prefix in _VALIDATOR_PREFIXES:
            text = text.removeprefix(prefix)
        message, _, hint = text.partition("\nhint:")
        return Problem(message.strip(), self._value_location(self._full(target)), hint.strip() or None)

    def _generic(self, target: _Target, error: ErrorDetails) -> Problem:
        full = self._full(target)
        text = error["msg"]
        text = "must be" + text.removeprefix("Input should be") if text.startswith("Input should be") else text
        text = text[:1].lower() + text[1:]
        given = error["input"]
        if not isinstance(given, dict | list):
            text += f", got {_describe(given)}"
        return Problem(_prefixed(full, text), self._value_location(full), None)


def _tag_field(union: Mapping[str, Any] | None, ctx: Mapping[str, Any]) -> str | None:
    """The key that selects a union member, when it is a plain key (not a callable discriminator)."""
    discriminator = union.get("discriminator") if union else None
    if isinstance(discriminator, str):
        return discriminator
    found = re.fullmatch(r"'([^']*)'", str(ctx.get("discriminator", "")))
    return found.group(1) if found else None


def _quoted(text: str) -> list[str]:
    """``"'a', 'b' or 'c'"`` (pydantic's ``ctx`` lists) -> ``["a", "b", "c"]``."""
    found = re.findall(r"'((?:[^'\\]|\\.)*)'", text)
    return found or ([text] if text else [])


def _display(path: Iterable[Any]) -> str:
    """``("activities", 0, "params")`` -> ``activities[0].params``."""
    text = ""
    for segment in path:
        if isinstance(segment, int) and not isinstance(segment, bool):
            text += f"[{segment}]"
        else:
            text += f".{segment}" if text else str(segment)
    return text


def _prefixed(path: tuple[Any, ...], text: str) -> str:
    shown = _display(path)
    return f"{shown}: {text}" if shown else text


def _describe(value: Any) -> str:
    """A short YAML-flavoured rendering of a value for "got ..." (``'abc'``, ``3``, ``true``, ``a list``)."""
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
