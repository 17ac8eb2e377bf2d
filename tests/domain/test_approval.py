"""Four eyes on PROD: a deployment awaiting approval is approved or rejected by a project admin other than its
requester; a super admin may decide on their own request, audited as an override; each refusal names its rule."""

from __future__ import annotations

import pytest

from domain.enums import DeploymentStatus, Environment, Role
from domain.errors import Forbidden, InvalidInput
from domain.permissions import FOUR_EYES
from domain.services.deployments import DeploymentService

SA, PA, DEV, TESTER, GUEST = Role.SUPER_ADMIN, Role.PROJECT_ADMIN, Role.DEVELOPER, Role.TESTER, Role.GUEST


async def _prod_request(world, project, requester):
    return await DeploymentService(world.deps).create(
        requester, project_id=project.id, environment=Environment.PROD, version="3.1.0"
    )


def _audits(world, deployment_id):
    return [
        (a.action, a.outcome, a.before, a.after)
        for a in sorted(world.db.rows("audit"), key=lambda a: a.at)
        if a.entity_id == str(deployment_id) or a.entity_type == "authorization"
    ]


@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_the_requester_may_not_decide_on_their_own_prod_deployment(world, decision):
    project = world.project()
    requester = world.user(PA, project)
    deployment = await _prod_request(world, project, requester)
    service = DeploymentService(world.deps)
    call = (
        service.approve(requester, deployment.id)
        if decision == "approve"
        else service.reject(requester, deployment.id, "not ready")
    )

    with pytest.raises(Forbidden) as refused:
        await call

    assert refused.value.permission == FOUR_EYES == "deploy:four-eyes"
    assert f"may not {decision} it" in refused.value.message and FOUR_EYES in refused.value.message
    row = world.row("deployments", deployment.id)
    assert (row.status, row.approved_by, row.rejected_by) == (DeploymentStatus.AWAITING_APPROVAL, None, None)
    denied = [a for a in world.db.rows("audit") if a.outcome == "DENIED"]
    assert [(a.action, a.after["error"]) for a in denied] == [(f"deployment.{decision}", refused.value.message)]


async def test_a_second_project_admin_approves_and_the_audit_names_both(world):
    project = world.project()
    requester, approver = world.user(PA, project), world.user(PA, project)
    deployment = await _prod_request(world, project, requester)

    approved = await DeploymentService(world.deps).approve(approver, deployment.id)

    assert approved.status is DeploymentStatus.PENDING
    row = world.row("deployments", deployment.id)
    assert (row.status, row.approved_by, row.deployed_by) == (
        DeploymentStatus.PENDING,
        approver.user_id,
        requester.user_id,
    )
    assert _audits(world, deployment.id)[-1] == (
        "deployment.approve",
        "OK",
        {"status": "AWAITING_APPROVAL"},
        {
            "status": "PENDING",
            "approvedBy": str(approver.user_id),
            "requestedBy": str(requester.user_id),
            "override": False,
        },
    )


async def test_a_second_project_admin_rejects_with_a_reason(world):
    project = world.project()
    requester, reviewer = world.user(PA, project), world.user(PA, project)
    deployment = await _prod_request(world, project, requester)
    world.clock.advance(30)

    rejected = await DeploymentService(world.deps).reject(reviewer, deployment.id, "  freeze until Monday  ")

    row = world.row("deployments", deployment.id)
    assert rejected.status is row.status is DeploymentStatus.FAILED
    assert (row.rejected_by, row.rejection_reason, row.approved_by) == (reviewer.user_id, "freeze until Monday", None)
    assert row.completed_at == world.clock.now()
    assert _audits(world, deployment.id)[-1] == (
        "deployment.reject",
        "OK",
        {"status": "AWAITING_APPROVAL"},
        {
            "status": "FAILED",
            "rejectedBy": str(reviewer.user_id),
            "reason": "freeze until Monday",
            "requestedBy": str(requester.user_id),
            "override": False,
        },
    )
    event = world.bus.published[-1]
    assert (event.entity_type, event.action, event.old_status, event.new_status) == (
        "Deployment",
        "status_changed",
        "AWAITING_APPROVAL",
        "FAILED",
    )


@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_a_super_admin_may_override_four_eyes_and_it_is_audited_as_such(world, decision):
    project = world.project()
    admin = world.user(SA, project)
    deployment = await _prod_request(world, project, admin)
    service = DeploymentService(world.deps)

    if decision == "approve":
        await service.approve(admin, deployment.id)
    else:
        await service.reject(admin, deployment.id, "withdrawn")

    action, outcome, _, after = _audits(world, deployment.id)[-1]
    assert (action, outcome) == (f"deployment.{decision}.override", "OK")
    assert after["override"] is True and after["requestedBy"] == str(admin.user_id)


@pytest.mark.parametrize("role", [DEV, TESTER, GUEST])
@pytest.mark.parametrize("decision", ["approve", "reject"])
async def test_only_admins_decide_on_deployments(world, role, decision):
    project = world.project()
    deployment = await _prod_request(world, project, world.user(PA, project))
    viewer = world.user(role, project)
    service = DeploymentService(world.deps)
    call = (
        service.approve(viewer, deployment.id) if decision == "approve" else service.reject(viewer, deployment.id, "no")
    )
    with pytest.raises(Forbidden) as refused:
        await call
    assert refused.value.permission == "deploy:approve"
    assert world.row("deployments", deployment.id).status is DeploymentStatus.AWAITING_APPROVAL


async def test_an_admin_of_another_project_may_not_decide(world):
    project, other = world.project(), world.project("Other")
    deployment = await _prod_request(world, project, world.user(PA, project))
    outsider = world.user(PA, other)
    with pytest.raises(Forbidden) as refused:
        await DeploymentService(world.deps).approve(outsider, deployment.id)
    assert refused.value.permission == "project:member"


async def test_a_decision_needs_a_deployment_awaiting_one_and_a_reason(world):
    project = world.project()
    requester, second = world.user(PA, project), world.user(PA, project)
    deployment = await _prod_request(world, project, requester)
    service = DeploymentService(world.deps)
    with pytest.raises(InvalidInput) as blank:
        await service.reject(second, deployment.id, "   ")
    assert blank.value.field == "reason"
    await service.approve(second, deployment.id)
    for call in (service.approve(second, deployment.id), service.reject(second, deployment.id, "late")):
        with pytest.raises(InvalidInput) as late:
            await call
        assert late.value.details["currentStatus"] == "PENDING"


@pytest.mark.parametrize("status", [DeploymentStatus.PENDING, DeploymentStatus.FAILED])
async def test_a_status_change_cannot_stand_in_for_the_decision(world, status):
    project = world.project()
    requester = world.user(PA, project)
    deployment = await _prod_request(world, project, requester)
    with pytest.raises(InvalidInput, match="approveDeployment or rejectDeployment"):
        await DeploymentService(world.deps).change_status(requester, deployment.id, status)
    assert world.row("deployments", deployment.id).status is DeploymentStatus.AWAITING_APPROVAL


@pytest.mark.parametrize(
    ("role", "environment", "refusal"),
    [
        (DEV, Environment.DEV, None),
        (DEV, Environment.STAGING, "deploy:any"),
        (DEV, Environment.PROD, "deploy:any"),
        (TESTER, Environment.DEV, "deploy:dev"),
        (GUEST, Environment.DEV, "deploy:dev"),
        (PA, Environment.PROD, None),
    ],
)
async def test_who_may_request_a_deployment_where(world, role, environment, refusal):
    project = world.project()
    viewer = world.user(role, project)
    create = DeploymentService(world.deps).create(viewer, project_id=project.id, environment=environment, version="1")
    if refusal is None:
        deployment = await create
        waits = environment is Environment.PROD
        assert (deployment.status is DeploymentStatus.AWAITING_APPROVAL) is waits
        return
    with pytest.raises(Forbidden) as refused:
        await create
    assert refused.value.permission == refusal and refusal in refused.value.message
    assert world.db.rows("deployments") == []
