"""What deploy, rollback, promote, approve, history, status and drift print."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich.table import Table

from lockgate.cli.render import format_time, line, plural, status_markup
from lockgate.cli.render import table as print_table

if TYPE_CHECKING:
    from lockgate.services.deploy import DeployResult
    from lockgate.services.environments import DriftReport, EnvironmentStatus
    from lockgate.state import ApprovalRecord, DeploymentRecord


class ListFormat(StrEnum):
    text = "text"
    json = "json"


def deploy_result(result: DeployResult) -> None:
    plan, record = result.plan, result.record
    changed = {action: count for action, count in plan.counts.items() if action != "unchanged" and count}
    what = ", ".join(f"{count} {action}d" for action, count in changed.items())
    line(
        f"{record.action.capitalize()} #{record.id} to {record.environment}: release {record.release_hash[:12]} "
        f"({what or 'no resource changes'}) in {result.seconds:.2f} s"
    )
    for action in plan.trigger_actions:
        line(f"  trigger {action.name}: {action.action.value} ({action.reason})")
    if plan.drift:
        line(f"  drift undone, Git wins: {plural(len(plan.drift), 'change')} made outside a deploy")
        for drift in plan.drift:
            line(f"    {drift.key}: {drift.description}")


def approval(record: ApprovalRecord) -> None:
    line(f"Approved plan {record.plan_hash[:16]} for {record.environment} ({record.approved_by})")


def history(records: list[DeploymentRecord], output_format: ListFormat) -> None:
    if output_format is ListFormat.json:
        line(json.dumps([deployment_json(record) for record in records], indent=2))
        return
    if not records:
        line("No deployments yet.")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("id", "when", "action", "status", "commit", "release", "changes", "by", "note"):
        table.add_column(column)
    for record in records:
        table.add_row(
            f"#{record.id}",
            format_time(record.started_at),
            record.action,
            status_markup(record.status.value),
            (record.git_commit or "-")[:12],
            record.release_hash[:12],
            str(len(record.changes)),
            record.user,
            record.error or record.note or "",
        )
    print_table(table)


def status(report: EnvironmentStatus, output_format: ListFormat) -> None:
    record, state = report.deployment, report.state
    triggers = {
        name: {"state": t.state.value, "set_by": t.set_by, "actor": t.actor}
        for name, t in sorted(state.triggers.items())
    }
    if output_format is ListFormat.json:
        data = {
            "environment": report.environment,
            "deployment": deployment_json(record) if record else None,
            "resources": len(state.resources),
            "triggers": triggers,
        }
        line(json.dumps(data, indent=2))
        return
    if record is None:
        line(f"{report.environment}: nothing deployed yet")
        return
    when = format_time(record.finished_at)
    line(f"{report.environment}: deployment #{record.id} ({record.action}) by {record.user} at {when}")
    line(f"  commit  {record.git_commit or 'none (working tree)'}")
    line(f"  release {record.release_hash}")
    line(f"  {plural(len(state.resources), 'resource')} deployed")
    if not triggers:
        line("  triggers: none")
    for name, trigger in triggers.items():
        by = "" if trigger["set_by"] == "deploy" else f" (by {trigger['set_by']} {trigger['actor']})".rstrip()
        line(f"  trigger {name}: {trigger['state']}{by}")


def drift(reports: list[DriftReport], output_format: ListFormat) -> None:
    if output_format is ListFormat.json:
        data = [
            {
                "environment": report.environment,
                "deployment_id": report.deployment.id if report.deployment else None,
                "drift": [{"resource": d.key, "description": d.description} for d in report.drift],
            }
            for report in reports
        ]
        line(json.dumps(data, indent=2))
        return
    for report in reports:
        if report.deployment is None:
            line(f"{report.environment}: nothing deployed")
        elif not report.drift:
            line(f"{report.environment}: no drift (deployment #{report.deployment.id})")
        else:
            line(f"{report.environment}: {plural(len(report.drift), 'change')} outside a deploy")
            for item in report.drift:
                line(f"  {item.key}: {item.description}")


def deployment_json(record: DeploymentRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "environment": record.environment,
        "project": record.project,
        "action": record.action,
        "status": record.status.value,
        "user": record.user,
        "commit": record.git_commit,
        "release_hash": record.release_hash,
        "plan_hash": record.plan_hash,
        "base_deployment_id": record.base_deployment_id,
        "started_at": record.started_at.isoformat(),
        "locked_at": record.locked_at.isoformat() if record.locked_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "changes": record.changes,
        "triggers_before": record.triggers_before,
        "triggers_after": record.triggers_after,
        "note": record.note,
        "error": record.error,
    }
