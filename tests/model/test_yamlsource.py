from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime

import pytest

from lockgate.errors import ProjectError, SourceLocation
from lockgate.model.yamlsource import YamlDocument, parse_yaml, raise_problems


def _doc(text: str, file: str = "pipelines/daily.yaml") -> YamlDocument:
    return parse_yaml(textwrap.dedent(text), file=file)


# ---------------------------------------------------------------------------------------------------
# parse_yaml: data and positions


def test_data_is_plain_python() -> None:
    doc = _doc(
        """\
        float: 1.5
        hex: 0x1F
        big: 1e3
        text: |
          line
        quoted: 'x'
        flag: true
        nothing: ~
        when: 2024-01-02T03:04:05Z
        day: 2024-01-02
        flow: {a: [1, 2]}
        forced: !!str 12
        """
    )
    assert doc.data == {
        "float": 1.5,
        "hex": 31,
        "big": 1000.0,
        "text": "line\n",
        "quoted": "x",
        "flag": True,
        "nothing": None,
        "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "day": date(2024, 1, 2),
        "flow": {"a": [1, 2]},
        "forced": "12",
    }
    kinds = {key: type(value) for key, value in doc.data.items()}
    assert kinds["float"] is float and kinds["hex"] is int and kinds["big"] is float
    assert kinds["text"] is str and kinds["when"] is datetime and kinds["flow"] is dict
    assert type(doc.data["flow"]["a"]) is list


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n"])
def test_empty_file_is_an_empty_mapping(text: str) -> None:
    doc = parse_yaml(text, file="lockgate.yaml")
    assert doc.data == {}
    assert str(doc.locate(("name",))) == "lockgate.yaml:1:1"


def test_locate_keys_values_and_items() -> None:
    doc = _doc(
        """\
        # leading comment
        name: daily
        activities:
          - type: notebook
            name: load
          -   type: sql
              sql: select 1
        flow: {a: 1, b: [x, y]}
        """
    )
    assert str(doc.locate(())) == "pipelines/daily.yaml:2:1"
    assert str(doc.locate(("name",))) == "pipelines/daily.yaml:2:1"
    assert str(doc.locate_value(("name",))) == "pipelines/daily.yaml:2:7"
    assert str(doc.locate(("activities",))) == "pipelines/daily.yaml:3:1"
    assert str(doc.locate_value(("activities",))) == "pipelines/daily.yaml:4:3"
    assert str(doc.locate(("activities", 0))) == "pipelines/daily.yaml:4:5"
    assert str(doc.locate(("activities", 1))) == "pipelines/daily.yaml:6:7"
    assert str(doc.locate(("activities", 1, "sql"))) == "pipelines/daily.yaml:7:7"
    assert str(doc.locate_value(("activities", 1, "sql"))) == "pipelines/daily.yaml:7:12"
    assert str(doc.locate(("flow", "b", 1))) == "pipelines/daily.yaml:8:21"
    assert doc.locate(("flow", "a")) == SourceLocation("pipelines/daily.yaml", 8, 8)


def test_locate_missing_path_falls_back_to_deepest_existing_parent() -> None:
    doc = _doc(
        """\
        name: daily
        activities:
          - type: notebook
        """
    )
    assert str(doc.locate(("activities", 0, "notebook"))) == "pipelines/daily.yaml:3:5"
    assert str(doc.locate(("activities", 7, "x", "y"))) == "pipelines/daily.yaml:2:1"
    assert str(doc.locate(("nope",))) == "pipelines/daily.yaml:1:1"
    assert doc.has(("activities", 0, "type"))
    assert not doc.has(("activities", 0, "notebook"))


def test_merged_keys_point_at_their_anchor() -> None:
    doc = _doc(
        """\
        defaults: &defaults
          retries: 2
        job:
          <<: *defaults
          name: x
        """
    )
    assert doc.data["job"] == {"name": "x", "retries": 2}
    assert str(doc.locate(("job", "retries"))) == "pipelines/daily.yaml:2:3"
    assert str(doc.locate(("job", "name"))) == "pipelines/daily.yaml:5:3"


# ---------------------------------------------------------------------------------------------------
# parse_yaml: errors


def _parse_error(text: str) -> ProjectError:
    with pytest.raises(ProjectError) as caught:
        parse_yaml(text, file="lockgate.yaml")
    return caught.value


@pytest.mark.parametrize(
    ("text", "position", "message", "hint"),
    [
        ("name: x\nenv:\n\tdev: 1\n", "3:1", "tab character is not allowed here", "spaces"),
        ("a:\n  b: 1\n  \tc: 2\n", "3:3", "tab character is not allowed here", "spaces"),
        ("name: 'daily\nengine: duckdb\n", "1:7", "unclosed quote", "closing '"),
        ('name: "daily\n', "1:7", "unclosed quote", 'closing "'),
        ("a:\n  b: 1\n c: 2\n", "3:2", "bad indentation", "same column"),
        ("a:\n  - 1\n  b: 2\n", "3:3", "bad indentation", "same column"),
        ("name: a: b\n", "1:8", "unexpected ':' in a value", "quote"),
        ("name: x\nengine\nb: 1\n", "2:1", "missing ':' after a key", "key: value"),
        ("a: [1, 2\nb: 3\n", "1:4", "'[' is not closed", "']'"),
        ("a: {x: 1\n", "1:4", "'{' is not closed", "'}'"),
        ("a: *nowhere\n", "1:4", "unknown alias '*nowhere'", "&nowhere"),
        ("a: 1\n---\nb: 2\n", "2:1", "a file may hold only one YAML document", "---"),
        ("a: @x\n", "1:4", "a plain value cannot start with '@'", "quotes"),
        ("a: \x07\n", "1:4", "the file contains a control character", "plain text"),
    ],
)
def test_syntax_errors_have_position_and_hint(text: str, position: str, message: str, hint: str) -> None:
    error = _parse_error(text)
    assert str(error.location) == f"lockgate.yaml:{position}"
    assert error.message.startswith(message)
    assert error.hint is not None and hint in error.hint


def test_syntax_error_on_a_line_with_a_tab_mentions_the_tab() -> None:
    error = _parse_error("a:\n  b: 1\n c:\t2\n")
    assert error.hint is not None and "tab" in error.hint


def test_duplicate_keys_are_all_reported_at_the_second_key() -> None:
    error = _parse_error("name: a\nengine: duckdb\nname: b\nenvs:\n  dev: 1\n  dev: 2\n")
    assert str(error) == (
        "lockgate.yaml:3:1: duplicate key 'name'\n"
        "  hint: 'name' is already set at line 1; keep only one of them\n"
        "lockgate.yaml:6:3: duplicate key 'dev'\n"
        "  hint: 'dev' is already set at line 5; keep only one of them"
    )


@pytest.mark.parametrize(
    ("text", "position", "got"),
    [("- a\n- b\n", "1:1", "a list"), ("# intro\njust text\n", "2:1", "'just text'"), ("3\n", "1:1", "3")],
)
def test_top_level_must_be_a_mapping(text: str, position: str, got: str) -> None:
    error = _parse_error(text)
    assert str(error.location) == f"lockgate.yaml:{position}"
    assert error.message == f"the top level must be a mapping of keys, got {got}"


def test_unsupported_tags_are_reported() -> None:
    error = _parse_error("a: !env HOME\nb: !thing {x: 1}\nc: ok\n")
    assert [str(problem.location) for problem in error.problems] == ["lockgate.yaml:1:4", "lockgate.yaml:2:4"]
    assert error.problems[0].message == "unsupported YAML tag '!env'"


def test_raise_problems_does_nothing_without_problems() -> None:
    raise_problems([])
