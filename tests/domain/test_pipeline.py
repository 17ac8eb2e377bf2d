"""The AI pipeline in memory: requests queue jobs only after commit, steps write their results atomically
(the offline LLM answers; a fake LLM answers badly), and a bad answer writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from domain.enums import JobStatus, RequirementStatus, ReviewStatus, Role, TaskStatus, TaskType
from domain.errors import AIOutputError, Conflict, Forbidden, InvalidInput, ServiceUnavailable
from domain.model import AiModelConfig, PromptTemplate
from domain.ports import LLMResult
from domain.services.base import Deps
from domain.services.pipeline import PipelineService, Strategy
from domain.services.pipeline_steps import PipelineSteps
from integrations.json_schema import JsonSchemaValidator
from integrations.llm_offline import OfflineLLM


class OneLLM:
    """An LLMFactory handing out one LLM, remembering the configuration and key it was asked for."""

    def __init__(self, llm: Any):
        self.llm = llm
        self.asked: list[tuple[Any, str | None]] = []

    def create(self, config: Any, api_key: str | None) -> Any:
        self.asked.append((config, api_key))
        return self.llm


class ReversingBox:
    """A SecretBox whose ciphertext is the reversed plaintext: enough to see decrypt was called."""

    def encrypt(self, plaintext: str) -> str:
        return plaintext[::-1]

    def decrypt(self, token: str) -> str:
        return token[::-1]


class ScriptedLLM:
    """Answers every step with `data` and records each request."""

    name = "scripted"

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.requests: list[dict[str, Any]] = []

    async def complete_json(self, **request: Any) -> LLMResult:
        self.requests.append(request)
        return LLMResult(data=self.data, model="claude-sonnet-4-5", input_tokens=1_000, output_tokens=500)


@pytest.fixture
def pipeline(world):
    project = world.project()
    req = world.requirement(project, "Password reset")
    admin = world.user(Role.PROJECT_ADMIN, project)
    factory = OneLLM(OfflineLLM())
    return (
        world,
        PipelineService(world.deps),
        PipelineSteps(world.deps, factory, ReversingBox(), JsonSchemaValidator()),
        admin,
        req,
        factory,
    )


async def test_generate_prd_moves_the_requirement_and_enqueues_only_after_commit(pipeline):
    world, service, steps, admin, req, _ = pipeline
    job = await service.generate_prd(admin, req.id)
    assert world.queue.enqueued == [(job.id, "ai.prd")]
    assert world.row("jobs", job.id).status is JobStatus.QUEUED
    assert world.row("requirements", req.id).status is RequirementStatus.ANALYZING
    assert [e.action for e in world.bus.published] == ["status_changed", "queued"]

    outcome = await steps.prd(world.row("jobs", job.id))
    prd = world.row("prds", world.row("requirements", req.id).prd_document_id)
    assert str(prd.id) == outcome.result["prdId"]
    assert prd.version == 1 and prd.sections and outcome.result["sections"] == len(prd.sections)
    assert world.row("jobs", job.id).input_tokens > 0

    again = await steps.prd(world.row("jobs", job.id))
    assert again.result["version"] == 2
    assert world.row("requirements", req.id).prd_document_id != prd.id


async def test_a_refused_request_queues_nothing(pipeline):
    world, service, _, _, req, _ = pipeline
    guest = world.user(Role.GUEST, world.row("projects", req.project_id))
    with pytest.raises(Forbidden):
        await service.generate_prd(guest, req.id)
    assert world.queue.enqueued == []
    assert world.db.rows("jobs") == []
    assert world.row("requirements", req.id).status is RequirementStatus.DRAFT


async def test_without_a_queue_a_request_is_unavailable_and_writes_nothing(pipeline):
    world, _, _, admin, req, _ = pipeline
    service = PipelineService(Deps(uow=world.db, bus=world.bus, clock=world.clock, queue=None))
    with pytest.raises(ServiceUnavailable):
        await service.generate_prd(admin, req.id)
    assert world.row("requirements", req.id).status is RequirementStatus.DRAFT


async def test_prd_review_edit_and_approval(pipeline):
    world, service, steps, admin, req, _ = pipeline
    await steps.prd(world.row("jobs", (await service.generate_prd(admin, req.id)).id))
    prd_id = world.row("requirements", req.id).prd_document_id
    section = world.row("prds", prd_id).sections[0]["section_id"]
    with pytest.raises(InvalidInput, match="no section 'nope'"):
        await service.update_prd_section(admin, prd_id, "nope", title="x")
    await service.update_prd_section(admin, prd_id, section, content="Written by a person.")
    edited = world.row("prds", prd_id).sections[0]
    assert (edited["content"], edited["ai_generated"]) == ("Written by a person.", False)
    await service.approve_prd(admin, prd_id)
    assert world.row("requirements", req.id).status is RequirementStatus.APPROVED
    with pytest.raises(Conflict, match="already approved"):
        await service.approve_prd(admin, prd_id)
    with pytest.raises(Conflict, match="approved"):
        await service.update_prd_section(admin, prd_id, section, title="too late")


async def test_decompose_creates_typed_tasks_with_acyclic_dependencies_and_replaces_unstarted_ones(pipeline):
    world, service, steps, admin, req, _ = pipeline
    job = await service.decompose(admin, req.id, Strategy.ROLE_BASED, [TaskType.BACKEND, TaskType.TESTING])
    assert job.payload == {"strategy": "ROLE_BASED", "targetRoles": ["BACKEND", "TESTING"]}
    first = await steps.decompose(world.row("jobs", job.id))
    tasks = {t.id: t for t in world.db.rows("tasks")}
    assert {str(i) for i in tasks} == set(first.result["taskIds"])
    assert {t.task_type for t in tasks.values()} <= {TaskType.BACKEND, TaskType.TESTING}
    for dep in world.db.rows("dependencies"):
        assert dep.task_id in tasks and dep.depends_on_id in tasks

    started, with_code, *unstarted = tasks.values()
    started.status = TaskStatus.IN_PROGRESS
    world.db.put("tasks", started)
    world.artifact(with_code, admin.user_id)
    second = await steps.decompose(world.row("jobs", job.id))
    assert second.result["replacedTasks"] == len(unstarted)
    kept = {started.id, with_code.id}
    assert {t.id for t in world.db.rows("tasks")} == kept | {uuid.UUID(i) for i in second.result["taskIds"]}


async def test_decompose_refuses_closed_requirements(pipeline):
    world, service, _, admin, req, _ = pipeline
    req.status = RequirementStatus.REJECTED
    world.db.put("requirements", req)
    with pytest.raises(InvalidInput, match="REJECTED") as refused:
        await service.decompose(admin, req.id, Strategy.FEATURE_BASED, None)
    assert refused.value.field == "requirementId"
    assert world.queue.enqueued == []


async def test_code_stores_versioned_artifacts_and_moves_the_task_to_review_then_review_records_findings(pipeline):
    world, service, steps, admin, req, _ = pipeline
    task = world.task(req, "Reset endpoint")
    job = await service.generate_code(admin, task.id, language="Python", framework=None)
    assert job.payload["language"] == "python"
    code = await steps.code(world.row("jobs", job.id))
    artifacts = world.db.rows("artifacts")
    assert {str(a.id) for a in artifacts} == set(code.result["artifactIds"])
    assert all(world.store.blobs[a.storage_key] for a in artifacts)
    assert world.row("tasks", task.id).status is TaskStatus.IN_REVIEW

    await steps.code(world.row("jobs", job.id))
    assert sorted(a.version for a in world.db.rows("artifacts") if a.file_path == artifacts[0].file_path) == [1, 2]

    review_job = await service.review_code(admin, artifacts[0].id)
    review = await steps.review(world.row("jobs", review_job.id))
    reviewed = world.row("artifacts", artifacts[0].id)
    assert reviewed.review_recommendation == review.result["recommendedDecision"]
    assert len(reviewed.review_findings) == review.result["findings"]
    assert reviewed.review_status is ReviewStatus.PENDING  # the AI recommends; a person decides


async def test_code_for_a_cancelled_task_is_refused(pipeline):
    world, service, _, admin, req, _ = pipeline
    task = world.task(req, status=TaskStatus.CANCELLED)
    with pytest.raises(InvalidInput, match="CANCELLED"):
        await service.generate_code(admin, task.id, language="python", framework=None)
    assert world.db.rows("jobs") == []


@pytest.mark.parametrize("closed", [RequirementStatus.REJECTED, RequirementStatus.DONE])
async def test_a_requirement_closed_while_its_tasks_are_planned_gets_none(pipeline, closed):
    world, service, steps, admin, req, _ = pipeline
    job = await service.decompose(admin, req.id, Strategy.ROLE_BASED, None)
    req = world.row("requirements", req.id)
    req.status = closed  # rejected or finished while the model worked
    world.db.put("requirements", req)
    with pytest.raises(InvalidInput, match=closed.value):
        await steps.decompose(world.row("jobs", job.id))
    assert world.db.rows("tasks") == []


async def test_a_task_cancelled_while_its_code_is_generated_gets_no_files(pipeline):
    world, service, steps, admin, req, _ = pipeline
    task = world.task(req, "Reset endpoint")
    job = await service.generate_code(admin, task.id, language="python", framework=None)
    task = world.row("tasks", task.id)
    task.status = TaskStatus.CANCELLED
    world.db.put("tasks", task)
    with pytest.raises(InvalidInput, match="CANCELLED"):
        await steps.code(world.row("jobs", job.id))
    assert world.db.rows("artifacts") == [] and world.row("tasks", task.id).status is TaskStatus.CANCELLED


async def test_a_malformed_answer_fails_the_step_and_writes_nothing(pipeline):
    world, service, _, admin, req, _ = pipeline
    llm = ScriptedLLM({"sections": [{"title": "no id, no content"}]})
    steps = PipelineSteps(world.deps, OneLLM(llm), ReversingBox(), JsonSchemaValidator())
    job = await service.generate_prd(admin, req.id)
    with pytest.raises(AIOutputError):
        await steps.prd(world.row("jobs", job.id))
    assert world.db.rows("prds") == []
    assert world.row("jobs", job.id).input_tokens == 0


async def test_steps_use_the_default_model_with_its_decrypted_key_and_a_stored_prompt(pipeline):
    world, service, _, admin, req, _ = pipeline
    config = AiModelConfig(
        name="main",
        provider="anthropic",
        model="claude-sonnet-4-5",
        api_key_encrypted=ReversingBox().encrypt("sk-secret"),
        is_default=True,
    )
    world.db.put("ai_models", config)
    world.db.put(
        "prompts",
        PromptTemplate(identifier="prd.default", category="prd", content="PRD for {title}!", variables=["title"]),
    )
    llm = ScriptedLLM(await _valid_prd(req))
    factory = OneLLM(llm)
    steps = PipelineSteps(world.deps, factory, ReversingBox(), JsonSchemaValidator())
    job = await service.generate_prd(admin, req.id)
    await steps.prd(world.row("jobs", job.id))
    assert [(c.id, key) for c, key in factory.asked] == [(config.id, "sk-secret")]
    assert llm.requests[0]["prompt"] == "PRD for Password reset!"
    usage = world.row("jobs", job.id)
    assert (usage.input_tokens, usage.output_tokens) == (1_000, 500)
    assert usage.cost_usd > 0


async def _valid_prd(req) -> dict[str, Any]:
    answer = await OfflineLLM().complete_json(
        step="prd", system="", prompt="", schema={}, context={"title": req.title, "content": req.content}
    )
    return answer.data
