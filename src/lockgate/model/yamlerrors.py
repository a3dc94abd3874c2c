"""Pydantic validation errors mapped back to ``file:line:col`` in a parsed YAML document.

Owns :func:`validate_document`: validating a document, or part of one, against a pydantic model and turning each
``ValidationError`` entry into a :class:`Problem` with a position, a message in the user's YAML terms and a hint.
Reading YAML and knowing positions is :mod:`lockgate.model.yamlsource`.

Key contracts:
- Pure: works on a parsed :class:`YamlDocument`, never on text or paths.
- Every error of a document is reported at once, sorted in file order; a list that is "too short" only because
  its items failed is dropped as noise.
- Each error's ``loc`` is walked through the model's core schema, so union tags, union member labels and
  ``[key]`` segments, which do not exist in the data, never reach :meth:`YamlDocument.locate`.
- Positions are 1-based. Unknown keys point at the key, missing keys at the mapping (or list item) that
  lacks them, wrong scalar values at the value, wrong collections at their key.
- Messages name the place as users write it (``activities[0].params``); a validator's own message is kept, minus
  pydantic's prefix, and a ``\nhint:`` part in it becomes the hint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from pydantic_core.core_schema import ErrorType

from lockgate.errors import Problem, SourceLocation
from lockgate.model.suggest import did_you_mean, format_choices
from lockgate.model.yamlsource import YamlDocument, YamlPath, describe_value

__all__ = ["validate_document"]

ModelT = TypeVar("ModelT", bound=BaseModel)


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
        message = _prefixed(full, f"expected {format_choices(expected)}, got {describe_value(given)}")
        suggestion = did_you_mean(str(given), expected) if isinstance(given, str) else None
        hint = f"did you mean '{suggestion}'?" if suggestion else f"use one of: {', '.join(expected)}"
        return Problem(message, self._value_location(full), hint)

    def _wrong_type(self, target: _Target, error: ErrorDetails) -> Problem:
        full = self._full(target)
        expected, hint = _EXPECTED[error["type"]]
        if target.is_key:
            message = _prefixed(full, f"key {describe_value(full[-1])} is invalid: expected {expected}")
            return Problem(message, self.doc.locate(full), hint)
        message = _prefixed(full, f"expected {expected}, got {describe_value(error['input'])}")
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
            text += f", got {describe_value(given)}"
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
