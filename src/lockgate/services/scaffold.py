"""``lockgate init``: a new project from the packaged template, with a synthetic data set.

Owns the template tree under ``lockgate/templates/project`` and the generator of its demo data.

Key contracts:
- Only an empty or missing directory is filled; anything else is refused with :class:`UserInputError`, and a
  failed init removes what it wrote, so the directory is left as it was found.
- Template files are copied byte for byte, except that ``{{ project_name }}`` is replaced (plain text, never
  Jinja: notebooks hold their own ``{{ }}``) in the top-level ``lockgate.yaml`` and ``README.md``.
- The data set depends on ``rows`` and ``seed`` alone: the same arguments give the same bytes (for Parquet,
  with the same pyarrow version, which the file records). Each file draws from its own ``random.Random``, so
  changing one generator never shifts another file's data.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import random
import shutil
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from lockgate.errors import UserInputError

logger = logging.getLogger(__name__)

__all__ = ["ScaffoldResult", "init_project"]

NAMED_FILES = ("lockgate.yaml", "README.md")
"""Template files in which ``{{ project_name }}`` is substituted."""

GITIGNORE = ".lockgate/\n__pycache__/\n*.pyc\n.ipynb_checkpoints/\n"
MIN_ROWS = 10

_FIRST_NAMES = (
    "Aaliyah", "Aiden", "Amelia", "Ava", "Benjamin", "Camila", "Carlos", "Charlotte", "Chloe", "Daniel",
    "David", "Elena", "Elijah", "Emily", "Emma", "Ethan", "Evelyn", "Fatima", "Grace", "Hannah", "Henry",
    "Isabella", "Jack", "James", "Jamal", "Liam", "Lucas", "Maria", "Mason", "Mei", "Mia", "Noah", "Olivia",
    "Priya", "Samuel", "Sofia", "Sophia", "Wei", "William", "Zoe",
)  # fmt: skip
_LAST_NAMES = (
    "Anderson", "Brown", "Chen", "Clark", "Davis", "Garcia", "Gonzalez", "Harris", "Hernandez", "Jackson",
    "Johnson", "Jones", "Kim", "Lee", "Lewis", "Lopez", "Martin", "Martinez", "Miller", "Moore", "Nguyen",
    "Patel", "Robinson", "Rodriguez", "Sanchez", "Smith", "Taylor", "Thomas", "Thompson", "Walker", "White",
    "Williams", "Wilson", "Young",
)  # fmt: skip
_CITIES = (
    ("Boston", "MA"), ("Worcester", "MA"), ("Springfield", "MA"), ("Providence", "RI"), ("Hartford", "CT"),
    ("New Haven", "CT"), ("Albany", "NY"), ("Buffalo", "NY"), ("Rochester", "NY"), ("Portland", "ME"),
    ("Burlington", "VT"), ("Manchester", "NH"),
)  # fmt: skip
_SPECIALTIES = (
    "Cardiology", "Emergency Medicine", "Family Medicine", "Internal Medicine", "Neurology", "Obstetrics",
    "Oncology", "Orthopedics", "Pediatrics", "Psychiatry", "Pulmonology",
)  # fmt: skip
_DIAGNOSES = (
    "A41.9", "C50.911", "E11.9", "F32.9", "I10", "I21.4", "I50.9", "J18.9", "J45.909", "K21.9", "K35.80",
    "M54.5", "N39.0", "O80", "R07.9", "S72.001A", "Z00.00",
)  # fmt: skip
# encounter type -> (weight, (min, max) length of stay in days, (min, max) charge per encounter)
_ENCOUNTER_TYPES: dict[str, tuple[int, tuple[int, int], tuple[float, float]]] = {
    "outpatient": (60, (0, 0), (80.0, 900.0)),
    "emergency": (25, (0, 1), (400.0, 6000.0)),
    "inpatient": (15, (1, 14), (4000.0, 60000.0)),
}
_FIRST_ADMIT = dt.date(2022, 1, 1)
_LAST_ADMIT = dt.date(2024, 12, 31)
_ENCOUNTER_COLUMNS = (
    "encounter_id", "patient_id", "provider_id", "admit_date", "discharge_date", "encounter_type",
    "diagnosis_code", "total_charge",
)  # fmt: skip
_FIRST_BORN = dt.date(1935, 1, 1)
_LAST_BORN = dt.date(2020, 12, 31)


@dataclass(frozen=True, slots=True)
class ScaffoldResult:
    """What :func:`init_project` created."""

    root: Path
    """The project directory (absolute)."""
    files: tuple[Path, ...]
    """Every file written, absolute, sorted."""


def init_project(directory: Path, *, name: str | None = None, rows: int = 2000, seed: int = 7) -> ScaffoldResult:
    """Create a runnable project in ``directory`` from the packaged template.

    Args:
        directory: Where to create the project; must be missing or empty.
        name: The project name written into ``lockgate.yaml`` and ``README.md``; by default the directory's
            name.
        rows: Number of rows of ``patients.csv``; ``encounters.parquet`` gets three times as many.
        seed: Seed of the synthetic data; the same ``rows`` and ``seed`` give the same bytes.

    Returns:
        The project root and the files written.

    Raises:
        UserInputError: ``directory`` is a file or a non-empty directory, or ``name`` or ``rows`` is invalid.
    """
    root = directory.expanduser().resolve()
    project_name = root.name if name is None else name.strip()
    if not project_name:
        raise UserInputError("the project name is empty", hint="pass a name, e.g. --name my_project")
    if rows < MIN_ROWS:
        raise UserInputError(f"rows must be at least {MIN_ROWS}, got {rows}")
    existed = _check_target(root)
    root.mkdir(parents=True, exist_ok=True)
    try:
        files = _copy_template(resources.files("lockgate") / "templates" / "project", root, project_name)
        gitignore = root / ".gitignore"
        gitignore.write_text(GITIGNORE, encoding="utf-8")
        files.append(gitignore)
        files.extend(_write_data(root / "data" / "landing", rows=rows, seed=seed))
    except BaseException:
        _undo(root, existed=existed)
        raise
    logger.info(
        "created project %r in %s (%d files, %d patient rows, seed %d)",
        project_name,
        root,
        len(files),
        rows,
        seed,
    )
    return ScaffoldResult(root=root, files=tuple(sorted(files)))


def _check_target(root: Path) -> bool:
    """Refuse anything but a missing or empty directory; return whether it already existed."""
    hint = "choose an empty or new directory"
    if not root.exists():
        return False
    if not root.is_dir():
        raise UserInputError(f"cannot create a project in {root}: it is a file", hint=hint)
    if any(root.iterdir()):
        raise UserInputError(f"cannot create a project in {root}: the directory is not empty", hint=hint)
    return True


def _undo(root: Path, *, existed: bool) -> None:
    """Remove what a failed init wrote; the directory was empty or missing before, so all of it is ours."""
    if not existed:
        shutil.rmtree(root, ignore_errors=True)
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _copy_template(source: Traversable, target: Path, project_name: str, *, top: bool = True) -> list[Path]:
    """Copy the template tree below ``source`` into ``target``; name the project in top-level NAMED_FILES."""
    written: list[Path] = []
    for entry in sorted(source.iterdir(), key=lambda item: item.name):
        if entry.name == "__pycache__" or entry.name.endswith(".pyc"):
            continue
        destination = target / entry.name
        if entry.is_dir():
            destination.mkdir(exist_ok=True)
            written.extend(_copy_template(entry, destination, project_name, top=False))
            continue
        data = entry.read_bytes()
        if top and entry.name in NAMED_FILES:
            data = _name_project(data, entry.name, project_name)
        destination.write_bytes(data)
        written.append(destination)
    return written


def _name_project(data: bytes, file_name: str, project_name: str) -> bytes:
    """Put ``project_name`` in place of ``{{ project_name }}``, escaped for a double-quoted YAML string."""
    value = project_name
    if file_name.endswith(".yaml"):
        value = project_name.replace("\\", "\\\\").replace('"', '\\"')
    return data.decode("utf-8").replace("{{ project_name }}", value).encode("utf-8")


def _write_data(landing: Path, *, rows: int, seed: int) -> list[Path]:
    """Write the three landing files and return their paths."""
    landing.mkdir(parents=True, exist_ok=True)
    providers = build_providers(random.Random(f"{seed}:providers"), count=max(5, rows // 50))
    patients = build_patients(random.Random(f"{seed}:patients"), rows=rows)
    patient_ids = sorted({row["patient_id"] for row in patients})
    provider_ids = [row["provider_id"] for row in providers]
    encounters = build_encounters(random.Random(f"{seed}:encounters"), patient_ids, provider_ids, count=3 * rows)
    paths = [landing / "patients.csv", landing / "encounters.parquet", landing / "providers.json"]
    _write_csv(paths[0], patients)
    _write_parquet(paths[1], encounters)
    _write_ndjson(paths[2], providers)
    return paths


def build_patients(rng: random.Random, *, rows: int) -> list[dict[str, str]]:
    """Patients as CSV rows: ``rows`` rows of which a few are exact duplicates and a few lack a city."""
    duplicates = max(2, rows // 500)
    missing_city = max(3, rows // 200)
    unique = rows - duplicates
    patients: list[dict[str, str]] = []
    for number in range(1, unique + 1):
        city, state = rng.choice(_CITIES)
        born = _FIRST_BORN + dt.timedelta(days=rng.randrange((_LAST_BORN - _FIRST_BORN).days + 1))
        patients.append({
            "patient_id": f"P{number:06d}",
            "first_name": rng.choice(_FIRST_NAMES),
            "last_name": rng.choice(_LAST_NAMES),
            "ssn": f"{rng.randint(100, 899):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}",
            "date_of_birth": born.isoformat(),
            "sex": rng.choice(("F", "M")),
            "city": city,
            "state": state,
        })  # fmt: skip
    for patient in rng.sample(patients, missing_city):
        patient["city"] = ""
    for patient in rng.sample(patients, duplicates):
        patients.insert(rng.randrange(len(patients) + 1), dict(patient))
    return patients


def build_providers(rng: random.Random, *, count: int) -> list[dict[str, str]]:
    """``count`` providers: id, display name and specialty."""
    return [
        {
            "provider_id": f"PR{number:04d}",
            "name": f"Dr. {rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}",
            "specialty": rng.choice(_SPECIALTIES),
        }
        for number in range(1, count + 1)
    ]


def build_encounters(
    rng: random.Random, patient_ids: list[str], provider_ids: list[str], *, count: int
) -> dict[str, list[Any]]:
    """``count`` encounters admitted in 2022-2024, as Parquet columns, numbered in admission order."""
    types = list(_ENCOUNTER_TYPES)
    weights = [_ENCOUNTER_TYPES[kind][0] for kind in types]
    span = (_LAST_ADMIT - _FIRST_ADMIT).days + 1
    drawn: list[dict[str, Any]] = []
    for _ in range(count):
        kind = rng.choices(types, weights)[0]
        _, (min_stay, max_stay), (min_charge, max_charge) = _ENCOUNTER_TYPES[kind]
        admit = _FIRST_ADMIT + dt.timedelta(days=rng.randrange(span))
        stay = rng.randint(min_stay, max_stay)
        drawn.append({
            "patient_id": rng.choice(patient_ids),
            "provider_id": rng.choice(provider_ids),
            "admit_date": admit,
            "discharge_date": admit + dt.timedelta(days=stay),
            "encounter_type": kind,
            "diagnosis_code": rng.choice(_DIAGNOSES),
            # longer stays cost more, but less than linearly
            "total_charge": round(rng.uniform(min_charge, max_charge) * max(stay, 1) ** 0.5, 2),
        })  # fmt: skip
    drawn.sort(key=lambda row: (row["admit_date"], row["patient_id"]))
    columns: dict[str, list[Any]] = {"encounter_id": [f"E{number:07d}" for number in range(1, count + 1)]}
    for column in _ENCOUNTER_COLUMNS[1:]:
        columns[column] = [row[column] for row in drawn]
    return columns


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _write_ndjson(path: Path, rows: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _write_parquet(path: Path, columns: dict[str, list[Any]]) -> None:
    import pyarrow as pa  # heavy, and only `init` needs it
    import pyarrow.parquet as pq

    types = {"admit_date": pa.date32(), "discharge_date": pa.date32(), "total_charge": pa.float64()}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in _ENCOUNTER_COLUMNS])
    pq.write_table(pa.table(columns, schema=schema), path, compression="snappy")
