"""Bad orchestration input fails validation before a run, or fails the activity naming file, activity and field."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

WriteProject = Callable[[dict[str, str]], Path]


def _problems(run_cli, root: Path) -> str:
    result = run_cli("validate", cwd=root)
    assert result.exit_code == 2, result.output
    return result.stderr


def test_expressions_are_checked_before_the_run(run_cli, write_project: WriteProject) -> None:
    pipeline = """\
parameters:
  day: {type: date, default: "2024-01-01"}
variables:
  seen: {type: array}
activities:
  - name: first
    type: wait
    seconds: "{{ pipeline.parameters.dya }}"
  - name: second
    type: set_variable
    variable: seen
    value: "{{ activity('third').output }}"
  - name: third
    type: wait
    depends_on: [first]
    seconds: "{{ variables.sen | length }}{{ item }}{{ nope }}"
"""
    stderr = _problems(run_cli, write_project({"pipelines/p.yaml": pipeline}))
    assert "pipelines/p.yaml:8:5: unknown parameter 'dya'" in stderr and "did you mean 'day'?" in stderr
    assert "pipelines/p.yaml:12:5: activity 'third' does not run before 'second'" in stderr
    assert "add `depends_on: [third]`" in stderr
    assert "unknown variable 'sen'" in stderr and "did you mean 'seen'?" in stderr
    assert "`item` is only defined inside a foreach" in stderr
    assert "unknown name 'nope'" in stderr


def test_unknown_activity_in_an_expression(run_cli, write_project: WriteProject) -> None:
    pipeline = "activities:\n  - {name: a, type: wait, seconds: \"{{ activity('missing').output.x }}\"}\n"
    stderr = _problems(run_cli, write_project({"pipelines/p.yaml": pipeline}))
    assert "pipelines/p.yaml:2:27: unknown activity 'missing'" in stderr


def test_child_pipelines_are_checked(run_cli, write_project: WriteProject) -> None:
    parent = """\
activities:
  - {name: run_child, type: pipeline, pipeline: child, parameters: {n: lots, extra: 1}}
  - {name: run_ghost, type: pipeline, pipeline: chidl}
"""
    child = """\
parameters:
  n: {type: int}
  label: {type: string}
activities:
  - {name: back, type: pipeline, pipeline: loop, parameters: {}}
"""
    loop = "activities:\n  - {name: again, type: pipeline, pipeline: child, parameters: {n: 1, label: x}}\n"
    stderr = _problems(
        run_cli,
        write_project({"pipelines/parent.yaml": parent, "pipelines/child.yaml": child, "pipelines/loop.yaml": loop}),
    )
    assert "pipelines/parent.yaml:2:69: parameter 'n' of pipeline 'child': expected an integer, got 'lots'" in stderr
    assert "unknown parameter 'extra'" in stderr
    assert "pipeline 'child' needs parameter 'label'" in stderr
    assert "unknown pipeline 'chidl'" in stderr and "did you mean 'child'?" in stderr
    assert "pipelines run each other in a cycle: child -> loop -> child" in stderr


def test_foreach_items_must_be_a_list(run_cli, write_project: WriteProject) -> None:
    literal = "activities:\n  - {name: l, type: foreach, items: abc, activities: [{name: w, type: wait}]}\n"
    stderr = _problems(run_cli, write_project({"pipelines/p.yaml": literal}))
    assert "pipelines/p.yaml:2:30: `items` must be a list, or an expression that gives one" in stderr


def test_foreach_over_a_non_list_fails_the_activity(run_cli, write_project: WriteProject) -> None:
    pipeline = """\
parameters:
  things: {type: string, default: abc}
activities:
  - name: loop
    type: foreach
    items: "{{ pipeline.parameters.things }}"
    activities: [{name: w, type: wait}]
"""
    result = run_cli("run", "p", cwd=write_project({"pipelines/p.yaml": pipeline}))
    assert result.exit_code == 2
    assert (
        "pipelines/p.yaml:6:5: activity 'loop', field 'items': `items` must be a list, got str 'abc'" in result.stderr
    )


def test_switch_without_a_match_or_default_fails(run_cli, write_project: WriteProject) -> None:
    pipeline = """\
parameters:
  mode: {type: string, default: partial}
activities:
  - name: route
    type: switch
    on: "{{ pipeline.parameters.mode }}"
    cases:
      - {value: full, activities: [{name: a, type: wait}]}
      - {value: delta, activities: [{name: b, type: wait}]}
"""
    result = run_cli("run", "p", cwd=write_project({"pipelines/p.yaml": pipeline}))
    assert result.exit_code == 2
    assert (
        "pipelines/p.yaml:6:5: activity 'route', field 'on': no case matches 'partial' and there is no `default`"
        in (result.stderr)
    )
    assert "cases: 'full', 'delta'" in result.stderr


def test_a_wrong_parameter_type_for_a_child_fails_the_activity(run_cli, write_project: WriteProject) -> None:
    parent = """\
parameters:
  n: {type: string, default: many}
activities:
  - {name: run_child, type: pipeline, pipeline: child, parameters: {n: "{{ pipeline.parameters.n }}"}}
"""
    child = "parameters:\n  n: {type: int}\nactivities:\n  - {name: w, type: wait}\n"
    root = write_project({"pipelines/parent.yaml": parent, "pipelines/child.yaml": child})
    result = run_cli("run", "parent", cwd=root)
    assert result.exit_code == 2
    assert (
        "pipelines/child.yaml:2:3: parameter 'n' of pipeline 'child': expected an integer, got 'many'" in result.stderr
    )


def test_variables_must_be_declared(run_cli, write_project: WriteProject) -> None:
    pipeline = """\
variables:
  names: {type: string}
activities:
  - {name: a, type: set_variable, variable: nmes, value: x}
  - {name: b, type: append_variable, variable: names, value: x}
"""
    stderr = _problems(run_cli, write_project({"pipelines/p.yaml": pipeline}))
    assert "unknown variable 'nmes'" in stderr and "did you mean 'names'?" in stderr
    assert "append_variable needs an array variable; 'names' is string" in stderr


def test_defaults_and_filters_are_checked(run_cli, write_project: WriteProject) -> None:
    pipeline = """\
parameters:
  day: {type: date, default: someday}
variables:
  n: {type: int, default: abc}
activities:
  - {name: a, type: wait, seconds: "{{ 1 | nosuch }}"}
"""
    stderr = _problems(run_cli, write_project({"pipelines/p.yaml": pipeline}))
    assert "default of parameter 'day': expected a date (YYYY-MM-DD), got 'someday'" in stderr
    assert "default of variable 'n': expected an integer, got 'abc'" in stderr
    assert "expression does not parse: No filter named 'nosuch'." in stderr


def test_a_whole_expression_keeps_text_as_text(write_project: WriteProject, sqlite_url: str) -> None:
    from lockgate.services.project import load_project
    from lockgate.services.runner import run_pipeline
    from lockgate.state import StateStore

    pipeline = """\
parameters:
  code: {type: string, default: "1e3"}
variables:
  seen: {type: array}
activities:
  - {name: keep, type: append_variable, variable: seen, value: "{{ pipeline.parameters.code }}"}
  - {name: prefix, type: append_variable, variable: seen, value: "{{ pipeline.run_id[:8] }}", depends_on: [keep]}
"""
    root = write_project({"pipelines/p.yaml": pipeline})
    with StateStore.open(sqlite_url) as store:
        result = run_pipeline(load_project(root), "p", store=store)
    assert result.activities[1].output["value"] == ["1e3", result.run_id[:8]]


def test_braces_in_inline_sql_are_databricks_parameters(run_cli, write_project: WriteProject) -> None:
    pipeline = """\
parameters:
  day: {type: string, default: "2024-01-01"}
activities:
  - name: q
    type: sql
    sql: "SELECT '{{ day }}' AS d"
    parameters: {day: "{{ pipeline.parameters.day }}"}
"""
    root = write_project({"pipelines/p.yaml": pipeline})
    result = run_cli("run", "p", cwd=root)
    assert result.exit_code == 0, result.output
    shown = run_cli("runs", "show", result.stdout.split()[1], cwd=root).stdout
    assert '"rows": [{"d": "2024-01-01"}]' in shown
