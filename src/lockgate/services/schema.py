"""JSON Schemas of the files users write, generated from the pydantic models (field docs included)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from lockgate.errors import NotFoundError
from lockgate.model.pipeline import Pipeline
from lockgate.model.project import ProjectConfig
from lockgate.model.suggest import format_choices
from lockgate.model.trigger import TriggerFile

_MODELS: dict[str, tuple[type[BaseModel], str]] = {
    "project": (ProjectConfig, "lockgate.yaml"),
    "pipeline": (Pipeline, "pipelines/<name>.yaml"),
    "trigger": (TriggerFile, "triggers/<name>.yaml"),
}


def json_schemas(kind: str = "all") -> dict[str, dict[str, Any]]:
    """``{kind: schema}`` for one kind or all of them."""
    if kind != "all" and kind not in _MODELS:
        raise NotFoundError(f"unknown schema {kind!r}", hint=f"choose {format_choices([*_MODELS, 'all'])}")
    kinds = list(_MODELS) if kind == "all" else [kind]
    result = {}
    for name in kinds:
        model, file = _MODELS[name]
        document = model.model_json_schema()
        # Draft 7 is what editors' YAML language servers read; pydantic's output uses nothing newer.
        document["$schema"] = "http://json-schema.org/draft-07/schema#"
        document["title"] = f"lockgate {file}"
        result[name] = document
    return result
