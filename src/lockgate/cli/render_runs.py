"""`lockgate runs show`: a run's activity tree (foreach passes, branches, child pipelines), then the details."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from lockgate.cli.render import format_time, markup, status_markup, table
from lockgate.services.run_history import ActivityNode, RunTree
from lockgate.state import ActivityRunRecord, RunRecord

_MAX_VALUE = 400
"""Characters of an input or output value shown before it is cut."""


def run_tree(tree: RunTree) -> None:
    run = tree.run
    markup(
        f"[bold]run {run.id}[/] · {escape(run.pipeline)} ({run.target_kind}) · env {run.environment} · "
        f"{run.engine} · {status_markup(run.status.value)}"
    )
    markup(f"started {format_time(run.started_at)}, took {_seconds(run)}s · trigger {escape(run.trigger)}")
    if run.rerun_of:
        markup(f"rerun of {run.rerun_of}")
    if run.parent_run_id:
        markup(f"child of run {run.parent_run_id}")
    if run.parameters:
        markup(f"parameters: {escape(_compact(run.parameters))}")
    outputs = run.output.get("outputs") if isinstance(run.output, dict) else None
    if outputs:
        markup(f"outputs: {escape(_compact(outputs))}")
    if run.error:
        markup(f"[red]error:[/] {escape(run.error)}")
    root = Tree("[bold]activities[/]", guide_style="dim")
    _add_nodes(root, tree.activities)
    table(root)
    for _, node in tree.walk():
        _details(node)


def _add_nodes(parent: Tree, nodes: tuple[ActivityNode, ...]) -> None:
    for node in nodes:
        branch = parent.add(_node_line(node))
        for label, children in node.passes:
            _add_nodes(branch.add(f"[dim]\\[{escape(label)}][/]"), children)
        if node.child_run is not None:
            child = node.child_run.run
            sub = branch.add(f"[dim]run {child.id} · {escape(child.pipeline)} · {status_markup(child.status.value)}[/]")
            _add_nodes(sub, node.child_run.activities)


def _node_line(node: ActivityNode) -> str:
    last = node.last
    name = escape(last.activity)
    parts = [f"{name} [dim]({last.activity_type})[/]", status_markup(last.status.value)]
    if last.attempt > 1:
        parts.append(f"attempt {last.attempt}")
    seconds = last.metrics.get("seconds")
    if seconds is not None:
        parts.append(f"{seconds}s")
    rows_read, rows_written = _rows(last, "rows_read"), _rows(last, "rows_written")
    if rows_read:
        parts.append(f"read {rows_read}")
    if rows_written:
        parts.append(f"wrote {rows_written}")
    if last.error and last.attempt == 0:  # a record that never ran: why (skipped, cancelled, reused)
        parts.append(f"[dim]{escape(last.error)}[/]")
    return " · ".join(parts)


def _details(node: ActivityNode) -> None:
    for attempt in node.attempts:
        if attempt.attempt == 0 and not attempt.output:  # never ran: its reason is on the tree line
            continue
        header = f"[bold]{escape(node.key)}[/]" + (f" attempt {attempt.attempt}" if len(node.attempts) > 1 else "")
        lines = []
        if attempt.parameters:
            lines.append(f"  inputs: {escape(_compact(attempt.parameters))}")
        if attempt.output not in (None, {}):
            lines.append(f"  output: {escape(_compact(attempt.output))}")
        if attempt.error and attempt.status.value == "failed":
            lines.append("  [red]error:[/]")
            lines += [f"    {escape(text)}" for text in attempt.error.splitlines()]
        if attempt.log.strip():
            lines.append("  log:")
            lines += [f"    {escape(text)}" for text in attempt.log.rstrip().splitlines()]
        if lines:
            markup(header)
            for text in lines:
                markup(text)


def _rows(record: ActivityRunRecord, key: str) -> str:
    counts: dict[str, Any] = record.metrics.get(key) or {}
    return ", ".join(f"{table}: {count:,}" for table, count in counts.items())


def _compact(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def _seconds(record: RunRecord) -> str:
    if record.started_at and record.finished_at:
        return f"{(record.finished_at - record.started_at).total_seconds():.2f}"
    return "?"
