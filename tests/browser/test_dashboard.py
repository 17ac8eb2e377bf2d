"""The dashboard at / in a real browser, every non-local request blocked: an admin signs in, opens a project and sees
another client's decomposeRequirement appear live (tasks and the job's progress, no reload); a GUEST sees no action
button; the socket's close codes (4009 resync, 4401, 4403) are handled as the README's table says."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from playwright.async_api import ConsoleMessage, Page, Request, WebSocketRoute, expect

from tests.browser.conftest import ARTIFACTS, Browsing, Rdflow
from tests.fuzz.server import ADMIN_PASSWORD

pytestmark = pytest.mark.browser

GUEST_PASSWORD = "dashboard-Guest-pass-1"
LIVE = "[data-live=live]"


@dataclass
class Seeded:
    token: str
    project: str
    requirement: str


def _requirement(rdflow: Rdflow, token: str, project: str, title: str, content: str, priority: str) -> str:
    query = "mutation($i: CreateRequirementInput!) { createRequirement(input: $i) { id } }"
    i = {"projectId": project, "title": title, "content": content, "priority": priority}
    return rdflow.gql(query, token, i=i)["createRequirement"]["id"]


@pytest.fixture(scope="module")
def seeded(rdflow: Rdflow) -> Seeded:
    """A project with a guest member, one requirement to decompose live, and a finished pipeline beside it (code,
    a review, a test run with coverage, a deployment) so that every section has something to show."""
    token = rdflow.login()
    guest = rdflow.gql(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
        token,
        i={"username": "gail", "email": "gail@example.com", "password": GUEST_PASSWORD, "role": "GUEST"},
    )["createUser"]["id"]
    project = rdflow.gql(
        "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }",
        token,
        i={"name": "Checkout", "description": "Card payments for the web shop", "techStack": ["python", "fastapi"]},
    )["createProject"]["id"]
    rdflow.gql(
        "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }", token, p=project, u=guest
    )
    done = _requirement(rdflow, token, project, "Receipts by email", "Email a receipt after each payment.", "MEDIUM")
    task = rdflow.gql(
        "mutation($i: CreateTaskInput!) { createTask(input: $i) { id } }",
        token,
        i={"requirementId": done, "name": "Receipt mailer", "taskType": "BACKEND", "estimatedHours": 6},
    )["createTask"]["id"]
    rdflow.gql("mutation($id: ID!) { changeTaskStatus(id: $id, status: IN_PROGRESS) { id } }", token, id=task)
    artifact = rdflow.gql(
        "mutation($i: SubmitArtifactInput!) { submitArtifact(input: $i) { id } }",
        token,
        i={
            "taskId": task,
            "filePath": "receipts/mailer.py",
            "content": "def send(r):\n    return r\n",
            "language": "python",
        },
    )["submitArtifact"]["id"]
    rdflow.gql(
        "mutation($i: RecordTestResultInput!) { recordTestResult(input: $i) { id } }",
        token,
        i={
            "artifactId": artifact,
            "testType": "UNIT",
            "status": "PASSED",
            "total": 12,
            "passed": 12,
            "coveragePercent": 87.5,
        },
    )
    rdflow.gql(
        "mutation($i: CreateDeploymentInput!) { createDeployment(input: $i) { id } }",
        token,
        i={"projectId": project, "environment": "DEV", "version": "0.3.1"},
    )
    requirement = _requirement(
        rdflow, token, project, "Pay by card", "Customers pay by card at checkout; failures are explained.", "HIGH"
    )
    return Seeded(token, project, requirement)


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", record)
    return errors


async def sign_in(page: Page, url: str, username: str, password: str) -> None:
    response = await page.goto(f"{url}/")
    assert response is not None and response.ok
    csp = await response.header_value("content-security-policy")
    assert csp is not None and "default-src 'self'" in csp and "connect-src 'self' ws:" in csp
    await page.get_by_label("Username or email").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".topbar .user")).to_have_text(username)


async def open_project(page: Page, name: str) -> None:
    # The page reads the project when it opens and again after its subscription's first (snapshot) event (debounced):
    # a test may change things only once that second answer is in, or the refetch could show its change early.
    answered: list[Request] = []

    def finished(request: Request) -> None:
        if request.method == "POST" and "query Project(" in (request.post_data or ""):
            answered.append(request)

    page.on("requestfinished", finished)
    try:
        await page.get_by_role("navigation", name="Projects").get_by_role("link", name=name).click()
        await expect(page.locator(".project h1")).to_contain_text(name)
        await expect(page.locator(LIVE)).to_be_visible(timeout=15_000)
        for _ in range(300):
            if len(answered) >= 2:
                break
            await asyncio.sleep(0.05)
        assert len(answered) >= 2, f"the project was read {len(answered)} time(s): no refetch after the snapshot"
    finally:
        page.remove_listener("requestfinished", finished)
    await page.wait_for_load_state("networkidle")


async def test_admin_sees_decomposition_tasks_and_job_progress_appear_live(
    rdflow: Rdflow, browsing: Browsing, seeded: Seeded
):
    page = browsing.page
    errors = console_errors(page)
    await sign_in(page, rdflow.url, "admin", ADMIN_PASSWORD)
    await open_project(page, "Checkout")
    pay = page.locator("[data-requirement='Pay by card']")
    await expect(pay.locator("[data-action=decomposeRequirement]")).to_be_visible()
    await expect(page.locator("#audit")).to_be_visible()
    tasks_before = await page.locator(".task").count()
    assert tasks_before == 1
    await page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    job = rdflow.gql(
        "mutation($r: ID!) { decomposeRequirement(requirementId: $r) { id } }", seeded.token, r=seeded.requirement
    )["decomposeRequirement"]["id"]

    row = page.locator(f".job[data-job='{job}']")
    await expect(row).to_have_attribute("data-status", "SUCCEEDED", timeout=30_000)
    await expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    await expect(pay.locator(".step", has_text="Tasks")).not_to_contain_text("Tasks0")
    decomposed = rdflow.gql(
        "query($r: ID!) { requirement(id: $r) { tasks { totalCount nodes { name } } } }",
        seeded.token,
        r=seeded.requirement,
    )["requirement"]["tasks"]
    assert decomposed["totalCount"] > 0
    await expect(page.locator(".task")).to_have_count(tasks_before + decomposed["totalCount"])
    for task in decomposed["nodes"]:
        await expect(page.locator(".task", has_text=task["name"]).first).to_be_visible()
    assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"
    await browsing.screenshot("admin-live")

    # The page's own buttons start jobs too: code for the task in progress, followed live to its review column.
    await page.locator(".task", has_text="Receipt mailer").locator("[data-action=generateCode]").click()
    code_job = page.locator(".job", has_text="Generate code")
    await expect(code_job).to_have_attribute("data-status", "SUCCEEDED", timeout=30_000)
    await expect(page.locator("[data-status=IN_REVIEW] .task", has_text="Receipt mailer")).to_be_visible()
    await expect(page.locator("#tests tbody tr")).not_to_have_count(1)
    await page.screenshot(path=ARTIFACTS / "dashboard-admin-full.png", full_page=True)
    overview = {"x": 0, "y": 0, "width": 1400, "height": 1150}  # docs/dashboard.png is a copy of this one
    await page.screenshot(path=ARTIFACTS / "dashboard-overview.png", full_page=True, clip=overview)
    assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"
    assert errors == [] and browsing.page_errors == []


async def test_guest_sees_the_project_without_any_action_button(rdflow: Rdflow, browsing: Browsing, seeded: Seeded):
    page = browsing.page
    errors = console_errors(page)
    await sign_in(page, rdflow.url, "gail", GUEST_PASSWORD)
    await open_project(page, "Checkout")
    await expect(page.locator("[data-requirement='Pay by card']")).to_be_visible()
    await expect(page.locator(".task").first).to_be_visible()
    await expect(page.locator("#tests")).to_contain_text("receipts/mailer.py")
    await browsing.screenshot("guest")
    assert await page.locator("main button").count() == 0
    assert await page.locator("#audit").count() == 0
    assert errors == [] and browsing.page_errors == []


class SocketProxy:
    """Routes the page's /graphql WebSockets through Playwright to the server, so that a test can close one with any
    code, and hold a reconnect (the page's socket stays CONNECTING) until `resume()`."""

    def __init__(self) -> None:
        self.sockets: list[WebSocketRoute] = []
        self.open = asyncio.Event()
        self.open.set()

    async def install(self, page: Page) -> None:
        async def route(ws: WebSocketRoute) -> None:
            self.sockets.append(ws)
            await self.open.wait()
            ws.connect_to_server()

        await page.route_web_socket("**/graphql", route)

    async def close_latest(self, code: int, reason: str, *, hold: bool = False) -> None:
        if hold:
            self.open.clear()
        await self.sockets[-1].close(code=code, reason=reason)

    def resume(self) -> None:
        self.open.set()


async def test_resync_refetches_and_resubscribes_then_4403_and_4401_are_shown(
    rdflow: Rdflow, browsing: Browsing, seeded: Seeded
):
    page = browsing.page
    errors = console_errors(page)
    # A project of its own: the seeded one may still be sending events from the jobs earlier tests started, and any
    # refetch they cause during the gap would show what only the reconnect's refetch may show.
    quiet = rdflow.gql(
        "mutation($i: CreateProjectInput!) { createProject(input: $i) { id } }", seeded.token, i={"name": "Quiet"}
    )["createProject"]["id"]
    _requirement(rdflow, seeded.token, quiet, "Already there", "Before the page opens.", "MEDIUM")
    proxy = SocketProxy()
    await proxy.install(page)
    await sign_in(page, rdflow.url, "admin", ADMIN_PASSWORD)
    await open_project(page, "Quiet")
    requirements = await page.locator(".requirement").count()
    assert requirements == 1

    await proxy.close_latest(4009, "resync: events may have been missed; refetch and resubscribe", hold=True)
    await expect(page.locator("[data-live=reconnecting]")).to_be_visible()
    # Made while the page is disconnected: only the refetch after the reconnect can show it.
    _requirement(rdflow, seeded.token, quiet, "Missed while offline", "Created during the gap.", "LOW")
    await asyncio.sleep(1)
    await expect(page.locator(".requirement")).to_have_count(requirements)
    proxy.resume()
    await expect(page.locator(".requirement")).to_have_count(requirements + 1, timeout=20_000)
    await expect(page.locator(LIVE)).to_be_visible()
    # Resubscribed: a change after the reconnect arrives through the new socket's projectEvents.
    _requirement(rdflow, seeded.token, quiet, "Seen after the reconnect", "Created live.", "LOW")
    await expect(page.locator(".requirement")).to_have_count(requirements + 2)

    await proxy.close_latest(4403, "access removed")
    await expect(page.get_by_role("alert")).to_contain_text("no longer accessible")

    await page.evaluate("location.hash = '#/'")
    await page.get_by_role("navigation", name="Projects").get_by_role("link", name="Quiet").click()
    await expect(page.locator(LIVE)).to_be_visible(timeout=15_000)
    await proxy.close_latest(4401, "signed out")
    await expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    await expect(page.locator(".notice")).to_contain_text("sign-in ended")
    assert errors == [] and browsing.page_errors == []
