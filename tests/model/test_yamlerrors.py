"""Pydantic errors reported at their place in the YAML file, phrased for the user."""

from __future__ import annotations

import textwrap
from typing import Annotated, Any, Literal, Union

import pytest
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from lockgate.errors import Problem, ProjectError, SourceLocation
from lockgate.model.yamlerrors import validate_document
from lockgate.model.yamlsource import YamlDocument, parse_yaml, raise_problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NotebookActivity(_Strict):
    type: Literal["notebook"]
    name: str
    notebook: str
    params: dict[str, int] = {}
    retries: int = 0


class SqlActivity(_Strict):
    type: Literal["sql"]
    name: str
    sql: str
    mode: Literal["append", "overwrite"] = "append"

    @field_validator("sql")
    @classmethod
    def _no_drop(cls, value: str) -> str:
        if "drop" in value.lower():
            raise ValueError("DROP is not allowed in a sql activity\nhint: use a check activity instead")
        return value


def _non_negative(value: int) -> int:
    if value < 0:
        message = "limit must not be negative, got {value}\nhint: use 0"
        raise PydanticCustomError("negative", message, {"value": value})
    return value


Activity = Annotated[Union[NotebookActivity, SqlActivity], Field(discriminator="type")]  # noqa: UP007


class Pipeline(_Strict):
    name: str
    activities: list[Activity]
    enabled: bool = True
    limit: Annotated[int, AfterValidator(_non_negative)] = 0
    size: int | list[int] = 0
    owner_email: str | None = Field(None, alias="owner")

    @model_validator(mode="after")
    def _names_unique(self) -> Pipeline:
        names = [activity.name for activity in self.activities]
        if len(set(names)) != len(names):
            raise ValueError("activity names must be unique")
        return self


class Environment(_Strict):
    lake: str
    protected: bool = False


class Project(_Strict):
    name: str
    environments: dict[str, Environment]


def _doc(text: str, file: str = "pipelines/daily.yaml") -> YamlDocument:
    return parse_yaml(textwrap.dedent(text), file=file)


def _problems(text: str, model: type[BaseModel] = Pipeline, **kwargs: Any) -> list[str]:
    instance, problems = validate_document(_doc(text), model, **kwargs)
    assert instance is None
    return [str(problem) for problem in problems]


# ---------------------------------------------------------------------------------------------------
# validate_document


_GOOD = """\
name: daily
owner: team@example.com
activities:
  - type: notebook
    name: load
    notebook: load.ipynb
  - type: sql
    name: merge
    sql: select 1
"""


def test_valid_document_returns_the_model() -> None:
    pipeline, problems = validate_document(_doc(_GOOD), Pipeline)
    assert problems == []
    assert pipeline is not None
    assert pipeline.owner_email == "team@example.com"
    assert isinstance(pipeline.activities[1], SqlActivity)


def test_unknown_key_with_suggestion() -> None:
    text = _GOOD.replace("    notebook: load.ipynb", "    notebok: load.ipynb")
    assert _problems(text) == [
        "pipelines/daily.yaml:4:5: missing required key 'notebook'\n  hint: add 'notebook: ...' to activities[0]",
        "pipelines/daily.yaml:6:5: unknown key 'notebok' in activities[0]\n"
        "  hint: did you mean 'notebook'? allowed keys: type, name, notebook, params, retries",
    ]


def test_unknown_top_level_key_does_not_suggest_keys_already_present() -> None:
    assert _problems(_GOOD + "nam: again\n") == [
        "pipelines/daily.yaml:10:1: unknown key 'nam' at the top level\n"
        "  hint: allowed keys: name, activities, enabled, limit, size, owner",
    ]


def test_wrong_types_point_at_the_value() -> None:
    text = _GOOD.replace("name: daily", "name: daily\nenabled: maybe").replace(
        "notebook: load.ipynb", "notebook: load.ipynb\n    retries: abc\n    params: {a: 1, b: x}"
    )
    assert _problems(text) == [
        "pipelines/daily.yaml:2:10: enabled: expected true or false, got 'maybe'\n"
        "  hint: write true or false, without quotes",
        "pipelines/daily.yaml:8:14: activities[0].retries: expected an integer, got 'abc'\n"
        "  hint: write a whole number such as 3, without quotes",
        "pipelines/daily.yaml:9:23: activities[0].params.b: expected an integer, got 'x'\n"
        "  hint: write a whole number such as 3, without quotes",
    ]


def test_wrong_collection_type_points_at_the_key() -> None:
    text = "name: x\nactivities:\n  type: notebook\n"
    assert _problems(text) == [
        "pipelines/daily.yaml:2:1: activities: expected a list, got a mapping\n"
        "  hint: write one '- item' line per element below this key, or [a, b]"
    ]


def test_missing_key_points_at_the_parent() -> None:
    assert _problems("activities: []\n") == [
        "pipelines/daily.yaml:1:1: missing required key 'name'\n  hint: add 'name: ...' at the top level"
    ]


def test_unknown_union_tag_with_suggestion() -> None:
    text = _GOOD.replace("  - type: sql", "  - type: sqll")
    assert _problems(text) == [
        "pipelines/daily.yaml:7:11: unknown activity type 'sqll'; expected one of: notebook, sql "
        "(did you mean 'sql'?)\n  hint: change 'type' to one of: notebook, sql"
    ]


def test_missing_union_tag() -> None:
    text = _GOOD.replace("  - type: sql\n    name: merge", "  - name: merge")
    assert _problems(text) == [
        "pipelines/daily.yaml:7:5: missing required key 'type'\n  hint: set 'type' to one of: notebook, sql"
    ]


def test_union_tag_segment_equal_to_a_field_name_is_not_taken_for_data() -> None:
    # pydantic reports ('activities', 0, 'notebook', 'params', 'a'): the tag 'notebook' is also a key here.
    text = _GOOD.replace("notebook: load.ipynb", "notebook: load.ipynb\n    params:\n      a: x")
    assert _problems(text) == [
        "pipelines/daily.yaml:8:10: activities[0].params.a: expected an integer, got 'x'\n"
        "  hint: write a whole number such as 3, without quotes"
    ]


def test_literal_with_suggestion() -> None:
    text = _GOOD + "    mode: apend\n"
    assert _problems(text) == [
        "pipelines/daily.yaml:10:11: activities[1].mode: expected append or overwrite, got 'apend'\n"
        "  hint: did you mean 'append'?"
    ]


def test_validator_messages_lose_the_pydantic_prefix_and_split_the_hint() -> None:
    text = _GOOD.replace("select 1", "DROP TABLE x") + "limit: -1\n"
    assert _problems(text) == [
        "pipelines/daily.yaml:9:10: DROP is not allowed in a sql activity\n  hint: use a check activity instead",
        "pipelines/daily.yaml:10:8: limit must not be negative, got -1\n  hint: use 0",
    ]


def test_model_validator_error_points_at_the_mapping() -> None:
    text = _GOOD.replace("name: merge", "name: load")
    assert _problems(text) == ["pipelines/daily.yaml:1:1: activity names must be unique"]


def test_smart_union_member_labels_are_stripped() -> None:
    assert _problems(_GOOD + "size: [1, x]\n") == [
        "pipelines/daily.yaml:10:1: size: expected an integer, got a list\n"
        "  hint: write a whole number such as 3, without quotes",
        "pipelines/daily.yaml:10:11: size[1]: expected an integer, got 'x'\n"
        "  hint: write a whole number such as 3, without quotes",
    ]


def test_several_errors_are_reported_together_in_file_order() -> None:
    text = """\
    name: daily
    enabled: maybe
    activities:
      - type: notebok
        name: a
      - type: notebook
        name: b
        notebook: b.ipynb
        retries: many
        colour: red
    extra: 1
    """
    doc = _doc(text)
    _, problems = validate_document(doc, Pipeline)
    with pytest.raises(ProjectError, match=r"daily\.yaml:2:10") as caught:
        raise_problems(problems)
    assert [str(problem.location) for problem in caught.value.problems] == [
        "pipelines/daily.yaml:2:10",
        "pipelines/daily.yaml:4:11",
        "pipelines/daily.yaml:9:14",
        "pipelines/daily.yaml:10:5",
        "pipelines/daily.yaml:11:1",
    ]
    assert caught.value.problems[1].message.startswith("unknown activity type 'notebok'")
    assert caught.value.problems[1].message.endswith("(did you mean 'notebook'?)")


def test_base_path_and_dict_of_models() -> None:
    doc = _doc(
        """\
        name: classic
        environments:
          dev:  {lake: ./dev}
          prod: {lake: ./prod, protectd: true}
          test: {}
        """,
        file="lockgate.yaml",
    )
    _, problems = validate_document(doc, Project)
    assert [str(problem) for problem in problems] == [
        "lockgate.yaml:4:24: unknown key 'protectd' in environments.prod\n"
        "  hint: did you mean 'protected'? allowed keys: lake, protected",
        "lockgate.yaml:5:3: missing required key 'lake'\n  hint: add 'lake: ...' to environments.test",
    ]
    environment, problems = validate_document(doc, Environment, base_path=("environments", "prod"))
    assert environment is None
    assert [str(problem.location) for problem in problems] == ["lockgate.yaml:4:24"]
    environment, problems = validate_document(doc, Environment, base_path=("environments", "dev"))
    assert environment == Environment(lake="./dev")
    assert problems == []


def test_dict_key_errors_point_at_the_key() -> None:
    class Params(_Strict):
        values: dict[int, str]

    assert _problems("values:\n  1: one\n  two: 2\n", Params) == [
        "pipelines/daily.yaml:3:3: values.two: key 'two' is invalid: expected an integer\n"
        "  hint: write a whole number such as 3, without quotes",
        "pipelines/daily.yaml:3:8: values.two: expected a string, got 2\n  hint: put the value in quotes",
    ]


def test_context_reaches_validators() -> None:
    class Named(_Strict):
        name: str

        @field_validator("name")
        @classmethod
        def _known(cls, value: str, info: Any) -> str:
            if value not in info.context["known"]:
                raise ValueError(f"unknown name '{value}'")
            return value

    doc = _doc("name: x\n")
    assert validate_document(doc, Named, context={"known": ["x"]})[1] == []
    assert validate_document(doc, Named, context={"known": []})[1] == [
        Problem("unknown name 'x'", SourceLocation("pipelines/daily.yaml", 1, 7))
    ]
