"""``init_project``: the template tree, the deterministic demo data and the refusals."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from lockgate.errors import UserInputError
from lockgate.services import scaffold
from lockgate.services.scaffold import ScaffoldResult, init_project

ROWS = 50

EXPECTED_FILES = {
    ".gitignore",
    "README.md",
    "lockgate.yaml",
    "pipelines/daily.yaml",
    "triggers/nightly.yaml",
    "notebooks/bronze/_config.py",
    "notebooks/bronze/ingest_patients.py",
    "notebooks/bronze/ingest_encounters.ipynb",
    "notebooks/bronze/ingest_providers.py",
    "notebooks/silver/patients.ipynb",
    "notebooks/silver/encounters.py",
    "notebooks/gold/encounters_by_month.sql",
    "notebooks/gold/patient_summary.py",
    "tests/gold_patient_summary.yaml",
    "tables/gold.yaml",
    "data/landing/patients.csv",
    "data/landing/encounters.parquet",
    "data/landing/providers.json",
}
DATA_FILES = ("data/landing/patients.csv", "data/landing/encounters.parquet", "data/landing/providers.json")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> ScaffoldResult:
    return init_project(tmp_path_factory.mktemp("init") / "demo", rows=ROWS, seed=3)


def _relative(result: ScaffoldResult) -> set[str]:
    return {path.relative_to(result.root).as_posix() for path in result.files}


def _load_yaml(path: Path) -> object:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _patients(root: Path) -> list[dict[str, str]]:
    with (root / "data/landing/patients.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_init_writes_the_template_and_the_data(project: ScaffoldResult) -> None:
    assert project.root.is_absolute()
    assert _relative(project) == EXPECTED_FILES
    assert all(path.is_file() for path in project.files)
    on_disk = {p.relative_to(project.root).as_posix() for p in project.root.rglob("*") if p.is_file()}
    assert on_disk == EXPECTED_FILES
    assert (project.root / ".gitignore").read_text().splitlines() == [
        ".lockgate/",
        "__pycache__/",
        "*.pyc",
        ".ipynb_checkpoints/",
    ]


def test_project_name_is_substituted_only_where_asked(project: ScaffoldResult) -> None:
    config = _load_yaml(project.root / "lockgate.yaml")
    assert isinstance(config, dict)
    assert config["name"] == "demo"
    assert (project.root / "README.md").read_text().startswith("# demo\n")
    pipeline = (project.root / "pipelines/daily.yaml").read_text()
    assert "{{ env.vars.landing_path }}" in pipeline, "pipeline expressions must be copied verbatim"


def test_explicit_name_is_escaped_for_yaml(tmp_path: Path) -> None:
    name = 'clinic "north" \\ 2'
    result = init_project(tmp_path / "x", name=name, rows=10)
    config = _load_yaml(result.root / "lockgate.yaml")
    assert isinstance(config, dict)
    assert config["name"] == name
    assert (result.root / "README.md").read_text().startswith(f"# {name}\n")


def test_generated_yaml_parses(project: ScaffoldResult) -> None:
    config = _load_yaml(project.root / "lockgate.yaml")
    assert isinstance(config, dict)
    assert config["engine"] == "duckdb"
    assert set(config["vars"]) == {"landing_path", "min_admit_year"}
    assert set(config["environments"]) == {"dev", "test", "staging", "prod"}
    assert config["environments"]["prod"]["vars"] == {"min_admit_year": 2023}

    pipeline = _load_yaml(project.root / "pipelines/daily.yaml")
    assert isinstance(pipeline, dict)
    names = [activity["name"] for activity in pipeline["activities"]]
    assert len(names) == len(set(names))
    for activity in pipeline["activities"]:
        assert set(activity.get("depends_on", [])) <= set(names)
        target = project.root / (activity.get("notebook") or activity["file"])
        candidates = [target] + [target.with_name(target.name + ext) for ext in (".py", ".sql", ".ipynb")]
        assert any(path.is_file() for path in candidates), f"{activity['name']}: {target} is missing"


def test_notebooks_are_well_formed(project: ScaffoldResult) -> None:
    import nbformat

    notebooks = project.root / "notebooks"
    for path in notebooks.rglob("*.py"):
        compile(path.read_text(encoding="utf-8"), str(path), "exec")  # MAGIC lines are comments
    for path in notebooks.rglob("*.ipynb"):
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        assert notebook.cells[0].cell_type == "markdown"
        assert any(cell.source.startswith("%sql") for cell in notebook.cells)
    source = (notebooks / "bronze/ingest_patients.py").read_text(encoding="utf-8")
    assert source.startswith("# Databricks notebook source\n")
    assert "# MAGIC %run ./_config" in source
    assert "# MAGIC %sql" in source


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    first = init_project(tmp_path / "a", rows=40, seed=11)
    second = init_project(tmp_path / "b", rows=40, seed=11)
    other = init_project(tmp_path / "c", rows=40, seed=12)
    for name in DATA_FILES:
        assert (first.root / name).read_bytes() == (second.root / name).read_bytes(), name
    assert (first.root / DATA_FILES[0]).read_bytes() != (other.root / DATA_FILES[0]).read_bytes()


def test_patients_have_duplicates_and_missing_cities(project: ScaffoldResult) -> None:
    patients = _patients(project.root)
    assert len(patients) == ROWS
    assert list(patients[0]) == [
        "patient_id", "first_name", "last_name", "ssn", "date_of_birth", "sex", "city", "state",
    ]  # fmt: skip
    ids = [row["patient_id"] for row in patients]
    assert 0 < len(ids) - len(set(ids)) < 5
    assert any(row["city"] == "" for row in patients)
    for row in patients:
        assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", row["ssn"])
        assert dt.date.fromisoformat(row["date_of_birth"]) < dt.date(2021, 1, 1)
        assert row["sex"] in {"F", "M"}
        assert row["state"]


def test_encounters_reference_patients_and_providers(project: ScaffoldResult) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(project.root / "data/landing/encounters.parquet")
    assert table.num_rows == 3 * ROWS
    assert table.column_names == [
        "encounter_id", "patient_id", "provider_id", "admit_date", "discharge_date", "encounter_type",
        "diagnosis_code", "total_charge",
    ]  # fmt: skip
    assert str(table.schema.field("admit_date").type) == "date32[day]"
    assert str(table.schema.field("total_charge").type) == "double"
    rows = table.to_pylist()
    lines = (project.root / "data/landing/providers.json").read_text().splitlines()
    providers = [json.loads(line) for line in lines]
    assert len(providers) == 5
    assert set(providers[0]) == {"provider_id", "name", "specialty"}
    patient_ids = {row["patient_id"] for row in _patients(project.root)}
    assert len({row["encounter_id"] for row in rows}) == len(rows)
    for row in rows:
        assert row["patient_id"] in patient_ids
        assert row["provider_id"] in {provider["provider_id"] for provider in providers}
        assert dt.date(2022, 1, 1) <= row["admit_date"] <= dt.date(2024, 12, 31)
        assert row["discharge_date"] >= row["admit_date"]
        assert row["encounter_type"] in {"inpatient", "outpatient", "emergency"}
        assert re.fullmatch(r"[A-Z]\d{2}(\.[0-9A-Z]{1,4})?", row["diagnosis_code"])
        assert row["total_charge"] > 0


def test_default_size(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    result = init_project(tmp_path / "big")
    assert len(_patients(result.root)) == 2000
    assert pq.read_metadata(result.root / "data/landing/encounters.parquet").num_rows == 6000


def test_an_empty_existing_directory_is_used(tmp_path: Path) -> None:
    result = init_project(tmp_path, rows=10)
    assert result.root == tmp_path.resolve()
    assert (tmp_path / "lockgate.yaml").is_file()


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UserInputError, match="not empty") as caught:
        init_project(tmp_path)
    assert str(tmp_path.resolve()) in caught.value.message
    assert caught.value.hint == "choose an empty or new directory"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UserInputError, match="it is a file"):
        init_project(target)
    assert target.read_text() == "x"


def test_refuses_too_few_rows(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="rows must be at least 10"):
        init_project(tmp_path / "p", rows=3)
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("existed", [True, False])
def test_a_failed_init_leaves_the_directory_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existed: bool
) -> None:
    target = tmp_path / "p"
    if existed:
        target.mkdir()

    def fail(*args: object, **kwargs: object) -> list[Path]:
        raise OSError("disk full")

    monkeypatch.setattr(scaffold, "_write_data", fail)
    with pytest.raises(OSError, match="disk full"):
        init_project(target)
    assert target.exists() is existed
    if existed:
        assert list(target.iterdir()) == []
