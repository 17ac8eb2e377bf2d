"""The PRD step through the API with the Anthropic provider: the real SDK against a local Messages API server."""

from __future__ import annotations

import pytest

from domain.ai.schemas import PRD_SECTION_IDS
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_crud_api import CREATE_PROJECT
from tests.fakes.anthropic_server import FakeAnthropic, overloaded, rate_limited, tool_call

KEY = "sk-ant-test-pipeline"
MODEL = "claude-sonnet-5-5"
JOB = "query($id: ID!) { job(id: $id) { status error attempts inputTokens outputTokens costUsd } }"
REQUIREMENT = """query($id: ID!) { requirement(id: $id) { status prd { version aiGenerated
  sections { sectionId content } } prdVersions { id } } }"""


def prd(overview: str) -> dict:
    return {
        "sections": [
            {
                "section_id": s,
                "title": s.replace("_", " ").title(),
                "content": overview if s == "overview" else f"{s} of the export",
                "features": [{"id": "F1", "name": "CSV export", "priority": "HIGH"}] if s == "features" else [],
                "ai_generated": True,
            }
            for s in PRD_SECTION_IDS
        ]
    }


@pytest.fixture(scope="module")
def fake():
    with FakeAnthropic(KEY) as server:
        yield server


@pytest.fixture
async def anthropic_api(fake, tmp_path):
    fake.reset()
    settings = sqlite_settings(
        tmp_path,
        anthropic_api_key=KEY,
        anthropic_base_url=fake.base_url,
        anthropic_model=MODEL,
        anthropic_max_retries=2,
        anthropic_timeout_s=5,
        job_backoff_base_s=0.05,
    )
    async with running_api(settings) as api:
        yield api


async def generate_prd(api: Api) -> tuple[str, dict]:
    pid = (await api.gql(CREATE_PROJECT, {"input": {"name": "Billing"}}))["createProject"]["id"]
    rid = (
        await api.gql(
            """mutation($p: ID!) { createRequirement(input: {projectId: $p, title: "CSV export",
        content: "Managers export invoices as CSV."}) { id } }""",
            {"p": pid},
        )
    )["createRequirement"]["id"]
    job = (await api.gql("mutation($r: ID!) { generatePrd(requirementId: $r) { id } }", {"r": rid}))["generatePrd"]
    await api.container.queue.join()
    return rid, (await api.gql(JOB, {"id": job["id"]}))["job"]


async def test_the_models_prd_is_stored_with_its_usage_and_cost(anthropic_api: Api, fake: FakeAnthropic):
    fake.plan(tool_call(prd("Finance exports invoices as CSV."), input_tokens=1_000, output_tokens=2_000))

    rid, job = await generate_prd(anthropic_api)

    assert job["status"] == "SUCCEEDED", job
    assert (job["inputTokens"], job["outputTokens"]) == (1_000, 2_000) and job["costUsd"] > 0
    requirement = (await anthropic_api.gql(REQUIREMENT, {"id": rid}))["requirement"]
    sections = {s["sectionId"]: s["content"] for s in requirement["prd"]["sections"]}
    assert sections["overview"] == "Finance exports invoices as CSV."
    assert requirement["prd"]["aiGenerated"] and requirement["status"] == "ANALYZING"
    [sent] = fake.requests
    assert sent.body["model"] == MODEL and "Managers export invoices as CSV." in sent.body["messages"][0]["content"]


async def test_a_429_and_a_529_are_retried_to_success(anthropic_api: Api, fake: FakeAnthropic):
    fake.plan(rate_limited(0.05), overloaded(), tool_call(prd("Retried.")))

    rid, job = await generate_prd(anthropic_api)

    assert job["status"] == "SUCCEEDED", job
    assert fake.request_count == 3
    requirement = (await anthropic_api.gql(REQUIREMENT, {"id": rid}))["requirement"]
    assert requirement["prd"]["sections"][0]["content"] == "Retried."


async def test_a_malformed_tool_result_fails_the_job_and_writes_nothing(anthropic_api: Api, fake: FakeAnthropic):
    broken = prd("Half a PRD")
    broken["sections"][2]["features"] = [{"id": "feature-one", "name": "CSV", "priority": "URGENT"}]
    fake.plan(tool_call(broken))

    rid, job = await generate_prd(anthropic_api)

    assert job["status"] == "FAILED", job
    assert "sections/2/features/0" in job["error"] or "sections[2].features[0]" in job["error"], job
    assert job["attempts"] == 1, "a malformed answer is not worth paying for again"
    requirement = (await anthropic_api.gql(REQUIREMENT, {"id": rid}))["requirement"]
    assert requirement["prd"] is None and requirement["prdVersions"] == []
    # The request's own change (DRAFT -> ANALYZING) was committed with the job; asking again recovers.
    assert requirement["status"] == "ANALYZING"
    fake.plan(tool_call(prd("Second try.")))
    again = await anthropic_api.gql("mutation($r: ID!) { generatePrd(requirementId: $r) { id } }", {"r": rid})
    await anthropic_api.container.queue.join()
    assert (await anthropic_api.gql(JOB, {"id": again["generatePrd"]["id"]}))["job"]["status"] == "SUCCEEDED"
    requirement = (await anthropic_api.gql(REQUIREMENT, {"id": rid}))["requirement"]
    assert requirement["prd"]["version"] == 1 and len(requirement["prdVersions"]) == 1
