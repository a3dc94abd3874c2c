"""`lockgate schema` prints JSON Schemas that validate real project files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from ruamel.yaml import YAML


def test_schemas_validate_the_init_project(run_cli, demo_project: Path, tmp_path: Path) -> None:
    result = run_cli("schema", "--out", str(tmp_path / "schemas"), cwd=demo_project)
    assert result.exit_code == 0, result.output
    yaml = YAML(typ="safe")
    project_schema = json.loads((tmp_path / "schemas/project.schema.json").read_text())
    pipeline_schema = json.loads((tmp_path / "schemas/pipeline.schema.json").read_text())
    jsonschema.validate(yaml.load((demo_project / "lockgate.yaml").read_text()), project_schema)
    jsonschema.validate(yaml.load((demo_project / "pipelines/daily.yaml").read_text()), pipeline_schema)


def test_schema_of_one_kind_and_unknown_kind(run_cli, demo_project: Path) -> None:
    result = run_cli("schema", "pipeline", cwd=demo_project)
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert "activities" in document["properties"]
    assert document["properties"]["activities"]["description"]
    bad = run_cli("schema", "pipelin", cwd=demo_project)
    assert bad.exit_code == 2 and "unknown schema 'pipelin'" in bad.stderr
