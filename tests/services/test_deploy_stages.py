"""build_deploy_stages: the stages a plan is applied by, in order, with what each one touches."""

from __future__ import annotations

from lockgate.model.plan import DeployedResource, DeployedState, TriggerRuntime, TriggerState, build_plan
from lockgate.model.release import build_release, make_resource
from lockgate.services.deploy import (
    AcquireLock,
    ApplyChanges,
    PauseTriggers,
    RecordDeployment,
    ResumeTriggers,
    build_deploy_stages,
)

TRIGGER = {"type": "schedule", "pipeline": "daily", "cron": "0 2 * * *"}


def test_stages_pause_only_the_changed_running_trigger_and_resume_it() -> None:
    old = [
        make_resource("pipeline", "daily", {"activities": []}, depends_on=("notebook/a.py",)),
        make_resource("notebook", "a.py", {"path": "a.py", "source": "1"}),
        make_resource("trigger", "nightly", TRIGGER, state="started", depends_on=("pipeline/daily",)),
        make_resource("trigger", "weekly", {**TRIGGER, "cron": "0 3 * * 0"}, state="started"),
        make_resource("trigger", "gone", TRIGGER, state="started"),
    ]
    deployed = DeployedState(
        "prod",
        1,
        resources={r.key: DeployedResource(r.kind, r.name, r.hash, r.definition, r.state) for r in old},
        triggers={r.name: TriggerRuntime(r.name, TriggerState.started, "deploy") for r in old if r.kind == "trigger"},
    )
    new = [r for r in old if r.name not in ("a.py", "gone")]
    new.append(make_resource("notebook", "a.py", {"path": "a.py", "source": "2"}))
    new.append(make_resource("trigger", "fresh", TRIGGER, state="stopped"))
    plan = build_plan(build_release("p", "prod", new, commit=None, dirty=False), deployed)

    assert build_deploy_stages(plan, action="rollback") == [
        AcquireLock("prod"),
        PauseTriggers(("nightly", "gone")),
        ApplyChanges(3),
        ResumeTriggers({"gone": None, "fresh": TriggerState.stopped, "nightly": TriggerState.started}),
        RecordDeployment("rollback"),
    ]


def test_a_no_op_plan_still_takes_the_lock_and_records_the_deployment() -> None:
    resource = make_resource("notebook", "a.py", {"path": "a.py", "source": "1"})
    deployed = DeployedState(
        "prod", 1, resources={resource.key: DeployedResource("notebook", "a.py", resource.hash, resource.definition)}
    )
    plan = build_plan(build_release("p", "prod", [resource], commit=None, dirty=False), deployed)

    assert build_deploy_stages(plan) == [
        AcquireLock("prod"),
        PauseTriggers(()),
        ApplyChanges(0),
        ResumeTriggers({}),
        RecordDeployment("deploy"),
    ]
