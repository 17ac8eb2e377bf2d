"""The browser-test harness: Playwright drives the system's Chromium, headless, against a real `rdflow serve`; every
request to a host other than this machine is aborted and recorded, and screenshots are kept in var/test-artifacts/."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Route, WebSocketRoute, async_playwright

from tests import services
from tests.fuzz.server import ADMIN_PASSWORD, ServerProcess
from tests.jobstack import ROOT

ARTIFACTS = ROOT / "var" / "test-artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def chromium_path() -> str:
    """RDFLOW_CHROMIUM, or Debian's chromium on PATH (.ci/run installs it); Playwright's own download is not used."""
    path = os.environ.get("RDFLOW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        services.unavailable("Chromium", FileNotFoundError("chromium (apt-get install chromium)"))
    return path


def is_local(url: str) -> bool:
    """Whether a request stays on this machine (data: and blob: URLs never leave the page)."""
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname in LOCAL_HOSTS


@dataclass
class Rdflow:
    """A running `rdflow serve` (development mode: GraphiQL on) with a super admin, and an HTTP client for it."""

    server: ServerProcess
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def gql(self, query: str, token: str | None = None, **variables: Any) -> dict:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers).json()
        assert not body.get("errors"), body
        return body["data"]

    def login(self, username: str = "admin", password: str = ADMIN_PASSWORD) -> str:
        """An access token, signed in through the API as a browser user would."""
        query = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }"
        return self.gql(query, u=username, p=password)["login"]["accessToken"]


@pytest.fixture(scope="module")
def rdflow(tmp_path_factory) -> Iterator[Rdflow]:
    data_dir = tmp_path_factory.mktemp("browser")
    server = ServerProcess(f"sqlite:///{data_dir}/rdflow.db", data_dir, data_dir / "server.log")
    try:
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            yield Rdflow(server, client)
    finally:
        server.stop()
    errors = server.new_error_lines()
    assert not errors, f"the server logged errors (log: {server.log_path}):\n{errors}"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Browsing:
    """A page in a fresh browser context, what it tried to fetch from elsewhere, and its script errors."""

    page: Page
    name: str
    blocked: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    async def screenshot(self, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        await self.page.screenshot(path=path)
        print(f"screenshot: {path}")
        return path


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember a failed test body, so that its page is photographed before the context closes."""
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
async def browsing(request, browser: Browser) -> AsyncIterator[Browsing]:
    """A page whose every non-local request (HTTP or WebSocket) is aborted and recorded; the test fails if any was
    attempted, and leaves a screenshot when it fails."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    session = Browsing(page, re.sub(r"\W+", "-", request.node.name).strip("-"))

    async def abort(route: Route) -> None:
        session.blocked.append(route.request.url)
        await route.abort("blockedbyclient")

    async def refuse(ws: WebSocketRoute) -> None:
        session.blocked.append(ws.url)
        await ws.close()

    await context.route(lambda url: not is_local(url), abort)
    await context.route_web_socket(lambda url: not is_local(url), refuse)
    page.on("pageerror", lambda error: session.page_errors.append(str(error)))
    try:
        yield session
        if request.node.stash.get(FAILED, False):
            await session.screenshot("failed")
    finally:
        await context.close()
    assert session.blocked == [], f"the page tried to reach other hosts: {session.blocked}"
