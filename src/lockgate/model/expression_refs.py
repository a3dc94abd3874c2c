"""Static checks of a pipeline's expressions, before anything runs.

Each `{{ ... }}` field is parsed; names it reads are checked against what the run will provide: a known
top-level name (``pipeline``, ``env``...), a declared parameter or variable, an activity that runs before the
one reading its output, ``item`` only inside a ``foreach``. What cannot be known statically (the shape of an
activity's output) is checked when the field is rendered.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateSyntaxError, meta, nodes
from pydantic import BaseModel

from lockgate.errors import Problem
from lockgate.model.activities import ActivityBase, ActivityPath, ForEachActivity, SqlActivity, UntilActivity
from lockgate.model.expressions import CONTEXT_NAMES, FUNCTIONS, environment, is_template
from lockgate.model.project import Locate, unknown_name_problem

if TYPE_CHECKING:
    from lockgate.model.pipeline import Pipeline

_KNOWN_NAMES = CONTEXT_NAMES | frozenset(FUNCTIONS) | frozenset(environment().globals)


def find_expression_problems(pipeline: Pipeline, locate: Locate) -> list[Problem]:
    """Problems in every expression of ``pipeline``: syntax, unknown names, activities not yet run."""
    problems: list[Problem] = []
    all_names = {activity.name for _, activity in pipeline.all_activities()}
    for scope in _scopes(pipeline.activities, ("activities",), upstream_outside=frozenset(), in_foreach=False):
        for index, activity in enumerate(scope.activities):
            visible = scope.upstream_outside | _upstream(activity.name, scope.activities)
            path = (*scope.path, index)
            for field, text in _template_fields(activity):
                # An until's condition is checked after each pass, so it may read the pass's activities.
                seen = visible | _pass_names(activity) if field == ("condition",) else visible
                problems += _check_template(
                    text,
                    locate((*path, *field)),
                    pipeline,
                    all_names=all_names,
                    visible=seen,
                    reader=activity.name,
                    in_foreach=scope.in_foreach,
                )
    top_level = frozenset(a.name for a in pipeline.activities)
    for name, value in pipeline.outputs.items():
        for field, text in _strings(value, ()):
            problems += _check_template(
                text,
                locate(("outputs", name, *field)),
                pipeline,
                all_names=all_names,
                visible=top_level,
                reader=None,
                in_foreach=False,
            )
    return problems


class _Scope:
    def __init__(
        self, activities: tuple[Any, ...], path: ActivityPath, upstream_outside: frozenset[str], *, in_foreach: bool
    ):
        self.activities = activities
        self.path = path
        self.upstream_outside = upstream_outside
        self.in_foreach = in_foreach


def _scopes(
    activities: tuple[Any, ...], path: ActivityPath, *, upstream_outside: frozenset[str], in_foreach: bool
) -> Iterator[_Scope]:
    yield _Scope(activities, path, upstream_outside, in_foreach=in_foreach)
    for index, activity in enumerate(activities):
        inherited = upstream_outside | _upstream(activity.name, activities)
        nested_foreach = in_foreach or isinstance(activity, ForEachActivity)
        for suffix, children in activity.child_scopes():
            yield from _scopes(children, (*path, index, *suffix), upstream_outside=inherited, in_foreach=nested_foreach)


def _pass_names(activity: ActivityBase) -> frozenset[str]:
    if not isinstance(activity, UntilActivity):
        return frozenset()
    return frozenset(child.name for child in activity.activities)


def _upstream(name: str, activities: tuple[Any, ...]) -> frozenset[str]:
    """Names ``name`` depends on in its list, directly or not."""
    by_name = {a.name: a for a in activities}
    seen: set[str] = set()
    stack = [name]
    while stack:
        current = by_name.get(stack.pop())
        if current is None:
            continue
        for dependency in current.depends_on:
            if dependency.activity not in seen:
                seen.add(dependency.activity)
                stack.append(dependency.activity)
    seen.discard(name)
    return frozenset(seen)


def _template_fields(activity: ActivityBase) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(field path, text) of every templated string of an activity, nested activity lists left out."""
    nested = {suffix[0] for suffix, _ in activity.child_scopes()}
    for field in type(activity).model_fields:
        if field in nested or field in ("name", "description", "depends_on"):
            continue
        if isinstance(activity, SqlActivity) and field == "sql":
            continue  # `{{ name }}` in SQL text is Databricks' parameter syntax, filled from `parameters:`
        yield from _strings(getattr(activity, field), (field,))


def _strings(value: Any, path: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        if is_template(value):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if not isinstance(item, ActivityBase):
                yield from _strings(item, (*path, index))
    elif isinstance(value, BaseModel) and not isinstance(value, ActivityBase):
        for field in type(value).model_fields:
            yield from _strings(getattr(value, field), (*path, field))


def _check_template(
    text: str,
    location: Any,
    pipeline: Pipeline,
    *,
    all_names: set[str],
    visible: frozenset[str],
    reader: str | None,
    in_foreach: bool,
) -> list[Problem]:
    try:
        tree = environment().parse(text)
        undeclared = meta.find_undeclared_variables(tree)  # compiles the template: unknown filters fail here
    except TemplateSyntaxError as exc:
        return [
            Problem(f"expression does not parse: {exc.message}", location, "expressions use Jinja syntax: {{ ... }}")
        ]
    problems: list[Problem] = []
    for name in sorted(undeclared):
        if name == "item" and not in_foreach:
            problems.append(Problem("`item` is only defined inside a foreach", location))
        elif name not in _KNOWN_NAMES:
            problems.append(
                unknown_name_problem(
                    "name", name, sorted(CONTEXT_NAMES - {"item"}), location, fix="see docs/expressions.md"
                )
            )
    for kind, name in _references(tree):
        if kind == "activity":
            if name not in all_names:
                problems.append(unknown_name_problem("activity", name, sorted(all_names), location))
            elif name not in visible:
                who = f"{reader!r}" if reader else "the pipeline's outputs"
                problems.append(
                    Problem(
                        f"activity {name!r} does not run before {who}, so its output may not exist yet",
                        location,
                        f"add `depends_on: [{name}]` (on this activity, or on the container it is in)",
                    )
                )
        elif kind == "parameter" and name not in pipeline.parameters:
            problems.append(unknown_name_problem("parameter", name, sorted(pipeline.parameters), location))
        elif kind == "variable" and name not in pipeline.variables:
            problems.append(
                unknown_name_problem(
                    "variable", name, sorted(pipeline.variables), location, fix="declare it under `variables:`"
                )
            )
    return problems


def _references(tree: nodes.Template) -> Iterator[tuple[str, str]]:
    """("activity" | "parameter" | "variable", name) for each literal reference in ``tree``."""
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "activity" and call.args:
            first = call.args[0]
            if isinstance(first, nodes.Const) and isinstance(first.value, str):
                yield "activity", first.value
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        assert isinstance(node, nodes.Getattr | nodes.Getitem)
        name = _member_name(node)
        if name is None:
            continue
        parent = node.node
        if isinstance(parent, nodes.Name) and parent.name == "variables":
            yield "variable", name
        elif isinstance(parent, nodes.Getattr | nodes.Getitem) and _member_name(parent) == "parameters":
            root = parent.node
            if isinstance(root, nodes.Name) and root.name == "pipeline":
                yield "parameter", name


def _member_name(node: nodes.Getattr | nodes.Getitem) -> str | None:
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        return node.arg.value
    return None
