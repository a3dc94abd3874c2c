"""The JSON form of a plan: what `lockgate plan --format json` prints and `--out FILE` saves for `deploy --plan`.

The document is versioned (``format``), and its schema is documented in ``docs/deploy.md``. A saved plan is read
back by :func:`read_saved_plan`, which checks that it is a lockgate plan and keeps what a deploy verifies: the
project, environment, release hash and commit, the deployed state the plan was made against, and the plan hash.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from lockgate.errors import UserInputError
from lockgate.model.plan import ChangeAction, Plan

PLAN_FORMAT = "lockgate-plan/1"


def plan_document(plan: Plan, *, include_unchanged: bool = True) -> dict[str, Any]:
    """The plan as JSON-able data; every change carries ``action``: create, update, delete or unchanged."""
    return {
        "format": PLAN_FORMAT,
        "project": plan.project,
        "environment": plan.environment,
        "plan_hash": plan.hash,
        "release": {"hash": plan.release_hash, "commit": plan.commit, "dirty": plan.dirty},
        "base": {"deployment_id": plan.base_deployment_id, "state_hash": plan.base_state_hash},
        "summary": {**plan.counts, "destructive": len(plan.destructive_changes), "drift": len(plan.drift)},
        "changes": [
            {
                "kind": change.kind,
                "name": change.name,
                "action": change.action.value,
                "reasons": [reason.value for reason in change.reasons],
                "destructive": change.destructive,
                "old_hash": change.old_hash,
                "new_hash": change.new_hash,
                "diff": list(change.diff),
            }
            for change in plan.changes
            if include_unchanged or change.action is not ChangeAction.unchanged
        ],
        "triggers": [
            {
                "name": action.name,
                "action": action.action.value,
                "before": action.before.value if action.before else None,
                "after": action.after.value if action.after else None,
                "reason": action.reason,
            }
            for action in plan.trigger_actions
        ],
        "drift": [{"resource": drift.key, "description": drift.description} for drift in plan.drift],
    }


class _Release(BaseModel):
    hash: str
    commit: str | None
    dirty: bool


class _Base(BaseModel):
    deployment_id: int | None
    state_hash: str


class SavedPlan(BaseModel):
    """What a deploy checks of a saved plan (the rest of the document is for people and CI)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    format: str
    project: str
    environment: str
    plan_hash: str
    release: _Release
    base: _Base


def read_saved_plan(text: str, file: str) -> SavedPlan:
    """Parse a saved plan.

    Raises:
        UserInputError: not JSON, not a lockgate plan, or of another format version.
    """
    hint = "save a plan with `lockgate plan --env ENV --out FILE`, then `lockgate deploy --env ENV --plan FILE`"
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UserInputError(f"{file} is not a saved plan: not JSON ({exc})", hint=hint) from exc
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        found = data.get("format") if isinstance(data, dict) else None
        raise UserInputError(
            f"{file} is not a lockgate plan of format {PLAN_FORMAT!r}" + (f" (it says {found!r})" if found else ""),
            hint=hint,
        )
    try:
        return SavedPlan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UserInputError(f"{file} is not a valid saved plan: {where}: {first['msg']}", hint=hint) from exc
