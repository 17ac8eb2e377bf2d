"""The chat use cases over the in-memory ports: one reply at a time, cancelling, orphaned replies, the reply step."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain.enums import ChatMessageStatus, DeploymentStatus, Environment, JobStatus, Role, TestRunStatus, TestType
from domain.errors import Conflict, ServiceUnavailable
from domain.model import Deployment, TestResult
from domain.ports import StreamUsage
from domain.services.chat import ChatService
from domain.services.chat_context import ContextItem, failing_tests
from domain.services.chat_reply import ChatReplies
from domain.services.chat_search import query_of, search_for_chat
from domain.services.deployments import DeploymentService
from domain.services.jobs import JobLifecycle, JobService
from domain.services.live import LiveUpdates
from domain.services.pipeline_runs import PipelineRunService
from domain.services.projects import ProjectService
from domain.services.search import SearchService
from integrations.llm_offline import OfflineLLM
from tests.domain.test_pipeline import OneLLM, ReversingBox


class BreakingLLM:
    """Streams two pieces, then fails like an upstream error mid-stream."""

    name = "breaking"

    async def stream_text(self, **request: Any) -> AsyncIterator[str | StreamUsage]:
        yield StreamUsage("claude-sonnet-4-5", 2_000, 0)
        yield "Half "
        yield "an answer"
        raise ServiceUnavailable("the Anthropic stream broke off after 14 characters: overloaded_error: Overloaded")


@pytest.fixture
def chat(world):
    project = world.project()
    req = world.requirement(project, "Password reset")
    member = world.user(Role.DEVELOPER, project)
    jobs = JobService(world.deps)
    live = LiveUpdates(
        world.deps, jobs, DeploymentService(world.deps), ProjectService(world.deps), PipelineRunService(world.deps)
    )
    return world, ChatService(world.deps, jobs, live), project, req, member


def replies(world, llm) -> ChatReplies:
    return ChatReplies(world.deps, OneLLM(llm), ReversingBox())


async def test_one_reply_at_a_time_and_a_cancelled_queued_reply_frees_the_conversation(chat):
    world, service, project, req, member = chat
    conversation = await service.start(member, project.id, "Requirement", req.id, None)
    reply = await service.send(member, conversation.id, "What is left to do?")
    assert world.queue.enqueued == [(reply.job_id, "ai.chat")]

    with pytest.raises(Conflict, match="still answering"):
        await service.send(member, conversation.id, "Hello?")

    await service.cancel(member, reply.id)
    assert world.row("chat_messages", reply.id).status is ChatMessageStatus.CANCELLED
    assert world.row("jobs", reply.job_id).status is JobStatus.CANCELLED
    again = await service.send(member, conversation.id, "What is left to do?")
    assert [m.seq for m in await service.messages(member, conversation)] == [1, 2, 3, 4] and again.seq == 4


async def test_a_reply_whose_job_was_lost_is_ended_incomplete_by_the_next_message(chat):
    world, service, project, req, member = chat
    conversation = await service.start(member, project.id, "Requirement", req.id, None)
    reply = await service.send(member, conversation.id, "Status?")
    lifecycle = JobLifecycle(world.deps)
    await lifecycle.claim(reply.job_id)
    await lifecycle.fail(reply.job_id, "worker lost (no heartbeat)")

    await service.send(member, conversation.id, "Status, again?")

    ended = world.row("chat_messages", reply.id)
    assert ended.status is ChatMessageStatus.INCOMPLETE and "worker lost" in ended.error


async def test_the_reply_step_streams_deltas_in_order_then_stores_the_answer(chat):
    world, service, project, req, member = chat
    conversation = await service.start(member, project.id, "Requirement", req.id, None)
    reply = await service.send(member, conversation.id, "What does the requirement ask?")
    job = world.row("jobs", reply.job_id)
    world.bus.published.clear()

    result = await replies(world, OfflineLLM()).answer(job)

    stored = world.row("chat_messages", reply.id)
    deltas = [e for e in world.bus.published if e.action == "delta"]
    assert [e.data["index"] for e in deltas] == list(range(len(deltas))) and len(deltas) > 3
    assert "".join(e.data["text"] for e in deltas) == stored.content
    assert all(e.project_id is None for e in deltas), "deltas stay off the project's feed"
    assert stored.status is ChatMessageStatus.COMPLETE and "Password reset" in stored.content
    assert stored.citations[0] == {
        "kind": "requirement",
        "entityType": "Requirement",
        "id": str(req.id),
        "title": "Password reset",
    }
    assert world.bus.published[-1].action == "message" and result["messageId"] == str(reply.id)
    assert world.row("jobs", job.id).input_tokens == stored.input_tokens > 0


async def test_an_error_mid_stream_keeps_the_text_and_the_usage(chat):
    world, service, project, req, member = chat
    conversation = await service.start(member, project.id, "Requirement", req.id, None)
    reply = await service.send(member, conversation.id, "Explain")
    job = world.row("jobs", reply.job_id)

    with pytest.raises(ServiceUnavailable):
        await replies(world, BreakingLLM()).answer(job)

    stored = world.row("chat_messages", reply.id)
    assert (stored.status, stored.content) == (ChatMessageStatus.INCOMPLETE, "Half an answer")
    assert stored.error.startswith("the answer stopped early:") and "overloaded_error" in stored.error
    assert stored.input_tokens == 2_000 and stored.cost_usd > 0
    assert world.row("jobs", job.id).input_tokens == 2_000


def test_failing_tests_are_named_from_the_report_or_the_error_message():
    def run(**fields: Any) -> TestResult:
        base = {
            "artifact_id": uuid.uuid4(),
            "project_id": uuid.uuid4(),
            "test_type": TestType.UNIT,
            "status": TestRunStatus.FAILED,
            "total": 3,
            "failed": 2,
        }
        return TestResult(**{**base, **fields})

    reported = run(
        report={
            "failures": [{"name": "test_a", "message": "boom"}],
            "tests": [
                {"nodeid": "t.py::test_b", "outcome": "failed", "longrepr": "bang"},
                {"nodeid": "t.py::test_c", "outcome": "passed"},
            ],
        }
    )
    assert [(i.title, i.text) for i in failing_tests(reported, None)] == [("test_a", "boom"), ("t.py::test_b", "bang")]
    from_message = run(error_message="test_expiry failed: AssertionError")
    assert [i.title for i in failing_tests(from_message, None)] == ["test_expiry"]
    node_ids = run(error_message="tests/test_calc.py::test_add, tests/test_calc.py::test_div[0] failed")
    assert [i.title for i in failing_tests(node_ids, None)] == [
        "tests/test_calc.py::test_add",
        "tests/test_calc.py::test_div[0]",
    ]
    assert len(failing_tests(run(error_message="2 failed in tests/test_calc.py"), None)) == 1  # no test named
    unnamed = failing_tests(run(error_message="exit code 1"), None)
    assert len(unnamed) == 1 and unnamed[0].title.startswith("2 failing unit test(s)")


async def test_a_conversation_about_a_deployment_sees_it_first_with_its_logs(chat):
    world, service, project, _, member = chat
    old = Deployment(
        project_id=project.id,
        environment=Environment.STAGING,
        version="0.9.0",
        status=DeploymentStatus.FAILED,
        logs="readiness probe failed: /healthz 503",
        created_at=world.clock.now(),
    )
    world.db.put("deployments", old)
    for n in range(4):
        world.db.put(
            "deployments",
            Deployment(
                project_id=project.id, environment=Environment.DEV, version=f"1.{n}", created_at=world.clock.now()
            ),
        )
    conversation = await service.start(member, project.id, "Deployment", old.id, None)
    reply = await service.send(member, conversation.id, "Why did the staging deployment fail?")

    await replies(world, OfflineLLM()).answer(world.row("jobs", reply.job_id))

    stored = world.row("chat_messages", reply.id)
    assert conversation.title == "STAGING deployment 0.9.0"
    assert stored.citations[0]["id"] == str(old.id) and "readiness probe failed" in stored.content


async def test_search_results_join_the_context_searched_as_the_requester(chat):
    world, service, project, req, member = chat
    asked: list[tuple] = []

    async def search(viewer, conversation, text):
        asked.append((viewer.user_id, viewer.role, conversation.id, text))
        return [ContextItem("artifact", "CodeArtifact", "a1", "reset_tokens.py", "def issue_reset_token(): ...", {})]

    conversation = await service.start(member, project.id, "Requirement", req.id, None)
    reply = await service.send(member, conversation.id, "Where is reset_tokens.py?")
    steps = ChatReplies(world.deps, OneLLM(OfflineLLM()), ReversingBox(), search=search)

    await steps.answer(world.row("jobs", reply.job_id))

    assert asked == [(member.user_id, Role.DEVELOPER, conversation.id, "Where is reset_tokens.py?")]
    stored = world.row("chat_messages", reply.id)
    assert {
        "kind": "artifact",
        "entityType": "CodeArtifact",
        "id": "a1",
        "title": "reset_tokens.py",
    } in stored.citations


async def test_cancelling_a_reply_whose_job_already_ended_ends_the_reply(chat):
    world, service, project, req, member = chat
    conversation = await service.start(member, project.id, "Requirement", req.id, None)
    reply = await service.send(member, conversation.id, "Status?")
    lifecycle = JobLifecycle(world.deps)
    await lifecycle.claim(reply.job_id)
    await lifecycle.fail(reply.job_id, "worker lost (no heartbeat)")

    ended = await service.cancel(member, reply.id)

    assert ended.status is ChatMessageStatus.CANCELLED
    assert world.row("chat_messages", reply.id).status is ChatMessageStatus.CANCELLED


async def test_the_chat_searches_any_of_the_questions_words_and_does_without_search_when_it_is_down(chat):
    world, service, project, req, member = chat
    conversation = await service.start(member, project.id, "Requirement", req.id, None)
    assert query_of("Why does test_reset_link fail?") == "test OR reset OR link OR fail"
    assert query_of("why?") is None
    unconfigured = search_for_chat(SearchService(world.deps, None))
    assert await unconfigured(member, conversation, "Where is the reset token?") == []
