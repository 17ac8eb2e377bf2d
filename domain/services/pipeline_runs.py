"""Pipeline runs: started by a person, an approved review or a signed webhook; each stage is a job; a run advances
in the transaction where its stage's test job or deployment ends, stops at the first failing stage, and can be
cancelled midway."""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

from domain import status as machines
from domain import validation as v
from domain.enums import (
    DeploymentStatus,
    JobStatus,
    PipelineRunStatus,
    PipelineTrigger,
    ReviewStatus,
    StageKind,
    StageStatus,
    TestType,
    UserStatus,
)
from domain.errors import DomainError, Forbidden, InvalidInput, ServiceUnavailable
from domain.events import DomainEvent
from domain.model import CodeArtifact, Deployment, Job, PipelineDefinition, PipelineRun, PipelineStage, Project
from domain.permissions import Permission, Viewer, require_deploy, require_test_run
from domain.pipeline_specs import DEFAULT_STAGES, StageSpec, validate_stages
from domain.ports import StageActions, StageOutcome, StageWork, UnitOfWork
from domain.repos import PIPELINE_RUNS, PIPELINE_STAGES, PROJECTS
from domain.services.access import EntityReads, load, load_in_project, require_member
from domain.services.base import Deps, Tx
from domain.services.deployments import VERSION, set_deployment_status
from domain.services.jobs import TERMINAL as JOB_TERMINAL
from domain.services.jobs import request_cancel, request_job

STAGE_JOB = "pipeline.stage"
RUN_TERMINAL = (PipelineRunStatus.SUCCEEDED, PipelineRunStatus.FAILED, PipelineRunStatus.CANCELLED)
STAGE_OPEN = (StageStatus.RUNNING, StageStatus.WAITING)
DEPLOYMENT_GOOD = (DeploymentStatus.PENDING, DeploymentStatus.IN_PROGRESS, DeploymentStatus.SUCCEEDED)
DEPLOYMENT_BAD = (DeploymentStatus.FAILED, DeploymentStatus.ROLLED_BACK)
NOT_ROLLING_OUT = (DeploymentStatus.AWAITING_APPROVAL, DeploymentStatus.PENDING)
MAX_ARTIFACTS = 100
JOBS = Viewer(request_id="pipelines")


def specs_of(definition: PipelineDefinition | None) -> list[StageSpec]:
    return [StageSpec.from_json(s) for s in definition.stages] if definition else list(DEFAULT_STAGES)


def default_definition(project_id: uuid.UUID) -> PipelineDefinition:
    return PipelineDefinition(project_id=project_id, stages=[s.to_json() for s in DEFAULT_STAGES])


def require_may_run(viewer: Viewer, specs: Sequence[StageSpec]) -> None:
    """The person starting a run must be allowed every stage's action (tests of its type, deploys to its
    environment); an APPROVAL needs nobody's permission here: a second admin gives it later."""
    for spec in specs:
        if spec.kind is StageKind.TEST:
            require_test_run(viewer, spec.test_type or TestType.UNIT)
        elif spec.kind is StageKind.DEPLOY and spec.environment is not None:
            require_deploy(viewer, spec.environment)


def latest_approved(artifacts: Sequence[CodeArtifact]) -> list[CodeArtifact]:
    """The newest version of each file among `artifacts`, when that newest version is APPROVED."""
    newest: dict[tuple[uuid.UUID, str], CodeArtifact] = {}
    for a in artifacts:
        key = (a.task_id, a.file_path)
        if key not in newest or a.version > newest[key].version:
            newest[key] = a
    return sorted(
        (a for a in newest.values() if a.review_status is ReviewStatus.APPROVED), key=lambda a: (a.file_path, a.id)
    )


def one_per_task(artifacts: Sequence[CodeArtifact]) -> list[str]:
    """The artifacts to run tests on: one per task, since a test run takes its task's other approved files along."""
    chosen: dict[uuid.UUID, CodeArtifact] = {}
    for artifact in artifacts:
        chosen.setdefault(artifact.task_id, artifact)
    return [str(a.id) for a in chosen.values()]


class PipelineRunService(EntityReads[PipelineRun]):
    def __init__(self, deps: Deps, actions: StageActions | None = None):
        super().__init__(deps, PIPELINE_RUNS, Permission.PROJECT_READ)
        self.actions = actions
        self.stage_reads = EntityReads(deps, PIPELINE_STAGES, Permission.PROJECT_READ)

    # --- reads ---

    async def definition(self, viewer: Viewer, project_id: uuid.UUID) -> PipelineDefinition:
        """The project's pipeline (the default one until an admin changes it)."""
        async with self.deps.uow() as uow:
            project = await load_in_project(uow, viewer, PROJECTS, project_id, Permission.PROJECT_READ)
            return await uow.pipelines.find_one(project_id=project.id) or default_definition(project.id)

    # --- configuration ---

    async def update_definition(
        self,
        viewer: Viewer,
        project_id: uuid.UUID,
        *,
        stages: Sequence[StageSpec] | None = None,
        trigger_on_review: bool | None = None,
    ) -> PipelineDefinition:
        async with Tx(self.deps, viewer, "pipeline.update") as tx:
            definition = await self._definition_for_update(tx, viewer, project_id)
            before = {"stages": definition.stages, "triggerOnReview": definition.trigger_on_review}
            if stages is not None:
                definition.stages = [s.to_json() for s in validate_stages(stages)]
            if trigger_on_review is not None:
                definition.trigger_on_review = trigger_on_review
            definition.updated_at = tx.now()
            after = {"stages": definition.stages, "triggerOnReview": definition.trigger_on_review}
            tx.audit("pipeline.update", "PipelineDefinition", definition.id, before, after)
            tx.emit("PipelineDefinition", definition.id, "updated", project_id=project_id, data=after)
        return definition

    async def _definition_for_update(self, tx: Tx, viewer: Viewer, project_id: uuid.UUID) -> PipelineDefinition:
        """The project's definition row, locked (created with the defaults the first time); project admins only."""
        viewer.require(Permission.PROJECT_WRITE)
        project = await load(tx.uow.projects, "Project", project_id, for_update=True)
        await require_member(tx.uow, viewer, project.id)
        definition = await tx.uow.pipelines.find_one(project_id=project.id)
        if definition is None:
            definition = default_definition(project.id)
            definition.created_at = definition.updated_at = tx.now()
            tx.uow.pipelines.add(definition)
        return definition

    async def rotate_webhook_secret(self, viewer: Viewer, project_id: uuid.UUID, secret: str, sealed: str) -> None:
        """Store `sealed` (the encrypted `secret`) as the project's webhook secret; runs the webhook starts act as
        `viewer`. The secret itself is never stored, audited or announced."""
        async with Tx(self.deps, viewer, "pipeline.webhook_rotate") as tx:
            definition = await self._definition_for_update(tx, viewer, project_id)
            had = definition.webhook_secret_encrypted is not None
            definition.webhook_secret_encrypted = sealed
            definition.webhook_owner_id = viewer.user_id
            definition.webhook_rotated_at = definition.updated_at = tx.now()
            tx.audit(
                "pipeline.webhook_rotate",
                "PipelineDefinition",
                definition.id,
                {"webhookConfigured": had},
                {"webhookConfigured": True, "owner": str(viewer.user_id)},
            )
            tx.emit("PipelineDefinition", definition.id, "webhook_rotated", project_id=project_id)

    # --- starting and cancelling ---

    async def start(
        self,
        viewer: Viewer,
        project_id: uuid.UUID,
        *,
        version: str | None = None,
        artifact_ids: builtins.list[uuid.UUID] | None = None,
    ) -> PipelineRun:
        async with Tx(self.deps, viewer, "pipeline.start") as tx:
            viewer.require_login()
            project = await load(tx.uow.projects, "Project", project_id, for_update=True)
            await require_member(tx.uow, viewer, project.id)
            definition = await tx.uow.pipelines.find_one(project_id=project.id)
            require_may_run(viewer, specs_of(definition))
            return await self.open_run(
                tx,
                project,
                definition,
                trigger=PipelineTrigger.MANUAL,
                actor_id=viewer.user_id,
                version=version,
                artifact_ids=artifact_ids,
            )

    async def open_run(
        self,
        tx: Tx,
        project: Project,
        definition: PipelineDefinition | None,
        *,
        trigger: PipelineTrigger,
        actor_id: uuid.UUID | None,
        version: str | None,
        artifact_ids: builtins.list[uuid.UUID] | None,
        trigger_ref: str | None = None,
    ) -> PipelineRun:
        """A new run of the project's stages in this transaction (whose project row is locked), its first stage
        started; the artifacts default to the newest approved version of each file."""
        run_id = uuid.uuid4()
        version = v.text(version, "version", max_length=50, required=False) or f"run-{run_id.hex[:8]}"
        if not VERSION.match(version):
            raise InvalidInput(f"version {version!r} may use letters, digits and . _ + - only", field="version")
        artifacts = await self._artifacts(tx.uow, project.id, artifact_ids)
        now = tx.now()
        run = PipelineRun(
            id=run_id,
            project_id=project.id,
            version=version,
            trigger=trigger,
            artifact_ids=[str(a.id) for a in artifacts],
            triggered_by=actor_id,
            trigger_ref=trigger_ref,
            created_at=now,
            updated_at=now,
        )
        specs = specs_of(definition)
        tx.created(
            PIPELINE_RUNS,
            run,
            "pipeline.start",
            project_id=project.id,
            new_status=run.status,
            data={"trigger": trigger, "version": version, "stages": [s.name for s in specs]},
        )
        stages = [
            PipelineStage(
                run_id=run.id,
                project_id=project.id,
                position=i,
                name=spec.name,
                kind=spec.kind,
                environment=spec.environment,
                test_type=spec.test_type,
                detail={"pending": one_per_task(artifacts)} if spec.kind is StageKind.TEST else {},
                created_at=now,
                updated_at=now,
            )
            for i, spec in enumerate(specs)
        ]
        for stage in stages:
            tx.uow.pipeline_stages.add(stage)
        await self._begin(tx, run, stages[0])
        return run

    async def _artifacts(
        self, uow: UnitOfWork, project_id: uuid.UUID, ids: builtins.list[uuid.UUID] | None
    ) -> builtins.list[CodeArtifact]:
        if not ids:
            chosen = latest_approved(await uow.artifacts.find(project_id=project_id))
            if not chosen:
                raise InvalidInput("the project has no approved artifact to run the pipeline on", field="artifactIds")
            return chosen[:MAX_ARTIFACTS]
        ids = v.at_most(list(dict.fromkeys(ids)), "artifactIds", MAX_ARTIFACTS)
        found = {a.id: a for a in await uow.artifacts.get_many(ids)}
        for aid in ids:
            if aid not in found or found[aid].project_id != project_id:
                raise InvalidInput(f"artifact {aid} is not an artifact of project {project_id}", field="artifactIds")
        return [found[a] for a in ids]

    async def cancel(self, viewer: Viewer, run_id: uuid.UUID) -> PipelineRun:
        """Stop a run midway: its open stage is CANCELLED (its job cancelled through the queue, a deployment still
        waiting for approval FAILED), later stages SKIPPED; nothing more starts."""
        async with Tx(self.deps, viewer, "pipeline.cancel") as tx:
            run = await load_in_project(tx.uow, viewer, PIPELINE_RUNS, run_id, Permission.PROJECT_READ)
            if viewer.user_id != run.triggered_by and not viewer.has(Permission.PROJECT_WRITE):
                raise Forbidden(
                    Permission.PROJECT_WRITE.value,
                    f"only who started the run or a project admin may cancel it ({Permission.PROJECT_WRITE.value})",
                )
            # Lock what the run's changes lock first (its jobs, its deployments), then the run: the order in which a
            # job or deployment ending advances the run. Read again under the run's lock: the state may have moved.
            await _lock_open_work(tx, await tx.uow.pipeline_stages.find(run_id=run.id))
            run = await load(tx.uow.pipeline_runs, "PipelineRun", run_id, for_update=True)
            if run.status in RUN_TERMINAL:
                raise InvalidInput(
                    f"pipeline run is already {run.status.value}",
                    field="id",
                    details={"currentStatus": run.status.value, "requestedStatus": "CANCELLED"},
                )
            stages = [
                await load(tx.uow.pipeline_stages, "PipelineStage", s.id, for_update=True)
                for s in await tx.uow.pipeline_stages.find(run_id=run.id)
            ]
            jobs, deployments = await _lock_open_work(tx, stages)
            by = viewer.username or str(viewer.user_id)
            for stage in sorted(stages, key=lambda s: s.position):
                if stage.status in STAGE_OPEN:
                    _move_stage(tx, stage, StageStatus.CANCELLED, f"cancelled by {by}")
                elif stage.status is StageStatus.PENDING:
                    _move_stage(tx, stage, StageStatus.SKIPPED, "the run was cancelled")
            _move_run(tx, run, PipelineRunStatus.CANCELLED, f"cancelled by {by}")
            for job in jobs:
                if job.status not in JOB_TERMINAL and not job.cancel_requested:
                    request_cancel(tx, job)
            for deployment in deployments:
                # One whose rollout is under way finishes (the run no longer follows it); one not yet rolling out
                # never will: its rollout job was cancelled above.
                if deployment.status in (DeploymentStatus.AWAITING_APPROVAL, DeploymentStatus.PENDING):
                    set_deployment_status(tx, deployment, DeploymentStatus.FAILED)
        return run

    # --- the stage job ---

    async def run_stage(self, job: Job) -> dict[str, Any]:
        """The `pipeline.stage` job: start the stage's work (acting as who started the run), or do it (BUILD)."""
        async with self.deps.uow() as uow:
            stage = await uow.pipeline_stages.get(job.subject_id)
            if stage is None or stage.status is not StageStatus.RUNNING or stage.job_id != job.id:
                return {"started": False, "reason": "the stage is not running"}
            if _started(stage):  # a run of this job again (its worker was lost) after it started the work
                return {"started": True, "reason": "already started"}
            run = await load(uow.pipeline_runs, "PipelineRun", stage.run_id)
            specs = sorted(await uow.pipeline_stages.find(run_id=run.id), key=lambda s: s.position)
            try:
                actor = await _actor(uow, run)
            except DomainError as exc:
                actor, refusal = None, exc
        if actor is None:
            await self._settle(stage.id, StageOutcome(False, refusal.message))
            return {"started": False, "reason": refusal.message}
        try:
            if stage.kind is StageKind.BUILD:
                outcome = await self._build(run)
                await self._settle(stage.id, outcome)
                return {"built": outcome.passed, "message": outcome.message}
            work = await self._start_work(actor, run, stage, specs)
        except ServiceUnavailable:
            raise  # an outage: the executor retries the job with backoff
        except DomainError as exc:
            await self._settle(stage.id, StageOutcome(False, exc.message))
            return {"started": False, "reason": exc.message}
        # Shielded: a cancellation arriving now still records the work, or stops it when the run was cancelled.
        await asyncio.shield(self._link(stage.id, work))
        return {"started": True, "job": str(work.job_id or ""), "deployment": str(work.deployment_id or "")}

    @property
    def _actions(self) -> StageActions:
        if self.actions is None:
            raise ServiceUnavailable("pipeline stages are not wired to test runs and deployments")
        return self.actions

    async def _start_work(
        self, actor: Viewer, run: PipelineRun, stage: PipelineStage, stages: Sequence[PipelineStage]
    ) -> StageWork:
        if stage.kind is StageKind.TEST:
            artifact_id = uuid.UUID(stage.detail["pending"][0])
            return await self._actions.run_tests(actor, artifact_id, stage.test_type or TestType.UNIT)
        target = stage if stage.kind is StageKind.DEPLOY else stages[stage.position + 1]
        assert target.environment is not None  # validate_stages: a DEPLOY has one, an APPROVAL precedes a DEPLOY
        return await self._actions.deploy(
            actor, run.project_id, target.environment, run.version, [uuid.UUID(a) for a in run.artifact_ids]
        )

    async def _build(self, run: PipelineRun) -> StageOutcome:
        """The release: every artifact's stored content still matches its checksum; its digest names the build."""
        store = self.deps.store
        if store is None:
            raise ServiceUnavailable("no artifact store is configured")
        async with self.deps.uow() as uow:
            artifacts = await uow.artifacts.get_many([uuid.UUID(a) for a in run.artifact_ids])
        if len(artifacts) != len(run.artifact_ids):
            return StageOutcome(False, "an artifact of the run was deleted")
        manifest = []
        for artifact in sorted(artifacts, key=lambda a: a.file_path):
            content = await store.get(artifact.storage_key)
            if hashlib.sha256(content).hexdigest() != artifact.checksum:
                return StageOutcome(False, f"{artifact.file_path} v{artifact.version}: stored content does not match")
            manifest.append(f"{artifact.file_path}@{artifact.checksum}")
        digest = hashlib.sha256("\n".join(manifest).encode()).hexdigest()
        return StageOutcome(True, f"built {run.version} from {len(manifest)} files, digest sha256:{digest[:16]}")

    async def _settle(self, stage_id: uuid.UUID, outcome: StageOutcome) -> None:
        async with Tx(self.deps, JOBS) as tx:
            run, stage = await _locked(tx, stage_id)
            if run.status not in RUN_TERMINAL and stage.status is StageStatus.RUNNING:
                await self._finish(tx, run, stage, outcome)

    async def _link(self, stage_id: uuid.UUID, work: StageWork) -> None:
        """Record what the stage started. Its job or deployment may have ended already (its change then found no
        stage to advance): settle from its current state. A run cancelled meanwhile stops the work instead."""
        async with Tx(self.deps, JOBS) as tx:
            job = await tx.uow.jobs.get_for_update(work.job_id) if work.job_id else None
            deployment = await tx.uow.deployments.get_for_update(work.deployment_id) if work.deployment_id else None
            run, stage = await _locked(tx, stage_id)
            if run.status in RUN_TERMINAL or stage.status is not StageStatus.RUNNING:
                if job is not None and job.status not in JOB_TERMINAL:
                    request_cancel(tx, job)
                if deployment is not None and deployment.status in NOT_ROLLING_OUT:
                    for rollout in await tx.uow.jobs.find(subject_type="Deployment", subject_id=deployment.id):
                        if rollout.status not in JOB_TERMINAL:
                            request_cancel(tx, rollout)
                    set_deployment_status(tx, deployment, DeploymentStatus.FAILED)
                return
            stage.work_job_id = work.job_id
            stage.deployment_id = work.deployment_id
            stage.updated_at = tx.now()
            if stage.kind is StageKind.APPROVAL:
                released = await tx.uow.pipeline_stages.find_one(run_id=run.id, position=stage.position + 1)
                assert released is not None
                released.deployment_id = work.deployment_id
                _move_stage(tx, stage, StageStatus.WAITING, "waiting for a second project admin to approve")
                _move_run(tx, run, PipelineRunStatus.WAITING, f"{stage.name}: waiting for approval")
            if job is not None and job.status in JOB_TERMINAL:
                await self._job_ended(tx, job)
            if deployment is not None:
                await self._deployment_moved(tx, deployment)

    # --- continuing when what a stage waits for changes (in that change's transaction) ---

    async def react(self, tx: Tx, event: DomainEvent) -> None:
        """The Tx reaction: a job that ended, a deployment that moved, an artifact approved by review."""
        if event.entity_type == "Job" and event.new_status != event.old_status:
            if event.new_status in {s.value for s in JOB_TERMINAL}:
                job = await tx.uow.jobs.get(uuid.UUID(event.entity_id))
                if job is not None:
                    await self._job_ended(tx, job)
        elif event.entity_type == "Deployment" and event.action == "status_changed":
            deployment = await tx.uow.deployments.get(uuid.UUID(event.entity_id))
            if deployment is not None:
                await self._deployment_moved(tx, deployment)
        elif event.entity_type == "CodeArtifact" and event.action == "reviewed" and event.new_status == "APPROVED":
            await self._review_approved(tx, uuid.UUID(event.entity_id))

    async def _job_ended(self, tx: Tx, job: Job) -> None:
        stages = {s.id: s for s in await tx.uow.pipeline_stages.find(work_job_id=job.id)}
        stages.update({s.id: s for s in await tx.uow.pipeline_stages.find(job_id=job.id)})
        for stage_id in stages:
            run, stage = await _locked(tx, stage_id)
            if run.status in RUN_TERMINAL or stage.status is not StageStatus.RUNNING:
                continue
            if stage.work_job_id == job.id and stage.kind is StageKind.TEST:
                await self._tests_ended(tx, run, stage, job)
            elif stage.job_id == job.id and job.status is not JobStatus.SUCCEEDED and not _started(stage):
                reason = job.error or job.message or job.status.value
                await self._finish(tx, run, stage, StageOutcome(False, f"stage job {job.status.value}: {reason}"))

    async def _tests_ended(self, tx: Tx, run: PipelineRun, stage: PipelineStage, job: Job) -> None:
        if job.status is JobStatus.SUCCEEDED:
            outcome = await self._actions.test_outcome(tx.uow, job)
        else:
            outcome = StageOutcome(False, f"test run {job.status.value}: {job.error or job.message or ''}".strip())
        pending = list(stage.detail.get("pending", []))[1:]
        if not outcome.passed or not pending:
            await self._finish(tx, run, stage, outcome)
            return
        # The next artifact's tests: the stage's own job starts them.
        stage.detail = {**stage.detail, "pending": pending}
        stage.work_job_id = None
        stage.message = outcome.message
        stage.updated_at = tx.now()
        await self._request_stage_job(tx, stage)

    async def _deployment_moved(self, tx: Tx, deployment: Deployment) -> None:
        stage_ids = [s.id for s in await tx.uow.pipeline_stages.find(deployment_id=deployment.id)]
        for stage_id in stage_ids:
            run, stage = await _locked(tx, stage_id)
            if run.status in RUN_TERMINAL:
                continue
            status = deployment.status
            if stage.kind is StageKind.APPROVAL and stage.status is StageStatus.WAITING:
                if status in DEPLOYMENT_GOOD:
                    approver = await tx.uow.users.get(deployment.approved_by) if deployment.approved_by else None
                    by = approver.username if approver else "an admin"
                    await self._finish(tx, run, stage, StageOutcome(True, f"approved by {by}"))
                elif status in DEPLOYMENT_BAD:
                    await self._finish(tx, run, stage, StageOutcome(False, await _refusal(tx, deployment)))
            elif stage.kind is StageKind.DEPLOY and stage.status is StageStatus.RUNNING:
                where = f"{run.version} to {deployment.environment.value}"
                if status is DeploymentStatus.SUCCEEDED:
                    await self._finish(tx, run, stage, StageOutcome(True, f"deployed {where}"))
                elif status in DEPLOYMENT_BAD:
                    why = f": {deployment.failure_reason}" if deployment.failure_reason else ""
                    await self._finish(tx, run, stage, StageOutcome(False, f"deploying {where} {status.value}{why}"))

    async def _review_approved(self, tx: Tx, artifact_id: uuid.UUID) -> None:
        """A project whose pipeline runs on approved reviews starts one for the artifact, acting as the reviewer."""
        artifact = await tx.uow.artifacts.get(artifact_id)
        if artifact is None:
            return
        definition = await tx.uow.pipelines.find_one(project_id=artifact.project_id)
        if definition is None or not definition.trigger_on_review:
            return
        project = await load(tx.uow.projects, "Project", artifact.project_id, for_update=True)
        await self.open_run(
            tx,
            project,
            definition,
            trigger=PipelineTrigger.REVIEW,
            actor_id=tx.viewer.user_id,
            version=f"v{artifact.version}-{artifact.id.hex[:8]}",
            artifact_ids=[artifact.id],
            trigger_ref=str(artifact.id),
        )

    # --- moving a run along ---

    async def _begin(self, tx: Tx, run: PipelineRun, stage: PipelineStage) -> None:
        if run.status is PipelineRunStatus.WAITING:
            _move_run(tx, run, PipelineRunStatus.RUNNING, f"{stage.name}: running")
        _move_stage(tx, stage, StageStatus.RUNNING)
        if stage.deployment_id is None:  # else its deployment was requested by the approval before it
            await self._request_stage_job(tx, stage)

    async def _request_stage_job(self, tx: Tx, stage: PipelineStage) -> None:
        job = await request_job(
            tx,
            kind=STAGE_JOB,
            subject_type="PipelineStage",
            subject_id=stage.id,
            project_id=stage.project_id,
            payload={"runId": str(stage.run_id), "stage": stage.name},
        )
        stage.job_id = job.id

    async def _finish(self, tx: Tx, run: PipelineRun, stage: PipelineStage, outcome: StageOutcome) -> None:
        """The stage ends as `outcome` says; the next stage starts, or (failed, or none left) the run ends."""
        _move_stage(tx, stage, StageStatus.SUCCEEDED if outcome.passed else StageStatus.FAILED, outcome.message)
        later = sorted(
            (s for s in await tx.uow.pipeline_stages.find(run_id=run.id) if s.position > stage.position),
            key=lambda s: s.position,
        )
        if not outcome.passed:
            for s in later:
                if s.status is StageStatus.PENDING:
                    _move_stage(tx, s, StageStatus.SKIPPED, f"{stage.name} failed")
            _move_run(tx, run, PipelineRunStatus.FAILED, f"{stage.name} failed: {outcome.message}")
        elif later:
            await self._begin(tx, run, later[0])
        else:
            _move_run(tx, run, PipelineRunStatus.SUCCEEDED, f"{run.version}: every stage succeeded")


async def _actor(uow: UnitOfWork, run: PipelineRun) -> Viewer:
    """Who the run's stages act as: who started it (the webhook's owner for a webhook), as they are now."""
    user = await uow.users.get(run.triggered_by) if run.triggered_by else None
    if user is None or user.status is not UserStatus.ACTIVE:
        raise Forbidden("pipeline:actor", "the user the run acts for no longer exists or is not active")
    return Viewer(user_id=user.id, role=user.role, username=user.username, request_id=f"pipeline-{run.id.hex[:8]}")


async def _locked(tx: Tx, stage_id: uuid.UUID) -> tuple[PipelineRun, PipelineStage]:
    """The stage's run, then the stage, locked in that order."""
    stage = await load(tx.uow.pipeline_stages, "PipelineStage", stage_id)
    run = await load(tx.uow.pipeline_runs, "PipelineRun", stage.run_id, for_update=True)
    return run, await load(tx.uow.pipeline_stages, "PipelineStage", stage_id, for_update=True)


async def _lock_open_work(tx: Tx, stages: Sequence[PipelineStage]) -> tuple[list[Job], list[Any]]:
    """The jobs (the stage's own, its work's, the rollout of a deployment not yet rolling out) and the deployments of
    the open stages, locked."""
    open_stages = [s for s in stages if s.status in STAGE_OPEN]
    deployment_ids = list(dict.fromkeys(s.deployment_id for s in open_stages if s.deployment_id))
    job_ids = [i for s in open_stages for i in (s.job_id, s.work_job_id) if i is not None]
    for deployment_id in deployment_ids:
        deployment = await tx.uow.deployments.get(deployment_id)
        if deployment is not None and deployment.status in NOT_ROLLING_OUT:
            rollouts = await tx.uow.jobs.find(subject_type="Deployment", subject_id=deployment_id)
            job_ids += [j.id for j in rollouts if j.status not in JOB_TERMINAL]
    jobs = [j for j in [await tx.uow.jobs.get_for_update(i) for i in dict.fromkeys(job_ids)] if j is not None]
    deployments = [d for d in [await tx.uow.deployments.get_for_update(i) for i in deployment_ids] if d is not None]
    return jobs, deployments


async def _refusal(tx: Tx, deployment: Deployment) -> str:
    """Why a deployment awaiting approval did not go ahead."""
    if deployment.rejected_by is None:
        return f"the deployment was {deployment.status.value} before it was approved"
    rejecter = await tx.uow.users.get(deployment.rejected_by)
    return f"rejected by {rejecter.username if rejecter else 'an admin'}: {deployment.rejection_reason or ''}".strip()


def _started(stage: PipelineStage) -> bool:
    """Whether the stage's job got as far as starting its work (a test run or a deployment)."""
    return stage.work_job_id is not None or stage.deployment_id is not None


def _stage_data(stage: PipelineStage) -> dict[str, Any]:
    return {
        "runId": str(stage.run_id),
        "name": stage.name,
        "kind": stage.kind.value,
        "position": stage.position,
        "message": stage.message,
    }


def _move_stage(tx: Tx, stage: PipelineStage, status: StageStatus, message: str | None = None) -> None:
    if message is not None:
        stage.message = message
    tx.moved(
        machines.STAGE,
        PIPELINE_STAGES,
        stage,
        status,
        action="pipeline.stage",
        project_id=stage.project_id,
        noun="pipeline stage",
        audit_after={"message": stage.message},
        data=_stage_data(stage),
    )
    if status is StageStatus.RUNNING:
        stage.started_at = stage.updated_at
    elif status not in (StageStatus.PENDING, StageStatus.WAITING):
        stage.finished_at = stage.updated_at


def _move_run(tx: Tx, run: PipelineRun, status: PipelineRunStatus, message: str) -> None:
    run.message = message
    tx.moved(
        machines.PIPELINE_RUN,
        PIPELINE_RUNS,
        run,
        status,
        action="pipeline.status",
        project_id=run.project_id,
        noun="pipeline run",
        audit_after={"message": message},
        data={"version": run.version, "message": message},
    )
    if status in RUN_TERMINAL:
        run.finished_at = run.updated_at
