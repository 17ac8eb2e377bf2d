"""The whole AI pipeline in embedded mode: requirement -> PRD -> tasks -> code -> review -> human decision."""

from __future__ import annotations

from tests.api import Api
from tests.e2e.test_crud_api import CREATE_PROJECT

REQUIREMENT = (
    "As a finance manager I want to export invoices as CSV and approve refunds, so that month-end closing "
    "takes less than 2 hours. Customers can search invoices by number. Exports must finish within 5 seconds "
    "for 10000 invoices."
)
JOB = "id kind status progress error result inputTokens outputTokens"


async def run(api: Api, mutation: str, variables: dict, field: str) -> dict:
    job = (await api.gql(mutation, variables))[field]
    assert job["status"] == "QUEUED", job
    await api.container.queue.join()
    done = (await api.gql(f"query($id: ID!) {{ job(id: $id) {{ {JOB} }} }}", {"id": job["id"]}))["job"]
    assert done["status"] == "SUCCEEDED", done
    assert done["progress"] == 100 and done["inputTokens"] > 0 and done["outputTokens"] > 0
    return done


async def test_requirement_to_reviewed_code(sqlite_api: Api):
    api = sqlite_api
    pid = (await api.gql(CREATE_PROJECT, {"input": {"name": "Billing", "techStack": ["python", "starlette"]}}))[
        "createProject"
    ]["id"]
    rid = (
        await api.gql(
            """mutation($p: ID!, $c: String!) { createRequirement(input: {projectId: $p,
        title: "Invoice export and refunds", content: $c, priority: HIGH}) { id status } }""",
            {"p": pid, "c": REQUIREMENT},
        )
    )["createRequirement"]["id"]

    await run(api, f"mutation($r: ID!) {{ generatePrd(requirementId: $r) {{ {JOB} }} }}", {"r": rid}, "generatePrd")
    req = (
        await api.gql(
            """query($id: ID!) { requirement(id: $id) { status prd { id version aiGenerated approved
        sections { sectionId title content features { id name priority } } } } }""",
            {"id": rid},
        )
    )["requirement"]
    assert req["status"] == "ANALYZING"
    prd = req["prd"]
    assert prd["version"] == 1 and prd["aiGenerated"] and not prd["approved"]
    sections = {s["sectionId"]: s for s in prd["sections"]}
    assert list(sections) == [
        "overview",
        "user_stories",
        "features",
        "non_functional",
        "acceptance_criteria",
        "open_questions",
    ]
    assert "invoice" in sections["overview"]["content"].lower()
    stories = sections["user_stories"]["content"].lower()
    assert "as a manager" in stories and "as a customer" in stories and "search invoices" in stories
    features = sections["features"]["features"]
    assert features and features[0]["id"] == "F1" and features[0]["priority"] == "HIGH"
    assert "5 seconds" in sections["non_functional"]["content"] or "5 s" in sections["non_functional"]["content"]

    edited = await api.gql(
        """mutation($p: ID!) { updatePrdSection(prdId: $p, sectionId: "overview",
        content: "Edited overview") { sections { sectionId content aiGenerated } } }""",
        {"p": prd["id"]},
    )
    overview = edited["updatePrdSection"]["sections"][0]
    assert overview == {"sectionId": "overview", "content": "Edited overview", "aiGenerated": False}
    approved = await api.gql(
        "mutation($p: ID!) { approvePrd(prdId: $p) { approved requirement { status } } }", {"p": prd["id"]}
    )
    assert approved["approvePrd"] == {"approved": True, "requirement": {"status": "APPROVED"}}

    job = await run(
        api,
        """mutation($r: ID!) { decomposeRequirement(requirementId: $r, strategy: ROLE_BASED,
        targetRoles: [BACKEND, FRONTEND, TESTING]) { id kind status progress error result inputTokens
        outputTokens } }""",
        {"r": rid},
        "decomposeRequirement",
    )
    tasks = (
        await api.gql(
            """query($id: ID!) { requirement(id: $id) { tasks(first: 100) { totalCount nodes {
        id name taskType estimatedHours status dependencies { id name } } } } }""",
            {"id": rid},
        )
    )["requirement"]["tasks"]["nodes"]
    assert {t["taskType"] for t in tasks} == {"BACKEND", "FRONTEND", "TESTING"}
    assert any(t["name"].startswith("[Backend]") and "invoice" in t["name"].lower() for t in tasks)
    assert abs(sum(t["estimatedHours"] for t in tasks) - job["result"]["totalEstimatedHours"]) < 0.01
    assert any(t["dependencies"] for t in tasks if t["taskType"] == "FRONTEND")

    # Re-running replaces the never-started AI tasks rather than piling up copies.
    again = await run(
        api,
        """mutation($r: ID!) { decomposeRequirement(requirementId: $r) { id kind status
        progress error result inputTokens outputTokens } }""",
        {"r": rid},
        "decomposeRequirement",
    )
    assert again["result"]["replacedTasks"] == len(tasks)

    tasks = (
        await api.gql(
            """query($id: ID!) { requirement(id: $id) { tasks(first: 100, filter: {taskType:
        [BACKEND]}) { nodes { id name dependencies { id } } } } }""",
            {"id": rid},
        )
    )["requirement"]["tasks"]["nodes"]
    backend = next(t for t in tasks if not t["dependencies"])
    await run(
        api,
        """mutation($t: ID!) { generateCode(taskId: $t, language: "python", framework: "starlette",
        specifications: {includeTests: true, includeDocs: true}) { id kind status progress error result
        inputTokens outputTokens } }""",
        {"t": backend["id"]},
        "generateCode",
    )
    task = (
        await api.gql(
            """query($id: ID!) { task(id: $id) { status artifacts(first: 50) { totalCount nodes {
        id filePath language version checksum content generatedBy } } } }""",
            {"id": backend["id"]},
        )
    )["task"]
    assert task["status"] == "IN_REVIEW"
    files = {a["filePath"]: a for a in task["artifacts"]["nodes"]}
    assert any(p.endswith(".py") and "test" in p for p in files), list(files)
    assert any(p.lower().endswith("readme.md") for p in files), list(files)
    import hashlib

    for a in files.values():
        assert a["version"] == 1 and a["generatedBy"] == "offline-v1"
        assert a["checksum"] == hashlib.sha256(a["content"].encode()).hexdigest()
    source = next(a for p, a in files.items() if p.endswith(".py") and "test" not in p and "__init__" not in p)

    review = await run(
        api, f"mutation($a: ID!) {{ reviewCode(artifactId: $a) {{ {JOB} }} }}", {"a": source["id"]}, "reviewCode"
    )
    assert review["result"]["recommendedDecision"] == "APPROVED"
    reviewed = (
        await api.gql(
            """query($id: ID!) { artifact(id: $id) { reviewStatus reviewRecommendation
        reviewFindings { severity rule } } }""",
            {"id": source["id"]},
        )
    )["artifact"]
    assert reviewed["reviewStatus"] == "PENDING" and reviewed["reviewRecommendation"] == "APPROVED"
    assert all(f["severity"] in ("INFO", "MINOR") for f in reviewed["reviewFindings"])

    decided = await api.gql(
        """mutation($a: ID!) { submitReview(artifactId: $a, decision: APPROVED,
        comments: "ship it") { reviewStatus reviewComments } }""",
        {"a": source["id"]},
    )
    assert decided["submitReview"] == {"reviewStatus": "APPROVED", "reviewComments": "ship it"}

    usage = (
        await api.gql(
            "query($id: ID!) { project(id: $id) { aiUsage { inputTokens outputTokens costUsd } "
            "jobs(first: 20) { totalCount nodes { kind status } } } }",
            {"id": pid},
        )
    )["project"]
    assert usage["jobs"]["totalCount"] == 5 and {j["status"] for j in usage["jobs"]["nodes"]} == {"SUCCEEDED"}
    assert usage["aiUsage"]["inputTokens"] > 0 and usage["aiUsage"]["costUsd"] == 0.0
