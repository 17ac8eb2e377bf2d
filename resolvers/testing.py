"""Test runs: start one for an artifact; a project's coverage summary."""

from __future__ import annotations

from domain.enums import TestType
from resolvers.context import RequestContext
from resolvers.ids import decode_id


async def run_tests(ctx: RequestContext, artifact_id: str, test_type: TestType):
    return await ctx.services.test_runs.start_test_run(
        ctx.viewer, decode_id(artifact_id, "CodeArtifact", "artifactId"), test_type
    )


async def coverage_report(ctx: RequestContext, project_id: str):
    return await ctx.services.test_runs.coverage_report(ctx.viewer, decode_id(project_id, "Project", "projectId"))
