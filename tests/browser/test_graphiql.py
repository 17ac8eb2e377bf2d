"""GraphiQL in a real browser with every non-local request blocked: it loads from the server's own assets, sends the
token field's bearer token, runs a query and a subscription that sees another client's mutation."""

from __future__ import annotations

import contextlib
import json
import re

import pytest
from playwright.async_api import Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout

from tests.browser.conftest import Browsing, Rdflow

pytestmark = pytest.mark.browser

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESPONSE = ".graphiql-response .CodeMirror"
RUN = ".graphiql-execute-button"
CREATE_REQUIREMENT = (
    'mutation($p: ID!, $t: String!) { createRequirement(input: {projectId: $p, title: $t, content: "x"}) { id } }'
)


async def set_query(page: Page, query: str) -> None:
    """Replace the query, then wait for GraphiQL to parse it (debounced): it picks HTTP or WebSocket from the parse."""
    editor = page.locator(QUERY_EDITOR)
    await editor.evaluate("(editor, query) => editor.CodeMirror.setValue(query)", query)
    await page.wait_for_function(
        "([selector, query]) => document.querySelector(selector).CodeMirror.documentAST?.loc.source.body === query",
        arg=[QUERY_EDITOR, query],
    )


async def response_of(page: Page) -> str:
    return await page.locator(RESPONSE).evaluate("editor => editor.CodeMirror.getValue()")


async def wait_for_response(page: Page, needle: str, timeout_ms: float = 15_000) -> dict:
    """The response pane's JSON once it contains `needle` (a subscription replaces it with each event)."""
    await page.wait_for_function(
        "([selector, needle]) => document.querySelector(selector)?.CodeMirror.getValue().includes(needle)",
        arg=[RESPONSE, needle],
        timeout=timeout_ms,
    )
    return json.loads(await response_of(page))


async def open_graphiql(browsing: Browsing, url: str) -> Page:
    page = browsing.page
    await page.goto(f"{url}/graphql")
    await expect(page.locator(QUERY_EDITOR)).to_be_visible(timeout=20_000)
    return page


async def set_token(page: Page, token: str, *, remember: bool = False) -> None:
    if remember:
        await page.locator("#remember").check()
    await page.locator("#token").fill(token)
    await page.locator("#token").press("Enter")
    await expect(page.locator("#auth-state")).to_have_text("token set")


async def test_graphiql_runs_a_query_and_a_subscription_with_nothing_leaving_the_machine(
    rdflow: Rdflow, browsing: Browsing
):
    token = rdflow.login()
    project = rdflow.gql('mutation { createProject(input: {name: "Live"}) { id } }', token)["createProject"]["id"]
    page = await open_graphiql(browsing, rdflow.url)

    await set_token(page, token)
    await set_query(page, "{ me { username role } }")
    await page.locator(RUN).click()
    answer = await wait_for_response(page, '"username"')
    await browsing.screenshot("query")

    assert answer == {"data": {"me": {"username": "admin", "role": "SUPER_ADMIN"}}}

    sent: list[str] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    await set_query(page, f'subscription {{ projectEvents(projectId: "{project}") {{ entityType action entityId }} }}')
    await page.locator(RUN).click()
    await expect(page.locator(RUN)).to_have_attribute("aria-label", re.compile("^Stop query"), timeout=15_000)
    # Another client changes the project until an event arrives: the first change may land before the server has
    # registered the subscription, which it acknowledges to nobody.
    for attempt in range(10):
        created = rdflow.gql(CREATE_REQUIREMENT, token, p=project, t=f"Seen live {attempt}")["createRequirement"]["id"]
        with contextlib.suppress(PlaywrightTimeout):
            event = await wait_for_response(page, created, timeout_ms=3_000)
            break
    else:
        pytest.fail(f"no projectEvents event reached GraphiQL; the response pane shows {await response_of(page)}")
    await browsing.screenshot("subscription")
    init = next(json.loads(frame) for frame in sent if '"connection_init"' in frame)

    assert event["data"]["projectEvents"] == {"entityType": "Requirement", "action": "created", "entityId": created}
    assert init["payload"] == {"authorization": f"Bearer {token}"}
    assert browsing.blocked == [] and browsing.page_errors == []


async def test_the_token_stays_in_memory_unless_remembered_in_this_tab_and_never_in_local_storage(
    rdflow: Rdflow, browsing: Browsing
):
    token = rdflow.login()
    page = await open_graphiql(browsing, rdflow.url)

    await set_token(page, token)
    stored = await page.evaluate("() => [JSON.stringify(localStorage), JSON.stringify(sessionStorage)]")
    await page.reload()
    await expect(page.locator(QUERY_EDITOR)).to_be_visible(timeout=20_000)
    forgotten = await page.locator("#token").input_value()

    assert all(token not in storage for storage in stored)
    assert forgotten == ""

    await set_token(page, token, remember=True)
    await page.reload()
    await expect(page.locator("#auth-state")).to_have_text("token set", timeout=20_000)
    await set_query(page, "{ me { username } }")
    await page.locator(RUN).click()
    answer = await wait_for_response(page, '"username"')
    local = await page.evaluate("() => JSON.stringify(localStorage)")

    assert answer == {"data": {"me": {"username": "admin"}}}
    assert token not in local
    assert browsing.blocked == [] and browsing.page_errors == []


async def test_the_harness_aborts_and_records_every_request_to_another_host(rdflow: Rdflow, browsing: Browsing):
    elsewhere = "https://unpkg.com/react@18.2.0/umd/react.production.min.js"
    await browsing.page.goto(f"{rdflow.url}/health")
    outcome = await browsing.page.evaluate("url => fetch(url).then(() => 'fetched', () => 'refused')", elsewhere)
    blocked, browsing.blocked = browsing.blocked, []

    assert outcome == "refused"
    assert blocked == [elsewhere]
