"""`lockgate test`: run the project's unit tests and declared checks, print each result, write JUnit XML."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from lockgate.cli import render
from lockgate.cli.options import EnvOption, load_project, settings

if TYPE_CHECKING:
    from lockgate.services.testing import CaseResult, SuiteResult

_MARKS = {
    "passed": "[green]✓[/]",
    "warned": "[yellow]![/]",
    "failed": "[red]✗[/]",
    "error": "[red]E[/]",
    "skipped": "[dim]-[/]",
}


def run_tests(
    select: Annotated[
        list[str] | None,
        typer.Option(
            "--select",
            "-s",
            metavar="NAME",
            help="Only tests (and checked tables) whose name matches: a glob (gold_*) or a part of it. Repeatable.",
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", metavar="FILE", help="Also write the results as JUnit XML here (CI).")
    ] = None,
    engine: Annotated[str | None, typer.Option(help="Engine to run the tests on (default: the project's).")] = None,
    env: EnvOption = None,
    checks: Annotated[
        bool, typer.Option("--checks/--no-checks", help="Also run the checks tables declare, on the env's data.")
    ] = True,
) -> None:
    """Run the unit tests in tests/*.yaml and the checks declared in tables/*.yaml; exit 1 if any fails."""
    from lockgate.services.testing import run_test_suite

    result = run_test_suite(
        load_project(),
        select=select or (),
        engine=engine,
        environment=env,
        settings=settings(),
        checks=checks,
        on_result=CasePrinter(),
    )
    if junit is not None:
        from lockgate.services.junit import render_junit

        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(render_junit(result), encoding="utf-8")
    show_summary(result, junit)
    if not result.ok:
        raise typer.Exit(1)


class CasePrinter:
    """Prints one line per test or check as it ends, the diff or error under a failing one; the skipped checks
    of one table as a single line."""

    def __init__(self) -> None:
        self._skipped_group: str | None = None

    def __call__(self, case: CaseResult) -> None:
        label = f"{case.group}: {case.name}" if case.kind == "check" else case.name
        if case.status.value == "skipped":
            if case.group != self._skipped_group:
                shown = case.group if case.kind == "check" else label
                render.markup(f"{_MARKS['skipped']} {escape(shown)} [dim]skipped: {escape(case.message)}[/]")
            self._skipped_group = case.group
            return
        self._skipped_group = None
        where = f" [dim]({escape(case.group)})[/]" if case.kind == "test" else ""
        render.markup(f"{_MARKS[case.status.value]} {escape(label)}{where} [dim]{case.seconds:.2f}s[/]")
        if case.status.value in ("failed", "error", "warned"):
            for text in (case.detail or case.message).rstrip().splitlines():
                render.markup(f"    {escape(text)}")


def show_summary(result: SuiteResult, junit: Path | None) -> None:
    """`3 passed, 1 failed in 2.10s` (and where the JUnit report went)."""
    if not result.cases:
        render.line("no tests: add tests/*.yaml files (see docs/testing.md) or checks in tables/*.yaml")
        return
    styles = {"passed": "green", "warned": "yellow", "failed": "red", "error": "red", "skipped": "dim"}
    parts = []
    for status, style in styles.items():
        count = sum(1 for case in result.cases if case.status.value == status)
        if count:
            noun = ("errors" if count != 1 else "error") if status == "error" else status
            parts.append(f"[{style}]{count} {noun}[/]")
    render.markup(f"{', '.join(parts)} in {result.seconds:.2f}s")
    if junit is not None:
        render.line(f"wrote {junit}")
