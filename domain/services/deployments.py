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
from domain.permissions import Permission, Viewer, require_deploy
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
        async with Tx(self.deps, viewer, "deployment.approve") as tx:
            deployment = await load_in_project(
                tx.uow, viewer, DEPLOYMENTS, deployment_id, Permission.DEPLOY_APPROVE, for_update=True
            )
            if deployment.status is not DeploymentStatus.AWAITING_APPROVAL:
                raise InvalidInput(
                    f"deployment is {deployment.status.value}, not AWAITING_APPROVAL",
                    field="deploymentId",
                    details={
                        "currentStatus": deployment.status.value,
                        "requestedStatus": DeploymentStatus.PENDING.value,
                    },
                )
            deployment.approved_by = viewer.user_id
            set_deployment_status(tx, deployment, DeploymentStatus.PENDING)
        return deployment

    async def change_status(self, viewer: Viewer, deployment_id: uuid.UUID, status: DeploymentStatus) -> Deployment:
        async with Tx(self.deps, viewer, "deployment.status") as tx:
            deployment = await load(tx.uow.deployments, "Deployment", deployment_id, for_update=True)
            require_deploy(viewer, deployment.environment)
            await require_member(tx.uow, viewer, deployment.project_id)
            if deployment.status is DeploymentStatus.AWAITING_APPROVAL and status is DeploymentStatus.PENDING:
                raise InvalidInput("use approveDeployment to release a deployment awaiting approval", field="status")
            set_deployment_status(tx, deployment, status)
        return deployment


def set_deployment_status(tx: Tx, deployment: Deployment, status: DeploymentStatus) -> None:
    tx.moved(
        machines.DEPLOYMENT,
        DEPLOYMENTS,
        deployment,
        status,
        action="deployment.status",
        project_id=deployment.project_id,
    )
    if status is DeploymentStatus.IN_PROGRESS:
        deployment.started_at = deployment.updated_at
    if status in (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED):
        deployment.completed_at = deployment.updated_at
