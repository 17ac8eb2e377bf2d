"""AI chat in embedded mode: the offline assistant answers from the project's context and cites what it used;
conversations are listed, read and deleted as the objects they are about allow."""

from __future__ import annotations

from domain.enums import Role
from tests.api import Api
from tests.e2e.test_crud_api import CREATE_PROJECT

RESET = (
    "Users can reset their password by email; admins can see an audit of resets. A reset link expires after "
    "30 minutes and can be used once. Rate-limit reset requests to 5 per hour per account."
)
FAILING = "test_reset_link_expires_after_30_minutes"
FAILURE = f"tests/test_reset.py::{FAILING} FAILED - AssertionError: the link was still accepted after 31 minutes"
START = """mutation($p: ID!, $about: ChatAboutInput!) { startConversation(projectId: $p, about: $about) {
  id title aboutType aboutId } }"""
SEND = """mutation($c: ID!, $t: String!) { sendMessage(conversationId: $c, text: $t) { id role status
  job { id status } } }"""
MESSAGES = """query($id: ID!) { conversation(id: $id) { messages { id role seq status content error
  citations { kind id title } inputTokens outputTokens model job { status inputTokens outputTokens } } } }"""


async def job_done(api: Api, mutation: str, variables: dict, field: str) -> None:
    job = (await api.gql(mutation, variables))[field]
    await api.container.queue.join()
    done = (await api.gql("query($id: ID!) { job(id: $id) { status error } }", {"id": job["id"]}))["job"]
    assert done["status"] == "SUCCEEDED", done


async def project_with_requirement(api: Api, name: str = "Accounts") -> tuple[str, str]:
    pid = (await api.gql(CREATE_PROJECT, {"input": {"name": name, "techStack": ["python", "fastapi"]}}))[
        "createProject"
    ]["id"]
    rid = (
        await api.gql(
            """mutation($p: ID!, $c: String!) { createRequirement(input: {projectId: $p, title: "Password reset",
            content: $c, priority: HIGH}) { id } }""",
            {"p": pid, "c": RESET},
        )
    )["createRequirement"]["id"]
    return pid, rid


async def test_a_question_about_a_failing_test_is_answered_citing_that_test(api: Api):
    pid, rid = await project_with_requirement(api)
    await job_done(api, "mutation($r: ID!) { generatePrd(requirementId: $r) { id } }", {"r": rid}, "generatePrd")
    await job_done(
        api, "mutation($r: ID!) { decomposeRequirement(requirementId: $r) { id } }", {"r": rid}, "decomposeRequirement"
    )
    tasks = (
        await api.gql("query($id: ID!) { requirement(id: $id) { tasks { nodes { id name taskType } } } }", {"id": rid})
    )["requirement"]["tasks"]["nodes"]
    assert tasks, "decomposition made no tasks"
    testing = next((t for t in tasks if t["taskType"] == "TESTING"), tasks[0])
    artifact = (
        await api.gql(
            """mutation($t: ID!) { submitArtifact(input: {taskId: $t, filePath: "tests/test_reset.py",
            content: "def test_reset_link_expires_after_30_minutes():\\n    assert False\\n", language: "python"})
            { id } }""",
            {"t": testing["id"]},
        )
    )["submitArtifact"]["id"]
    result = (
        await api.gql(
            """mutation($a: ID!, $e: String!) { recordTestResult(input: {artifactId: $a, testType: UNIT,
            status: FAILED, total: 3, passed: 2, failed: 1, errorMessage: $e}) { id } }""",
            {"a": artifact, "e": FAILURE},
        )
    )["recordTestResult"]["id"]
    conversation = (await api.gql(START, {"p": pid, "about": {"requirementId": rid}}))["startConversation"]
    assert (conversation["title"], conversation["aboutType"], conversation["aboutId"]) == (
        "Password reset",
        "Requirement",
        rid,
    )

    reply = (await api.gql(SEND, {"c": conversation["id"], "t": f"Why does {FAILING} fail?"}))["sendMessage"]
    assert (reply["role"], reply["status"]) == ("ASSISTANT", "STREAMING")
    await api.container.queue.join()

    asked, answered = (await api.gql(MESSAGES, {"id": conversation["id"]}))["conversation"]["messages"]
    assert (asked["role"], asked["seq"], asked["content"]) == ("USER", 1, f"Why does {FAILING} fail?")
    assert (answered["id"], answered["seq"], answered["status"], answered["error"]) == (
        reply["id"],
        2,
        "COMPLETE",
        None,
    )
    assert FAILING in answered["content"] and "still accepted after 31 minutes" in answered["content"]
    assert answered["citations"][0] == {"kind": "test", "id": result, "title": f"tests/test_reset.py::{FAILING}"}
    assert {"kind": "requirement", "id": rid, "title": "Password reset"} in answered["citations"]
    assert {"kind": "task", "id": testing["id"], "title": testing["name"]} in answered["citations"]
    assert answered["model"] == "offline-v1" and answered["inputTokens"] > 0 and answered["outputTokens"] > 0
    job = answered["job"]
    assert job["status"] == "SUCCEEDED"
    assert (job["inputTokens"], job["outputTokens"]) == (answered["inputTokens"], answered["outputTokens"])


async def test_conversations_follow_the_projects_membership(api: Api):
    pid, rid = await project_with_requirement(api)
    await api.user("outsider", Role.DEVELOPER)
    guest = await api.user("gus", Role.GUEST)
    await api.gql(
        "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }",
        {"p": pid, "u": _user_id(guest)},
    )
    cid = (await api.gql(START, {"p": pid, "about": {"requirementId": rid}}))["startConversation"]["id"]

    refused = await api.error(START, {"p": pid, "about": {"requirementId": rid}}, as_="outsider")
    assert refused["extensions"]["code"] == "FORBIDDEN" and refused["extensions"]["permission"] == "project:member"
    hidden = await api.error("query($id: ID!) { conversation(id: $id) { id } }", {"id": cid}, as_="outsider")
    assert hidden["extensions"]["code"] == "FORBIDDEN"
    listed = "query { conversations { totalCount nodes { id } } }"
    assert (await api.gql(listed, as_="outsider"))["conversations"]["totalCount"] == 0
    assert (await api.gql(listed, as_="gus"))["conversations"]["nodes"] == [{"id": cid}]
    deleting = "mutation($id: ID!) { deleteConversation(id: $id) }"
    not_theirs = await api.error(deleting, {"id": cid}, as_="gus")
    assert not_theirs["extensions"]["code"] == "FORBIDDEN"
    assert not_theirs["extensions"]["permission"] == "conversation:delete"

    assert (await api.gql(deleting, {"id": cid}))["deleteConversation"] == cid
    gone = await api.error("query($id: ID!) { conversation(id: $id) { id } }", {"id": cid})
    assert gone["extensions"]["code"] == "NOT_FOUND"
    assert (await api.gql(listed, as_="gus"))["conversations"]["totalCount"] == 0


async def test_what_a_conversation_is_about_is_checked(sqlite_api: Api):
    api = sqlite_api
    pid, rid = await project_with_requirement(api)
    other, _ = await project_with_requirement(api, "Other")

    two = await api.error(START, {"p": pid, "about": {"requirementId": rid, "taskId": rid}})
    assert two["extensions"]["code"] == "BAD_USER_INPUT" and "exactly one" in two["message"]
    elsewhere = await api.error(START, {"p": other, "about": {"requirementId": rid}})
    assert elsewhere["extensions"]["code"] == "BAD_USER_INPUT" and "not in project" in elsewhere["message"]
    wrong_kind = await api.error(START, {"p": pid, "about": {"taskId": rid}})
    assert wrong_kind["extensions"]["code"] == "BAD_USER_INPUT" and "about.taskId" in wrong_kind["message"]


def _user_id(user) -> str:
    from resolvers.ids import to_global_id

    return to_global_id("User", user.id)


async def test_a_conversations_subscription_ends_when_its_viewer_leaves_the_project(sqlite_api: Api):
    from tests.e2e.test_subscription_access import REMOVE_MEMBER, closed_with, project_with_member, subscribed
    from tests.live import LiveServer

    api = sqlite_api
    pid, maria = await project_with_member(api)
    rid = (
        await api.gql(
            'mutation($p: ID!) { createRequirement(input: {projectId: $p, title: "t", content: "c"}) { id } }',
            {"p": pid},
        )
    )["createRequirement"]["id"]
    cid = (await api.gql(START, {"p": pid, "about": {"requirementId": rid}}))["startConversation"]["id"]
    updates = "subscription($id: ID!) { conversationUpdated(id: $id) { kind } }"
    await api.user("outsider", Role.DEVELOPER)
    async with LiveServer(api.app) as live:
        ws = await subscribed(live.ws_url, maria["accessToken"], updates, {"id": cid})
        outsider = await subscribed_error(live.ws_url, api.tokens["outsider"], updates, {"id": cid})
        try:
            assert outsider["extensions"]["code"] == "FORBIDDEN"
            await api.gql(REMOVE_MEMBER, {"p": pid, "u": maria["id"]})
            code, reason = await closed_with(ws)
            assert code == 4403 and "member" in reason, (code, reason)
        finally:
            await ws.__aexit__(None, None, None)


async def subscribed_error(url: str, token: str, query: str, variables: dict) -> dict:
    from tests.live import TransportWs

    async with TransportWs(url) as ws:
        assert (await ws.init({"authorization": f"Bearer {token}"}))["type"] == "connection_ack"
        await ws.subscribe("1", query, variables)
        message = await ws.recv()
    assert message["type"] == "next" and message["payload"]["data"] is None, message
    return message["payload"]["errors"][0]


async def test_project_search_hits_join_the_context_and_are_cited(api: Api):
    pid, rid = await project_with_requirement(api)
    other = (
        await api.gql(
            'mutation($p: ID!) { createRequirement(input: {projectId: $p, title: "Invoices", content: "PDF"}) { id } }',
            {"p": pid},
        )
    )["createRequirement"]["id"]
    task = (
        await api.gql(
            """mutation($r: ID!) { createTask(input: {requirementId: $r, name: "Render invoices",
            taskType: BACKEND}) { id } }""",
            {"r": other},
        )
    )["createTask"]["id"]
    artifact = (
        await api.gql(
            """mutation($t: ID!) { submitArtifact(input: {taskId: $t, filePath: "billing/invoice_pdf_renderer.py",
            content: "def render(): ...\\n", language: "python"}) { id } }""",
            {"t": task},
        )
    )["submitArtifact"]["id"]
    cid = (await api.gql(START, {"p": pid, "about": {"requirementId": rid}}))["startConversation"]["id"]

    await api.gql(SEND, {"c": cid, "t": "Where is the invoice PDF renderer?"})
    await api.container.queue.join()

    answered = (await api.gql(MESSAGES, {"id": cid}))["conversation"]["messages"][-1]
    assert answered["status"] == "COMPLETE"
    assert {"kind": "artifact", "id": artifact, "title": "billing/invoice_pdf_renderer.py"} in answered["citations"]
    assert "invoice_pdf_renderer.py" in answered["content"]
