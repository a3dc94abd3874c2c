"""build_plan: actions, reasons, trigger actions and drift, from a release and a deployed state (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from lockgate.model.plan import (
    ChangeAction,
    ChangeReason,
    DeployedResource,
    DeployedState,
    TriggerActionKind,
    TriggerRuntime,
    TriggerState,
    build_plan,
    change_reasons,
)
from lockgate.model.release import Release, Resource, build_release, make_resource

PIPELINE: dict[str, Any] = {
    "parameters": {"day": {"type": "date"}},
    "activities": [
        {"name": "a", "type": "notebook", "notebook": "nb/a.py", "depends_on": []},
        {"name": "b", "type": "notebook", "notebook": "nb/b.py", "depends_on": [{"activity": "a"}]},
    ],
}
TRIGGER: dict[str, Any] = {"type": "schedule", "pipeline": "daily", "cron": "0 2 * * *", "parameters": {}}


def release(*resources: Resource, environment: str = "prod") -> Release:
    return build_release("demo", environment, list(resources), commit="c0ffee", dirty=False)


def base_resources(
    *, notebook: str = "print(1)", pipeline: dict[str, Any] = PIPELINE, trigger: dict[str, Any] = TRIGGER
) -> list[Resource]:
    return [
        make_resource("pipeline", "daily", pipeline, depends_on=("notebook/nb/a.py", "notebook/nb/b.py")),
        make_resource("notebook", "nb/a.py", {"path": "nb/a.py", "source": notebook}),
        make_resource("notebook", "nb/b.py", {"path": "nb/b.py", "source": "print(2)"}),
        make_resource("notebook", "nb/unused.py", {"path": "nb/unused.py", "source": "x"}),
        make_resource("trigger", "nightly", trigger, state="started", depends_on=("pipeline/daily",)),
    ]


def deployed_from(
    built: Release, *, triggers: dict[str, TriggerRuntime] | None = None, deployment_id: int = 1
) -> DeployedState:
    resources = {r.key: DeployedResource(r.kind, r.name, r.hash, r.definition, r.state) for r in built.resources}
    if triggers is None:
        triggers = {
            r.name: TriggerRuntime(r.name, TriggerState(r.state or "stopped"), "deploy")
            for r in built.resources
            if r.kind == "trigger"
        }
    return DeployedState(
        "prod",
        deployment_id,
        built.hash,
        built.commit,
        resources,
        {r.key: r.hash for r in built.resources},
        triggers,
    )


def test_first_deploy_creates_everything_and_starts_started_triggers() -> None:
    plan = build_plan(release(*base_resources()), DeployedState("prod"))

    assert {c.action for c in plan.changes} == {ChangeAction.create}
    assert [(a.name, a.action, a.after) for a in plan.trigger_actions] == [
        ("nightly", TriggerActionKind.start, TriggerState.started)
    ]
    assert plan.base_deployment_id is None
    assert plan.has_changes


def test_the_same_release_again_is_all_unchanged_and_no_trigger_is_touched() -> None:
    built = release(*base_resources())
    plan = build_plan(built, deployed_from(built))

    assert {c.action for c in plan.changes} == {ChangeAction.unchanged}
    assert plan.trigger_actions == ()
    assert plan.drift == ()
    assert not plan.has_changes


def test_a_notebook_change_pauses_only_the_triggers_that_run_it() -> None:
    old = release(*base_resources())
    other_trigger = make_resource(
        "trigger", "other", {**TRIGGER, "pipeline": "weekly"}, state="started", depends_on=("pipeline/weekly",)
    )
    weekly = make_resource("pipeline", "weekly", {"activities": []}, depends_on=("notebook/nb/unused.py",))
    deployed = deployed_from(release(*base_resources(), weekly, other_trigger))
    plan = build_plan(release(*base_resources(notebook="print(10)"), weekly, other_trigger), deployed)

    changed = [(c.key, c.action, c.reasons) for c in plan.changes if c.action is not ChangeAction.unchanged]
    assert changed == [("notebook/nb/a.py", ChangeAction.update, (ChangeReason.DEFINITION,))]
    assert [(a.name, a.action) for a in plan.trigger_actions] == [("nightly", TriggerActionKind.pause_resume)]
    assert plan.paused_triggers == ("nightly",)
    assert old.hash != plan.release_hash


def test_a_cron_edit_is_a_schedule_change_of_the_trigger_only() -> None:
    deployed = deployed_from(release(*base_resources()))
    plan = build_plan(release(*base_resources(trigger={**TRIGGER, "cron": "30 3 * * *"})), deployed)

    updates = [c for c in plan.changes if c.action is ChangeAction.update]
    assert [(c.key, c.reasons) for c in updates] == [("trigger/nightly", (ChangeReason.SCHEDULE,))]
    assert updates[0].diff == ("@@ -1,2 +1,2 @@", '-cron: "0 2 * * *"', '+cron: "30 3 * * *"', " parameters: {}")
    assert [a.action for a in plan.trigger_actions] == [TriggerActionKind.pause_resume]


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({"parameters": {}}, [ChangeReason.PARAMETERS]),
        (
            {"activities": [PIPELINE["activities"][0], {**PIPELINE["activities"][1], "depends_on": []}]},
            [ChangeReason.DEPENDENCIES],
        ),
        (
            {"activities": [PIPELINE["activities"][0], {**PIPELINE["activities"][1], "notebook": "nb/c.py"}]},
            [ChangeReason.DEFINITION],
        ),
        ({"parameters": {}, "max_parallel": 2}, [ChangeReason.DEFINITION, ChangeReason.PARAMETERS]),
    ],
)
def test_pipeline_change_reasons_name_the_part_that_changed(
    change: dict[str, Any], reasons: list[ChangeReason]
) -> None:
    assert change_reasons("pipeline", PIPELINE, {**PIPELINE, **change}) == reasons


def test_a_resource_gone_from_git_is_a_destructive_delete_and_its_trigger_stops() -> None:
    deployed = deployed_from(release(*base_resources()))
    remaining = [r for r in base_resources() if r.kind != "trigger"]
    plan = build_plan(release(*remaining), deployed)

    assert [(c.key, c.action) for c in plan.destructive_changes] == [("trigger/nightly", ChangeAction.delete)]
    assert [(a.name, a.action, a.after) for a in plan.trigger_actions] == [("nightly", TriggerActionKind.stop, None)]
    assert plan.removed_triggers == ("nightly",)


def test_an_operator_pause_is_kept_unless_resume_all() -> None:
    built = release(*base_resources())
    paused = {"nightly": TriggerRuntime("nightly", TriggerState.stopped, "operator", "ana")}
    deployed = deployed_from(built, triggers=paused)

    kept = build_plan(built, deployed)
    assert [(a.action, a.after) for a in kept.trigger_actions] == [
        (TriggerActionKind.keep_paused, TriggerState.stopped)
    ]
    assert kept.drift == ()
    assert not kept.has_changes

    resumed = build_plan(built, deployed, resume_all=True)
    assert [(a.action, a.after) for a in resumed.trigger_actions] == [(TriggerActionKind.start, TriggerState.started)]
    assert resumed.has_changes


def test_a_trigger_started_by_hand_where_git_stops_it_is_drift_and_gets_stopped() -> None:
    stopped = make_resource("trigger", "nightly", TRIGGER, state="stopped", depends_on=("pipeline/daily",))
    resources = [stopped if r.kind == "trigger" else r for r in base_resources()]
    built = release(*resources)
    deployed = deployed_from(
        built, triggers={"nightly": TriggerRuntime("nightly", TriggerState.started, "operator", "bo")}
    )
    plan = build_plan(built, deployed)

    assert [(d.key, d.description) for d in plan.drift] == [
        ("trigger/nightly", "started by hand by bo; Git has it stopped here")
    ]
    assert [(a.action, a.after) for a in plan.trigger_actions] == [(TriggerActionKind.stop, TriggerState.stopped)]


def test_a_definition_edited_in_the_state_store_is_drift_and_git_wins() -> None:
    built = release(*base_resources())
    deployed = deployed_from(built)
    edited = dict(deployed.resources)
    trigger = edited["trigger/nightly"]
    edited["trigger/nightly"] = DeployedResource(
        trigger.kind, trigger.name, trigger.hash, {**trigger.definition, "cron": "* * * * *"}, trigger.state
    )
    plan = build_plan(built, DeployedState("prod", 1, built.hash, None, edited, deployed.released, deployed.triggers))

    change = next(c for c in plan.changes if c.key == "trigger/nightly")
    assert (change.action, change.reasons) == (ChangeAction.update, (ChangeReason.DRIFT, ChangeReason.SCHEDULE))
    assert '+cron: "0 2 * * *"' in change.diff
    assert [d.key for d in plan.drift] == ["trigger/nightly"]


def test_a_deployed_resource_deleted_by_hand_is_recreated_as_drift() -> None:
    built = release(*base_resources())
    deployed = deployed_from(built)
    resources = {key: r for key, r in deployed.resources.items() if key != "notebook/nb/b.py"}
    plan = build_plan(
        built, DeployedState("prod", 1, built.hash, None, resources, deployed.released, deployed.triggers)
    )

    change = next(c for c in plan.changes if c.key == "notebook/nb/b.py")
    assert (change.action, change.reasons) == (ChangeAction.create, (ChangeReason.DRIFT,))
    assert [a.action for a in plan.trigger_actions] == [TriggerActionKind.pause_resume]


def test_plan_hash_is_deterministic_and_depends_on_the_base_state() -> None:
    built = release(*base_resources())
    deployed = deployed_from(built)

    assert build_plan(built, deployed).hash == build_plan(built, deployed).hash
    assert build_plan(built, deployed).hash != build_plan(built, deployed_from(built, deployment_id=2)).hash


def test_environment_values_do_not_make_shared_resources_differ() -> None:
    dev = release(make_resource("environment", "dev", {"vars": {"x": 1}}), *base_resources(), environment="dev")
    prod = release(make_resource("environment", "prod", {"vars": {"x": 2}}), *base_resources())

    shared = lambda built: {r.key: r.hash for r in built.resources if r.kind != "environment"}  # noqa: E731
    assert shared(dev) == shared(prod)
    assert dev.hash != prod.hash
