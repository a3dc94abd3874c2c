"""Control-flow activities: `foreach`, `if`, `switch`, `until`, `pipeline`, variables, `wait` and `fail`.

Containers walk their nested lists through the run (``context.orchestrator``); a pass fails by the same leaf
rule as a pipeline, and a container fails when a pass fails (a `foreach` still runs every item, as in Azure
Data Factory, and then reports the failed ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lockgate.errors import ActivityError
from lockgate.model.activities import (
    AppendVariableActivity,
    ExecutePipelineActivity,
    FailActivity,
    ForEachActivity,
    IfActivity,
    SetVariableActivity,
    SwitchActivity,
    UntilActivity,
    WaitActivity,
)
from lockgate.model.duration import parse_duration
from lockgate.model.value import render_widget_value
from lockgate.services.activities.context import ActivityContext, ActivityStopped
from lockgate.services.run_events import ListResult, activity_view
from lockgate.state import ActivityStatus, RunStatus

_PREVIEW = 80


def run_foreach(activity: ForEachActivity, context: ActivityContext) -> dict[str, Any]:
    items = context.render(activity.items, "items")
    if not isinstance(items, list | tuple):
        raise context.field_error(
            f"`items` must be a list, got {type(items).__name__} {_preview(items)}",
            "items",
            hint="e.g. `items: \"{{ activity('list').output.childItems }}\"` or a YAML list",
        )

    def one_pass(index: int, item: Any) -> Any:
        return context.orchestrator.run_activities(
            activity.activities, ("activities",), iteration=str(index), names={"item": item}
        )

    if activity.sequential or activity.batch_count == 1 or len(items) <= 1:
        results = [one_pass(index, item) for index, item in enumerate(items)]
    else:
        with ThreadPoolExecutor(min(activity.batch_count, len(items)), thread_name_prefix="lockgate-foreach") as pool:
            futures = [pool.submit(one_pass, index, item) for index, item in enumerate(items)]
            results = [future.result() for future in futures]
    failed = [
        (index, result) for index, result in enumerate(results) if result.verdict.status != ActivityStatus.succeeded
    ]
    output = {"itemCount": len(items), "succeeded": len(items) - len(failed), "failed": len(failed)}
    if failed:
        shown = "; ".join(f"item {index}: {_pass_failure(result)}" for index, result in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        raise ActivityError(f"{len(failed)} of {len(items)} foreach items failed: {shown}{more}", output=output)
    return output


def run_if(activity: IfActivity, context: ActivityContext) -> dict[str, Any]:
    value = _as_bool(context.render(activity.condition, "condition"), context, "condition")
    branch, field = (activity.if_true, "if_true") if value else (activity.if_false, "if_false")
    output = {"condition": value, "branch": field}
    if branch:
        result = context.orchestrator.run_activities(branch, (field,), iteration=field, names={})
        _raise_if_failed(result, f"the {field} branch")
    return output


def run_switch(activity: SwitchActivity, context: ActivityContext) -> dict[str, Any]:
    value = context.render(activity.on, "on")
    key = render_widget_value(value)
    for index, case in enumerate(activity.cases):
        if render_widget_value(case.value) == key:
            result = context.orchestrator.run_activities(
                case.activities, ("cases", index, "activities"), iteration=f"case {key}", names={}
            )
            _raise_if_failed(result, f"case {key!r}")
            return {"value": value, "case": key}
    if activity.default is None:
        choices = ", ".join(repr(render_widget_value(case.value)) for case in activity.cases)
        raise context.field_error(
            f"no case matches {key!r} and there is no `default`",
            "on",
            hint=f"cases: {choices}; add `default: []` to do nothing when none matches",
        )
    if activity.default:
        result = context.orchestrator.run_activities(activity.default, ("default",), iteration="default", names={})
        _raise_if_failed(result, "the default case")
    return {"value": value, "case": "default"}


def run_until(activity: UntilActivity, context: ActivityContext) -> dict[str, Any]:
    passes = 0
    outer = context.names["activity"]
    while True:
        passes += 1
        result = context.orchestrator.run_activities(
            activity.activities, ("activities",), iteration=str(passes), names={}
        )
        _raise_if_failed(result, f"pass {passes}")

        def in_this_pass(name: str, outcomes: Mapping[str, Any] = result.outcomes) -> Any:
            return activity_view(outcomes[name]) if name in outcomes else outer(name)

        names = {**context.names, "activity": in_this_pass}
        if _as_bool(context.render(activity.condition, "condition", names=names), context, "condition"):
            return {"passes": passes}
        if context.cancelled.is_set():
            raise ActivityStopped


def run_pipeline_activity(activity: ExecutePipelineActivity, context: ActivityContext) -> dict[str, Any]:
    parameters = {name: context.render(value, "parameters", name) for name, value in activity.parameters.items()}
    child = context.orchestrator.run_child_pipeline(activity.pipeline, parameters)
    output = {
        "pipelineName": activity.pipeline,
        "pipelineRunId": child.run_id,
        "status": child.status.value,
        "pipelineReturnValue": child.outputs or {},
    }
    if child.status != RunStatus.succeeded:
        detail = f": {child.error}" if child.error else ""
        raise ActivityError(
            f"child pipeline {activity.pipeline!r} (run {child.run_id}) {child.status.value}{detail}",
            hint=f"see `lockgate runs show {child.run_id}`",
            output=output,
        )
    return output


def run_set_variable(activity: SetVariableActivity, context: ActivityContext) -> dict[str, Any]:
    value = context.render(activity.value, "value")
    try:
        new = context.orchestrator.set_variable(activity.variable, value, append=False)
    except ValueError as exc:
        raise context.field_error(f"variable {activity.variable!r}: {exc}", "value") from exc
    return {"name": activity.variable, "value": new}


def run_append_variable(activity: AppendVariableActivity, context: ActivityContext) -> dict[str, Any]:
    value = context.render(activity.value, "value")
    new = context.orchestrator.set_variable(activity.variable, value, append=True)
    return {"name": activity.variable, "appended": value, "value": new}


def run_wait(activity: WaitActivity, context: ActivityContext) -> dict[str, Any]:
    raw = context.render(activity.seconds, "seconds")
    try:
        seconds = parse_duration(raw)
    except ValueError as exc:
        raise context.field_error(str(exc), "seconds") from exc
    if seconds and context.cancelled.wait(seconds):
        raise ActivityStopped
    return {"seconds": seconds}


def run_fail(activity: FailActivity, context: ActivityContext) -> None:
    message = str(context.render(activity.message, "message"))
    code = str(context.render(activity.error_code, "error_code"))
    raise ActivityError(message, code=code, location=context.locate())


def _raise_if_failed(result: Any, what: str) -> None:
    if result.verdict.status != ActivityStatus.succeeded:
        raise ActivityError(f"{what} {result.verdict.status.value}: {_pass_failure(result)}")


def _pass_failure(result: ListResult) -> str:
    return result.failure_summary(located=False) or result.verdict.status.value


def _as_bool(value: Any, context: ActivityContext, field: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "false"):
        return text == "true"
    raise context.field_error(f"must give true or false, got {_preview(value)}", field)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 3] + "..."
