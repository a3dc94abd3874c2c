"""The `check` activity: data-quality checks on one table; a failed `error` check fails the activity.

The activity's own checks run first, then the table's declared checks (`tables/*.yaml`) unless
`declared_checks: false`. The report is printed (it becomes the activity's log) and returned as the output;
the error of a failed `error` check lists the failing rows, so the run record shows what broke the rule.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from lockgate.errors import LockgateError
from lockgate.model.activities import CheckActivity
from lockgate.model.checks import Check
from lockgate.services.activities.context import ActivityContext
from lockgate.services.checks import (
    CheckResult,
    build_check_failure,
    declared_checks,
    evaluate_check,
    render_check_results,
)

_CHECK: TypeAdapter[Check] = TypeAdapter(Check)


def run_check_activity(activity: CheckActivity, context: ActivityContext) -> dict[str, Any]:
    """Run the activity's checks and the table's declared ones; output `{table, passed, checks}`.

    Raises:
        CheckFailedError: a check of severity `error` failed (warnings only report).
        SqlError, TableNotFoundError: a check cannot run (unknown table or column), located at the check.
    """
    table = str(context.render(activity.table, "table"))
    results: list[CheckResult] = []
    for index, check in enumerate(activity.checks):
        results.append(_run_one(context, table, _rendered(check, index, context), activity.sample_size, index))
    if activity.declared_checks:
        for check in declared_checks(context.project, table):
            results.append(_run_one(context, table, check, activity.sample_size, None))
    print(render_check_results(results) if results else f"no checks for {table}")  # noqa: T201 - the activity log
    failure = build_check_failure(results)
    if failure is not None:
        raise failure
    return {
        "table": table,
        "passed": all(result.passed for result in results),
        "checks": [result.as_dict() for result in results],
    }


def _rendered(check: Check, index: int, context: ActivityContext) -> Check:
    """The check with the expressions in its fields rendered (a field's error points at the field)."""
    fields = check.model_dump(exclude_unset=True)
    rendered = {name: context.render(value, "checks", index, name) for name, value in fields.items()}
    if rendered == fields:
        return check
    try:
        return _CHECK.validate_python(rendered)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in problem["loc"][1:])  # [0] is the union tag
        raise context.field_error(
            f"check {check.label!r}{f', {where}' if where else ''}: {problem['msg']}", "checks", index
        ) from exc


def _run_one(context: ActivityContext, table: str, check: Check, sample_size: int, index: int | None) -> CheckResult:
    """One check; an error that cannot be placed yet is located at the check in the pipeline file."""
    try:
        return evaluate_check(context.session, table, check, sample_size=sample_size)
    except LockgateError as exc:
        if exc.location is None:
            exc.location = context.locate("checks", index) if index is not None else context.locate("table")
        raise
