"""The AI pipeline's requests: each validates, moves statuses, and queues a job in the same transaction."""

from __future__ import annotations

import uuid

from domain import validation as v
from domain.enums import RequirementStatus, Strategy, TaskType
from domain.errors import Conflict, InvalidInput
from domain.model import Job, PrdDocument
from domain.permissions import Permission, Viewer, require_code_access, require_task_execution
from domain.repos import PRDS, REQUIREMENTS
from domain.services.access import EntityReads, load, load_in_project, require_member
from domain.services.base import Deps, Tx
from domain.services.jobs import request_job
from domain.services.pipeline_steps import require_not_cancelled, require_open
from domain.services.requirements import set_requirement_status

MAX_SPEC_TEXT = 5_000


DEFAULT_ROLES = (TaskType.BACKEND, TaskType.FRONTEND, TaskType.TESTING)


class PipelineService:
    def __init__(self, deps: Deps):
        self.deps = deps
        self.prds = EntityReads(deps, PRDS, Permission.REQUIREMENT_READ)

    async def generate_prd(self, viewer: Viewer, requirement_id: uuid.UUID) -> Job:
        async with Tx(self.deps, viewer, "ai.prd.request") as tx:
            req = await load_in_project(
                tx.uow, viewer, REQUIREMENTS, requirement_id, Permission.REQUIREMENT_WRITE, for_update=True
            )
            if req.status is not RequirementStatus.ANALYZING:
                set_requirement_status(tx, req, RequirementStatus.ANALYZING)
            return await request_job(
                tx, kind="ai.prd", subject_type="Requirement", subject_id=req.id, project_id=req.project_id, payload={}
            )

    async def decompose(
        self, viewer: Viewer, requirement_id: uuid.UUID, strategy: Strategy, target_roles: list[TaskType] | None
    ) -> Job:
        async with Tx(self.deps, viewer, "ai.decompose.request") as tx:
            viewer.require(Permission.TASK_MANAGE)
            req = await load_in_project(
                tx.uow, viewer, REQUIREMENTS, requirement_id, Permission.REQUIREMENT_WRITE, for_update=True
            )
            require_open(req)
            roles = list(dict.fromkeys(target_roles or DEFAULT_ROLES))
            return await request_job(
                tx,
                kind="ai.decompose",
                subject_type="Requirement",
                subject_id=req.id,
                project_id=req.project_id,
                payload={"strategy": strategy.value, "targetRoles": [r.value for r in roles]},
            )

    async def generate_code(
        self,
        viewer: Viewer,
        task_id: uuid.UUID,
        *,
        language: str,
        framework: str | None,
        include_tests: bool = True,
        include_docs: bool = False,
        coding_standards: str | None = None,
    ) -> Job:
        async with Tx(self.deps, viewer, "ai.code.request") as tx:
            task = await load(tx.uow.tasks, "Task", task_id, for_update=True)
            require_task_execution(viewer, task.task_type, task.assigned_to)
            require_code_access(viewer, None)
            await require_member(tx.uow, viewer, task.project_id)
            require_not_cancelled(task)
            payload = {
                "language": v.lowercase(language, "language", max_length=30),
                "framework": v.text(framework, "framework", max_length=50, required=False),
                "includeTests": include_tests,
                "includeDocs": include_docs,
                "codingStandards": v.text(
                    coding_standards, "codingStandards", max_length=MAX_SPEC_TEXT, required=False
                ),
            }
            return await request_job(
                tx, kind="ai.code", subject_type="Task", subject_id=task.id, project_id=task.project_id, payload=payload
            )

    async def review_code(self, viewer: Viewer, artifact_id: uuid.UUID) -> Job:
        async with Tx(self.deps, viewer, "ai.review.request") as tx:
            artifact = await load(tx.uow.artifacts, "CodeArtifact", artifact_id)
            require_code_access(viewer, artifact.created_by)
            await require_member(tx.uow, viewer, artifact.project_id)
            return await request_job(
                tx,
                kind="ai.review",
                subject_type="CodeArtifact",
                subject_id=artifact.id,
                project_id=artifact.project_id,
                payload={},
            )

    async def update_prd_section(
        self,
        viewer: Viewer,
        prd_id: uuid.UUID,
        section_id: str,
        *,
        title: str | None = None,
        content: str | None = None,
    ) -> PrdDocument:
        async with Tx(self.deps, viewer, "prd.section.update") as tx:
            prd = await load_in_project(tx.uow, viewer, PRDS, prd_id, Permission.REQUIREMENT_WRITE, for_update=True)
            if prd.approved:
                raise Conflict(f"PRD version {prd.version} is approved; generate a new version to change it")
            sections = [dict(s) for s in prd.sections]
            match = next((s for s in sections if s.get("section_id") == section_id), None)
            if match is None:
                known = ", ".join(s.get("section_id", "?") for s in sections)
                raise InvalidInput(f"no section {section_id!r} (sections: {known})", field="sectionId")
            before = dict(match)
            if title is not None:
                match["title"] = v.text(title, "title", max_length=200)
            if content is not None:
                match["content"] = v.text(content, "content", max_length=50_000)
            match["ai_generated"] = False
            prd.sections = sections
            prd.updated_at = tx.now()
            tx.audit("prd.section.update", "PrdDocument", prd.id, before, match)
            tx.emit(
                "PrdDocument",
                prd.id,
                "section_updated",
                project_id=prd.project_id,
                data={"sectionId": section_id, "requirementId": prd.requirement_id},
            )
        return prd

    async def approve_prd(self, viewer: Viewer, prd_id: uuid.UUID) -> PrdDocument:
        async with Tx(self.deps, viewer, "prd.approve") as tx:
            prd = await load_in_project(tx.uow, viewer, PRDS, prd_id, Permission.REQUIREMENT_WRITE)
            # Requirement before PRD, as the PRD step locks them.
            req = await load(tx.uow.requirements, "Requirement", prd.requirement_id, for_update=True)
            prd = await load(tx.uow.prds, "PrdDocument", prd_id, for_update=True)
            if req.prd_document_id != prd.id:
                raise Conflict(f"PRD version {prd.version} is not the requirement's current PRD")
            if prd.approved:
                raise Conflict(f"PRD version {prd.version} is already approved")
            prd.approved = True
            prd.review = {"approvedBy": str(viewer.user_id), "approvedAt": tx.now().isoformat()}
            prd.updated_at = tx.now()
            set_requirement_status(tx, req, RequirementStatus.APPROVED)
            tx.audit("prd.approve", "PrdDocument", prd.id, {"approved": False}, {"approved": True})
            tx.emit("PrdDocument", prd.id, "approved", project_id=prd.project_id, data={"requirementId": req.id})
        return prd
