"""Job kinds and their handlers; a handler gets a JobContext and returns the job's result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from domain.model import Job
from domain.services.chat_reply import ChatReplies
from domain.services.deployments import ROLLOUT_KIND
from domain.services.pipeline_runs import STAGE_JOB, PipelineRunService
from domain.services.pipeline_steps import PipelineSteps
from domain.services.rollout import RolloutService
from domain.services.verification import RUN_KIND, TestRunService


@dataclass
class JobContext:
    job: Job
    progress: Callable[[int, str], Awaitable[None]]


Handler = Callable[[JobContext], Awaitable[dict[str, Any]]]


def pipeline_handlers(steps: PipelineSteps) -> dict[str, Handler]:
    """The AI pipeline's kinds: each asks the model, then writes its results in one transaction."""

    def step(run: Callable[[Job], Awaitable[Any]], asking: str) -> Handler:
        async def handle(ctx: JobContext) -> dict[str, Any]:
            await ctx.progress(10, asking)
            outcome = await run(ctx.job)
            return outcome.result

        return handle

    return {
        "ai.prd": step(steps.prd, "drafting the PRD"),
        "ai.decompose": step(steps.decompose, "planning tasks"),
        "ai.code": step(steps.code, "generating code"),
        "ai.review": step(steps.review, "reviewing code"),
    }


def chat_handlers(replies: ChatReplies) -> dict[str, Handler]:
    """The assistant's replies: each streams the model's answer to the conversation's followers, then stores it."""

    async def answer(ctx: JobContext) -> dict[str, Any]:
        return await replies.answer(ctx.job)

    return {"ai.chat": answer}


def pipeline_run_handlers(runs: PipelineRunService) -> dict[str, Handler]:
    """A pipeline stage's job: it starts the stage's test run or deployment (or does the build)."""

    async def stage(ctx: JobContext) -> dict[str, Any]:
        await ctx.progress(10, f"stage {ctx.job.payload.get('stage', '')}")
        return await runs.run_stage(ctx.job)

    return {STAGE_JOB: stage}


def test_run_handlers(runs: TestRunService) -> dict[str, Handler]:
    """`tests.run`: the artifact's tests in a sandbox, then its TestResult."""

    async def handle(ctx: JobContext) -> dict[str, Any]:
        await ctx.progress(10, f"running the {ctx.job.payload.get('testType', 'UNIT').lower()} tests")
        return await runs.run(ctx.job)

    return {RUN_KIND: handle}


def deploy_handlers(rollout: RolloutService) -> dict[str, Handler]:
    """`deploy.rollout`: apply a deployment to the cluster and watch it to its end."""

    async def handle(ctx: JobContext) -> dict[str, Any]:
        await ctx.progress(5, "rolling out")
        return await rollout.run(ctx.job)

    return {ROLLOUT_KIND: handle}
