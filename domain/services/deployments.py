"""Deployments: a project version rolled out to an environment, PROD behind approval."""

from __future__ import annotations

import builtins
import re
import uuid

from domain import status as machines
from domain import validation as v
from domain.enums import DeploymentStatus, Environment
from domain.errors import InvalidInput
from domain.model import Deployment
from domain.permissions import Permission, Viewer, require_deploy, require_second_person
from domain.repos import DEPLOYMENTS
from domain.services.access import EntityReads, load, load_in_project, require_member
from domain.services.base import Deps, Tx

VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,49}$")
_K8S_NAME = re.compile(r"[^a-z0-9-]+")
MAX_ARTIFACTS = 1_000


def k8s_name(text: str) -> str:
    return (_K8S_NAME.sub("-", text.lower()).strip("-") or "app")[:50]


class DeploymentService(EntityReads[Deployment]):
    def __init__(self, deps: Deps):
        super().__init__(deps, DEPLOYMENTS, Permission.PROJECT_READ)

    async def create(
        self,
        viewer: Viewer,
        *,
        project_id: uuid.UUID,
        environment: Environment,
        version: str,
        artifact_ids: builtins.list[uuid.UUID] | None = None,
    ) -> Deployment:
        async with Tx(self.deps, viewer, "deployment.create") as tx:
            require_deploy(viewer, environment)
            # Locked: deleting a project checks that it has no deployments.
            project = await load(tx.uow.projects, "Project", project_id, for_update=True)
            await require_member(tx.uow, viewer, project.id)
            version = v.text(version, "version", max_length=50)
            if not VERSION.match(version):
                raise InvalidInput(f"version {version!r} may use letters, digits and . _ + - only", field="version")
            ids = v.at_most(list(dict.fromkeys(artifact_ids or [])), "artifactIds", MAX_ARTIFACTS)
            found = {a.id: a for a in await tx.uow.artifacts.get_many(ids)}
            for aid in ids:
                if aid not in found or found[aid].project_id != project.id:
                    raise InvalidInput(
                        f"artifact {aid} is not an artifact of project {project_id}", field="artifactIds"
                    )
            now = tx.now()
            deployment = Deployment(
                project_id=project.id,
                environment=environment,
                version=version,
                artifact_ids=[str(a) for a in ids],
                deployed_by=viewer.user_id,
                status=DeploymentStatus.AWAITING_APPROVAL
                if environment is Environment.PROD
                else DeploymentStatus.PENDING,
                k8s_namespace=f"rdflow-{environment.value.lower()}",
                k8s_deployment_name=k8s_name(project.name),
                created_at=now,
                updated_at=now,
            )
            tx.created(
                DEPLOYMENTS, deployment, "deployment.create", project_id=project.id, new_status=deployment.status
            )
        return deployment

    async def approve(self, viewer: Viewer, deployment_id: uuid.UUID) -> Deployment:
        """Release a deployment awaiting approval (PENDING): a project admin other than its requester (four eyes);
        a super admin approving their own request is audited as an override."""
        async with Tx(self.deps, viewer, "deployment.approve") as tx:
            deployment = await self._awaiting(tx, deployment_id, DeploymentStatus.PENDING)
            override = require_second_person(viewer, deployment.deployed_by, "approve")
            deployment.approved_by = viewer.user_id
            set_deployment_status(
                tx,
                deployment,
                DeploymentStatus.PENDING,
                action="deployment.approve.override" if override else "deployment.approve",
                audit_after={"approvedBy": _str(viewer.user_id), **_decision(deployment, override)},
            )
        return deployment

    async def reject(self, viewer: Viewer, deployment_id: uuid.UUID, reason: str) -> Deployment:
        """Refuse a deployment awaiting approval (it ends FAILED), recording who refused it and why; the same four
        eyes as an approval."""
        async with Tx(self.deps, viewer, "deployment.reject") as tx:
            deployment = await self._awaiting(tx, deployment_id, DeploymentStatus.FAILED)
            override = require_second_person(viewer, deployment.deployed_by, "reject")
            deployment.rejected_by = viewer.user_id
            deployment.rejection_reason = v.text(reason, "reason", max_length=2_000)
            set_deployment_status(
                tx,
                deployment,
                DeploymentStatus.FAILED,
                action="deployment.reject.override" if override else "deployment.reject",
                audit_after={
                    "rejectedBy": _str(viewer.user_id),
                    "reason": deployment.rejection_reason,
                    **_decision(deployment, override),
                },
            )
        return deployment

    @staticmethod
    async def _awaiting(tx: Tx, deployment_id: uuid.UUID, requested: DeploymentStatus) -> Deployment:
        """The deployment, locked, if the viewer may decide on it and it awaits a decision."""
        deployment = await load_in_project(
            tx.uow, tx.viewer, DEPLOYMENTS, deployment_id, Permission.DEPLOY_APPROVE, for_update=True
        )
        if deployment.status is not DeploymentStatus.AWAITING_APPROVAL:
            raise InvalidInput(
                f"deployment is {deployment.status.value}, not AWAITING_APPROVAL",
                field="deploymentId",
                details={"currentStatus": deployment.status.value, "requestedStatus": requested.value},
            )
        return deployment

    async def change_status(self, viewer: Viewer, deployment_id: uuid.UUID, status: DeploymentStatus) -> Deployment:
        async with Tx(self.deps, viewer, "deployment.status") as tx:
            deployment = await load(tx.uow.deployments, "Deployment", deployment_id, for_update=True)
            require_deploy(viewer, deployment.environment)
            await require_member(tx.uow, viewer, deployment.project_id)
            if deployment.status is DeploymentStatus.AWAITING_APPROVAL and status in (
                DeploymentStatus.PENDING,
                DeploymentStatus.FAILED,
            ):
                # Four eyes: only approve/reject decide on a deployment awaiting approval.
                raise InvalidInput(
                    "use approveDeployment or rejectDeployment to decide on a deployment awaiting approval",
                    field="status",
                    details={"currentStatus": deployment.status.value, "requestedStatus": status.value},
                )
            set_deployment_status(tx, deployment, status)
        return deployment


def set_deployment_status(
    tx: Tx,
    deployment: Deployment,
    status: DeploymentStatus,
    *,
    action: str = "deployment.status",
    audit_after: dict[str, object] | None = None,
) -> None:
    tx.moved(
        machines.DEPLOYMENT,
        DEPLOYMENTS,
        deployment,
        status,
        action=action,
        project_id=deployment.project_id,
        audit_after=audit_after,
    )
    if status is DeploymentStatus.IN_PROGRESS:
        deployment.started_at = deployment.updated_at
    if status in (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED):
        deployment.completed_at = deployment.updated_at


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _decision(deployment: Deployment, override: bool) -> dict[str, object]:
    """What an approval or rejection's audit entry adds: who asked, and whether the four eyes were overridden."""
    return {"requestedBy": _str(deployment.deployed_by), "override": override}
