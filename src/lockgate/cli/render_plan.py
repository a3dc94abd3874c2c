"""Plans as text (terminals, logs), JSON (machines, `deploy --plan`) and Markdown (pull-request comments).

Each renderer is a pure function from a plan to a string, so the golden-file tests compare exactly what users
see.
"""

from __future__ import annotations

import json
from enum import StrEnum

from lockgate.model.plan import ChangeAction, Plan
from lockgate.model.plan_document import plan_document

_SYMBOL = {ChangeAction.create: "+", ChangeAction.update: "~", ChangeAction.delete: "-"}


class PlanFormat(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


def render_plan(plan: Plan, output_format: PlanFormat) -> str:
    if output_format is PlanFormat.json:
        return json.dumps(plan_document(plan), indent=2, ensure_ascii=False) + "\n"
    if output_format is PlanFormat.markdown:
        return plan_markdown(plan)
    return plan_text(plan)


def summary(plan: Plan) -> str:
    counts = plan.counts
    return (
        f"{counts['create']} to create, {counts['update']} to update, {counts['delete']} to delete, "
        f"{counts['unchanged']} unchanged"
    )


def source(plan: Plan) -> str:
    if plan.commit is None:
        return "working tree, not in Git"
    if plan.dirty:
        return f"commit {plan.commit[:12]} + uncommitted changes"
    return f"commit {plan.commit[:12]}"


def base(plan: Plan) -> str:
    return "nothing deployed yet" if plan.base_deployment_id is None else f"deployment #{plan.base_deployment_id}"


def plan_text(plan: Plan) -> str:
    lines = [
        f"Plan for {plan.environment} (project {plan.project})",
        f"  release   {plan.release_hash[:12]} ({source(plan)})",
        f"  against   {base(plan)}",
        f"  plan hash {plan.hash[:16]}",
        "",
        f"Resources: {summary(plan)}",
    ]
    for change in plan.changes:
        if change.action is ChangeAction.unchanged:
            continue
        reasons = f"  ({', '.join(r.value for r in change.reasons)})" if change.reasons else ""
        lines.append(f"  {_SYMBOL[change.action]} {change.action.value:<7} {change.key}{reasons}")
        lines += [f"        {diff_line}".rstrip() for diff_line in change.diff]
    destructive = plan.destructive_changes
    if destructive:
        lines.append(f"  WARNING: {len(destructive)} destructive change(s): deleted from the environment")
    lines += ["", "Triggers:" if plan.trigger_actions else "Triggers: no changes"]
    for action in plan.trigger_actions:
        lines.append(f"  {action.name}: {action.action.value} ({action.reason})")
    lines += ["", "Drift:" if plan.drift else "Drift: none"]
    for drift in plan.drift:
        lines.append(f"  {drift.key}: {drift.description}")
    if not plan.has_changes:
        lines += ["", f"Nothing to deploy: {plan.environment} already runs this release."]
    return "\n".join(lines) + "\n"


def plan_markdown(plan: Plan) -> str:
    lines = [
        f"### lockgate plan for `{plan.environment}` (project `{plan.project}`)",
        "",
        f"Release `{plan.release_hash[:12]}` ({source(plan)}), against {base(plan)}. Plan hash `{plan.hash[:16]}`.",
        "",
        f"**{summary(plan)}**",
        "",
    ]
    changed = [change for change in plan.changes if change.action is not ChangeAction.unchanged]
    if changed:
        lines += ["| Action | Resource | Reasons |", "| --- | --- | --- |"]
        for change in changed:
            action = f"**{change.action.value}**" if change.destructive else change.action.value
            reasons = ", ".join(r.value for r in change.reasons) or "-"
            lines.append(f"| {action} | `{change.key}` | {reasons} |")
        lines.append("")
        for change in changed:
            if change.diff:
                lines += [f"<details><summary>Diff of <code>{change.key}</code></summary>", "", "```diff"]
                lines += [*change.diff, "```", "", "</details>", ""]
    if plan.destructive_changes:
        lines += [f"> **Warning**: {len(plan.destructive_changes)} destructive change(s).", ""]
    lines += ["#### Triggers", ""]
    if plan.trigger_actions:
        lines += ["| Trigger | Action | Before | After | Why |", "| --- | --- | --- | --- | --- |"]
        for trigger in plan.trigger_actions:
            before = trigger.before.value if trigger.before else "-"
            after = trigger.after.value if trigger.after else "removed"
            lines.append(f"| `{trigger.name}` | {trigger.action.value} | {before} | {after} | {trigger.reason} |")
    else:
        lines.append("No trigger changes.")
    lines += ["", "#### Drift", ""]
    if plan.drift:
        lines += [f"- `{drift.key}`: {drift.description}" for drift in plan.drift]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"
