"""The AI pipeline's job steps: read inputs, ask the LLM (outside any transaction), write results atomically."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.ai.schema_check import SchemaValidator
from domain.ai_cost import estimate_cost
from domain.enums import Priority, RequirementStatus, TaskStatus, TaskType
from domain.errors import InvalidInput
from domain.model import CodeArtifact, Job, PrdDocument, Requirement, Task, TaskDependency
from domain.permissions import Viewer
from domain.ports import LLM, LLMFactory, LLMResult, SecretBox
from domain.services.access import load
from domain.services.artifacts import clean_path, store_artifact
from domain.services.base import Deps, Tx
from domain.services.prompting import ask, default_llm
from domain.services.requirements import set_requirement_status
from domain.services.tasks import set_task_status


@dataclass(frozen=True)
class StepOutcome:
    result: dict[str, Any]
    usage: LLMResult


def _unstarted_ai(task: Task | None) -> bool:
    return task is not None and task.meta.get("source") == "ai" and task.status is TaskStatus.PENDING


def require_open(req: Requirement) -> None:
    """Tasks are planned for an open requirement only: checked when asked, and again when the plan is stored (the
    requirement may have been rejected or finished while the model worked)."""
    if req.status in (RequirementStatus.REJECTED, RequirementStatus.DONE):
        raise InvalidInput(
            f"requirement is {req.status.value}; decompose an open requirement",
            field="requirementId",
            details={"currentStatus": req.status.value},
        )


def require_not_cancelled(task: Task) -> None:
    """Code is generated for a task that is not cancelled: checked when asked, and again when the files are stored."""
    if task.status is TaskStatus.CANCELLED:
        raise InvalidInput("task is CANCELLED", field="taskId", details={"currentStatus": "CANCELLED"})


def job_viewer(job: Job) -> Viewer:
    """Jobs act for whoever requested them: audit rows and events name that user."""
    return Viewer(user_id=job.requested_by, request_id=f"job:{job.id}")


class PipelineSteps:
    def __init__(self, deps: Deps, llms: LLMFactory, secrets: SecretBox, validator: SchemaValidator):
        self.deps = deps
        self.llms = llms
        self.secrets = secrets
        self.validator = validator

    async def _llm(self) -> LLM:
        return await default_llm(self.deps.uow(), self.llms, self.secrets)

    async def _ask(self, step: str, context: dict[str, Any]) -> LLMResult:
        async with self.deps.uow() as uow:
            stored = await uow.prompts.find_one(identifier=f"{step}.default")
        return await ask(await self._llm(), step, context, self.validator, stored.content if stored else None)

    @staticmethod
    async def _record_usage(tx: Tx, job: Job, usage: LLMResult) -> None:
        row = await load(tx.uow.jobs, "Job", job.id, for_update=True)
        row.input_tokens += usage.input_tokens
        row.output_tokens += usage.output_tokens
        row.cost_usd = Decimal(row.cost_usd) + estimate_cost(usage.model, usage.input_tokens, usage.output_tokens)

    async def prd(self, job: Job) -> StepOutcome:
        async with self.deps.uow() as uow:
            req = await load(uow.requirements, "Requirement", job.subject_id)
            project = await load(uow.projects, "Project", req.project_id)
        usage = await self._ask(
            "prd",
            {
                "title": req.title,
                "content": req.content,
                "priority": req.priority.value,
                "project_name": project.name,
                "tech_stack": ", ".join(project.tech_stack),
            },
        )
        async with Tx(self.deps, job_viewer(job), "ai.prd") as tx:
            # The requirement's row lock serialises its PRD version numbers.
            req = await load(tx.uow.requirements, "Requirement", job.subject_id, for_update=True)
            version = max((p.version for p in await tx.uow.prds.find(requirement_id=req.id)), default=0) + 1
            now = tx.now()
            prd = PrdDocument(
                requirement_id=req.id,
                project_id=req.project_id,
                version=version,
                sections=usage.data["sections"],
                ai_generated=True,
                created_by=job.requested_by,
                created_at=now,
                updated_at=now,
            )
            tx.uow.prds.add(prd)
            req.prd_document_id = prd.id
            req.updated_at = now
            if req.status is not RequirementStatus.ANALYZING:
                set_requirement_status(tx, req, RequirementStatus.ANALYZING)
            await self._record_usage(tx, job, usage)
            tx.audit("ai.prd", "PrdDocument", prd.id, None, prd)
            tx.emit(
                "PrdDocument",
                prd.id,
                "created",
                project_id=req.project_id,
                data={"requirementId": req.id, "version": version},
            )
        return StepOutcome({"prdId": str(prd.id), "version": version, "sections": len(prd.sections)}, usage)

    async def decompose(self, job: Job) -> StepOutcome:
        async with self.deps.uow() as uow:
            req = await load(uow.requirements, "Requirement", job.subject_id)
            prd = await uow.prds.get(req.prd_document_id) if req.prd_document_id else None
        usage = await self._ask(
            "decompose",
            {
                "title": req.title,
                "content": req.content,
                "strategy": job.payload["strategy"],
                "target_roles": job.payload["targetRoles"],
                "prd_sections": prd.sections if prd else [],
                "priority": req.priority.value,
            },
        )
        planned = usage.data["tasks"]
        edges = {t["key"]: list(t.get("depends_on", [])) for t in planned}

        async with Tx(self.deps, job_viewer(job), "ai.decompose") as tx:
            req = await load(tx.uow.requirements, "Requirement", job.subject_id, for_update=True)
            require_open(req)
            replaced = await self._drop_unstarted_ai_tasks(tx, req.id)
            now = tx.now()
            created: dict[str, Task] = {}
            for t in planned:
                task = Task(
                    requirement_id=req.id,
                    project_id=req.project_id,
                    name=t["name"][:200],
                    task_type=TaskType(t["task_type"]),
                    description=t.get("description"),
                    priority=Priority(t.get("priority", req.priority.value)),
                    estimated_hours=Decimal(str(t["estimated_hours"])).quantize(Decimal("0.01")),
                    meta={"source": "ai", "key": t["key"], "jobId": str(job.id)},
                    created_at=now,
                    updated_at=now,
                )
                tx.uow.tasks.add(task)
                created[t["key"]] = task
            for key, deps in edges.items():
                for dep in deps:
                    tx.uow.dependencies.add(TaskDependency(task_id=created[key].id, depends_on_id=created[dep].id))
            await self._record_usage(tx, job, usage)
            for task in created.values():
                tx.emit("Task", task.id, "created", project_id=req.project_id, new_status=task.status)
            total = sum((t.estimated_hours or Decimal(0)) for t in created.values())
            tx.audit(
                "ai.decompose",
                "Requirement",
                req.id,
                {"replacedTasks": replaced},
                {"createdTasks": len(created), "totalEstimatedHours": str(total)},
            )
        return StepOutcome(
            {
                "taskIds": [str(t.id) for t in created.values()],
                "replacedTasks": replaced,
                "totalEstimatedHours": float(total),
            },
            usage,
        )

    @staticmethod
    async def _drop_unstarted_ai_tasks(tx: Tx, requirement_id: uuid.UUID) -> int:
        """Re-running replaces only AI tasks that never started and have no artifacts."""
        candidates = sorted(t.id for t in await tx.uow.tasks.find(requirement_id=requirement_id) if _unstarted_ai(t))
        # Locked in id order, then checked again: a task started meanwhile is kept.
        old = [t for t in [await tx.uow.tasks.get_for_update(i) for i in candidates] if t and _unstarted_ai(t)]
        with_artifacts = {a.task_id for a in await tx.uow.artifacts.find_in("task_id", [t.id for t in old])}
        dropped = [t for t in old if t.id not in with_artifacts]
        for t in dropped:
            await tx.uow.tasks.delete(t)
            tx.emit("Task", t.id, "deleted", project_id=t.project_id, old_status=t.status)
        return len(dropped)

    async def code(self, job: Job) -> StepOutcome:
        async with self.deps.uow() as uow:
            task = await load(uow.tasks, "Task", job.subject_id)
            req = await load(uow.requirements, "Requirement", task.requirement_id)
        p = job.payload
        usage = await self._ask(
            "code",
            {
                "task_name": task.name,
                "task_description": task.description or "",
                "task_type": task.task_type.value,
                "language": p["language"],
                "framework": p.get("framework") or "",
                "include_tests": p["includeTests"],
                "include_docs": p["includeDocs"],
                "coding_standards": p.get("codingStandards") or "",
                "requirement": f"{req.title}\n\n{req.content}",
            },
        )
        files = usage.data["files"]
        for f in files:
            clean_path(f["path"])
        store = self.deps.store
        assert store is not None, "an artifact store is wired by the composition root"
        async with Tx(self.deps, job_viewer(job), "ai.code") as tx:
            task = await load(tx.uow.tasks, "Task", job.subject_id, for_update=True)
            require_not_cancelled(task)
            artifacts: list[CodeArtifact] = [
                await store_artifact(
                    tx,
                    store,
                    task_id=task.id,
                    project_id=task.project_id,
                    file_path=f["path"],
                    content=f["content"],
                    language=f.get("language") or p["language"],
                    generated_by=usage.model,
                )
                for f in files
            ]
            if task.status in (TaskStatus.PENDING, TaskStatus.BLOCKED, TaskStatus.DONE):
                await set_task_status(tx, task, TaskStatus.IN_PROGRESS)
            if task.status is TaskStatus.IN_PROGRESS:
                await set_task_status(tx, task, TaskStatus.IN_REVIEW)
            await self._record_usage(tx, job, usage)
        return StepOutcome(
            {
                "artifactIds": [str(a.id) for a in artifacts],
                "files": [
                    {"path": a.file_path, "version": a.version, "linesOfCode": a.lines_of_code} for a in artifacts
                ],
                "notes": usage.data.get("notes", ""),
            },
            usage,
        )

    async def review(self, job: Job) -> StepOutcome:
        store = self.deps.store
        assert store is not None, "an artifact store is wired by the composition root"
        async with self.deps.uow() as uow:
            artifact = await load(uow.artifacts, "CodeArtifact", job.subject_id)
            latest: dict[str, CodeArtifact] = {}
            for a in await uow.artifacts.find(task_id=artifact.task_id):
                if a.file_path not in latest or a.version > latest[a.file_path].version:
                    latest[a.file_path] = a
            latest[artifact.file_path] = artifact
        files = [
            {"path": a.file_path, "language": a.language, "content": (await store.get(a.storage_key)).decode()}
            for a in latest.values()
        ]
        usage = await self._ask("review", {"files": files, "focus": artifact.file_path})
        findings = usage.data["findings"]
        async with Tx(self.deps, job_viewer(job), "ai.review") as tx:
            artifact = await load(tx.uow.artifacts, "CodeArtifact", job.subject_id, for_update=True)
            artifact.review_findings = findings
            artifact.review_recommendation = usage.data["recommended_decision"]
            artifact.updated_at = tx.now()
            await self._record_usage(tx, job, usage)
            tx.audit(
                "ai.review",
                "CodeArtifact",
                artifact.id,
                None,
                {"findings": len(findings), "recommendation": artifact.review_recommendation},
            )
            tx.emit(
                "CodeArtifact",
                artifact.id,
                "ai_reviewed",
                project_id=artifact.project_id,
                new_status=artifact.review_status,
                data={"recommendation": artifact.review_recommendation, "findings": len(findings)},
            )
        return StepOutcome(
            {
                "findings": len(findings),
                "recommendedDecision": usage.data["recommended_decision"],
                "summary": usage.data.get("summary", ""),
            },
            usage,
        )
