"""Deployments: a project version rolled out to an environment, PROD behind approval."""

from __future__ import annotations

import builtins
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from domain import status as machines
from domain import validation as v
from domain.enums import DeploymentStatus, Environment
from domain.errors import Conflict, InvalidInput
from domain.events import entity_topic
from domain.model import Deployment, Job
from domain.permissions import Permission, Viewer, require_deploy, require_second_person
from domain.repos import DEPLOYMENTS
from domain.services.access import EntityReads, load, load_in_project, require_member
from domain.services.base import Deps, Tx
from domain.services.jobs import TERMINAL as JOB_TERMINAL
from domain.services.jobs import request_job

VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,49}\Z")
_K8S_NAME = re.compile(r"[^a-z0-9-]+")
MAX_ARTIFACTS = 1_000
ROLLOUT_KIND = "deploy.rollout"
MAX_LOG_PAGE = 1_000
SETTLED = frozenset({DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK})
IN_FLIGHT = (DeploymentStatus.PENDING, DeploymentStatus.IN_PROGRESS)


@dataclass(frozen=True)
class LogPage:
    """Lines `offset`.. of a deployment's log, how many there are, and whether the log can still grow."""

    lines: list[str]
    offset: int
    total: int
    complete: bool


def k8s_slug(text: str) -> str:
    """`text` lowercased, each run of characters a Kubernetes name cannot hold made one dash."""
    return _K8S_NAME.sub("-", text.lower()).strip("-")


def k8s_name(text: str) -> str:
    """The workload's name in Kubernetes: a DNS-1035 label (a Service's name starts with a letter) of at most 50
    characters, leaving room for the `-env` and `-hpa` of its Secret and autoscaler. A valid name is kept as it is."""
    slug = k8s_slug(text)
    if not slug[:1].isalpha():
        slug = f"app-{slug}"
    return slug[:50].rstrip("-")


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
            if deployment.status is DeploymentStatus.PENDING:
                await request_rollout(tx, deployment)
        return deployment

    async def request_deploy(
        self,
        viewer: Viewer,
        project_id: uuid.UUID,
        environment: Environment,
        version: str,
        artifact_ids: builtins.list[uuid.UUID] | None = None,
    ) -> Deployment:
        """A deployment of `version`: rolled out at once (a `deploy.rollout` job), or after approval for PROD.
        Follow it with `until_settled` or the Deployment's events."""
        return await self.create(
            viewer, project_id=project_id, environment=environment, version=version, artifact_ids=artifact_ids
        )

    async def until_settled(self, viewer: Viewer, deployment_id: uuid.UUID) -> Deployment:
        """Wait for the deployment to end (SUCCEEDED, FAILED or ROLLED_BACK) and return it as it ended."""
        async with self.deps.bus.subscribe([entity_topic("Deployment", str(deployment_id))]) as events:
            deployment = await self.get(viewer, deployment_id)  # read after subscribing: nothing is missed
            if deployment.status in SETTLED:
                return deployment
            async for _ in events:
                deployment = await self.get(viewer, deployment_id)
                if deployment.status in SETTLED:
                    return deployment
        return await self.get(viewer, deployment_id)

    async def logs(
        self, viewer: Viewer, deployment_id: uuid.UUID, offset: int = 0, limit: int | None = None
    ) -> LogPage:
        """The rollout's progress lines from `offset`, at most `limit` (default and cap MAX_LOG_PAGE)."""
        if offset < 0:
            raise InvalidInput("offset must be 0 or more", field="offset")
        if limit is not None and not 0 <= limit <= MAX_LOG_PAGE:
            raise InvalidInput(f"limit must be between 0 and {MAX_LOG_PAGE}", field="limit")
        deployment = await self.get(viewer, deployment_id)
        lines = deployment.logs.splitlines()
        window = lines[offset : offset + (MAX_LOG_PAGE if limit is None else limit)]
        return LogPage(window, offset, len(lines), deployment.status in SETTLED)

    async def rollback(self, viewer: Viewer, deployment_id: uuid.UUID) -> Deployment:
        """Redeploy the last SUCCEEDED revision of the environment before `deployment_id`, as a new deployment
        linked to it through `rollback_to`; the replaced one becomes ROLLED_BACK. An approved revision comes back
        without a new approval."""
        async with Tx(self.deps, viewer, "deployment.rollback") as tx:
            viewer.require_login()
            current = await load(tx.uow.deployments, "Deployment", deployment_id)
            require_deploy(viewer, current.environment)
            await require_member(tx.uow, viewer, current.project_id)
            # Project first, as create locks it: every deploy write of the project waits here.
            project = await load(tx.uow.projects, "Project", current.project_id, for_update=True)
            current = await load(tx.uow.deployments, "Deployment", deployment_id, for_update=True)
            if current.status not in (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED):
                raise InvalidInput(
                    f"deployment is {current.status.value}; only a SUCCEEDED or FAILED deployment is rolled back",
                    field="id",
                    details={"currentStatus": current.status.value, "requestedStatus": "ROLLED_BACK"},
                )
            target = await _rollback_target(tx, current)
            now = tx.now()
            replacement = Deployment(
                project_id=project.id,
                environment=current.environment,
                version=target.version,
                artifact_ids=list(target.artifact_ids),
                deployed_by=viewer.user_id,
                status=DeploymentStatus.PENDING,
                k8s_namespace=target.k8s_namespace or current.k8s_namespace,
                k8s_deployment_name=current.k8s_deployment_name or target.k8s_deployment_name,
                rollback_to=target.id,
                created_at=now,
                updated_at=now,
            )
            set_deployment_status(tx, current, DeploymentStatus.ROLLED_BACK)
            tx.created(
                DEPLOYMENTS,
                replacement,
                "deployment.rollback",
                project_id=project.id,
                new_status=replacement.status,
                data={"replaces": str(current.id), "rollbackTo": str(target.id)},
            )
            await request_rollout(tx, replacement)
        return replacement

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
            await request_rollout(tx, deployment)
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
            if deployment.status in IN_FLIGHT:
                await _refuse_while_rolling_out(tx, deployment, status)
            set_deployment_status(tx, deployment, status)
        return deployment


async def _refuse_while_rolling_out(tx: Tx, deployment: Deployment, status: DeploymentStatus) -> None:
    """A deployment whose rollout job is queued or running is that job's to move: a status set by hand would say
    FAILED or SUCCEEDED while the cluster goes on rolling it out. Its job is found under the deployment's row lock,
    which the rollout takes for every status it sets."""
    for job in await tx.uow.jobs.find(subject_type="Deployment", subject_id=deployment.id, kind=ROLLOUT_KIND):
        if job.status not in JOB_TERMINAL:
            raise Conflict(
                f"deployment {deployment.id} is being rolled out by job {job.id} ({job.status.value}); "
                "cancel that job (cancelJob) to stop the rollout, which then ends the deployment FAILED",
                details={
                    "currentStatus": deployment.status.value,
                    "requestedStatus": status.value,
                    "jobId": str(job.id),
                },
            )


async def _rollback_target(tx: Tx, current: Deployment) -> Deployment:
    """The last SUCCEEDED deployment of `current`'s environment before it; refused while another is under way
    or when `current` is not the environment's latest outcome."""
    others = [
        d
        for d in await tx.uow.deployments.find(project_id=current.project_id, environment=current.environment)
        if d.id != current.id
    ]
    busy = [d for d in others if d.status in IN_FLIGHT]
    if busy:
        raise Conflict(f"deployment {busy[0].id} of {current.environment.value} is {busy[0].status.value}; wait for it")
    newer = [d for d in others if d.status is DeploymentStatus.SUCCEEDED and _created(d) > _created(current)]
    if newer:
        raise InvalidInput(
            f"a newer deployment ({newer[0].version}) is live in {current.environment.value}; roll that one back",
            field="id",
        )
    earlier = [d for d in others if d.status is DeploymentStatus.SUCCEEDED and _created(d) < _created(current)]
    if not earlier:
        raise InvalidInput(
            f"no SUCCEEDED deployment of {current.environment.value} before this one to roll back to", field="id"
        )
    return max(earlier, key=_created)


def _created(deployment: Deployment) -> datetime:
    return deployment.created_at or datetime.min.replace(tzinfo=UTC)


async def request_rollout(tx: Tx, deployment: Deployment) -> Job:
    """Queue the job that rolls a PENDING deployment out (it starts once this transaction commits)."""
    return await request_job(
        tx,
        kind=ROLLOUT_KIND,
        subject_type="Deployment",
        subject_id=deployment.id,
        project_id=deployment.project_id,
        payload={"version": deployment.version, "environment": deployment.environment.value},
    )


def set_deployment_status(
    tx: Tx,
    deployment: Deployment,
    status: DeploymentStatus,
    *,
    action: str = "deployment.status",
    audit_after: dict[str, object] | None = None,
    failure_reason: str | None = None,
) -> None:
    tx.moved(
        machines.DEPLOYMENT,
        DEPLOYMENTS,
        deployment,
        status,
        action=action,
        project_id=deployment.project_id,
        audit_after={**(audit_after or {}), "failureReason": failure_reason} if failure_reason else audit_after,
    )
    if failure_reason:
        deployment.failure_reason = failure_reason
    if status is DeploymentStatus.IN_PROGRESS:
        deployment.started_at = deployment.updated_at
    if status in (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED):
        deployment.completed_at = deployment.updated_at


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def _decision(deployment: Deployment, override: bool) -> dict[str, object]:
    """What an approval or rejection's audit entry adds: who asked, and whether the four eyes were overridden."""
    return {"requestedBy": _str(deployment.deployed_by), "override": override}
