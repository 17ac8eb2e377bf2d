"""The `search` query over real HTTP on both backends: typed hits with their nodes, membership, bad input."""

from __future__ import annotations

import pytest

from domain.enums import Role
from tests.api import Api
from tests.e2e.test_crud_api import project, requirement, task
from tests.e2e.test_hostile_input import assert_refused

SEARCH = """query($p: ID!, $t: String!, $k: [SearchKind!], $f: Int! = 20) {
  search(projectId: $p, text: $t, kinds: $k, first: $f) {
    kind id title snippet rank
    node {
      __typename
      ... on Requirement { id title }
      ... on Task { id name }
      ... on Conversation { id title aboutId }
    }
  }
}"""
ADD_MEMBER = "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }"
USER_ID = "query { me { id } }"
START = """mutation($p: ID!, $r: ID!, $t: String) {
  startConversation(projectId: $p, about: {requirementId: $r}, title: $t) { id } }"""
SEND = "mutation($c: ID!, $t: String!) { sendMessage(conversationId: $c, text: $t) { id } }"
DELETE = "mutation($c: ID!) { deleteConversation(id: $c) }"


async def test_hits_come_ranked_with_highlights_and_their_nodes(api: Api):
    p = await project(api)
    r = await requirement(api, p, "Invoice archive")  # content: "Users export invoices as PDF."
    t = await task(api, r, "Render invoices to PDF")

    hits = (await api.gql(SEARCH, {"p": p, "t": "invoices"}))["search"]
    only_tasks = (await api.gql(SEARCH, {"p": p, "t": "pdf", "k": ["TASK"]}))["search"]

    assert {h["kind"]: (h["node"]["__typename"], h["id"], h["node"]["id"]) for h in hits} == {
        "REQUIREMENT": ("Requirement", r, r),
        "TASK": ("Task", t["id"], t["id"]),
    }
    assert all("«invoice" in h["snippet"].lower() for h in hits)
    assert hits[0]["rank"] >= hits[1]["rank"]
    assert [h["node"]["name"] for h in only_tasks] == ["Render invoices to PDF"]


async def test_only_members_and_super_admins_search_a_project(api: Api):
    p = await project(api)
    await requirement(api, p, "Invoice archive")
    await api.user("dev", Role.DEVELOPER)
    guest = await api.user("guest", Role.GUEST)
    await api.gql(ADD_MEMBER, {"p": p, "u": (await api.gql(USER_ID, as_="guest"))["me"]["id"]})

    refused = await api.error(SEARCH, {"p": p, "t": "invoice"}, as_="dev")
    seen = (await api.gql(SEARCH, {"p": p, "t": "invoice"}, as_="guest"))["search"]

    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert [h["title"] for h in seen] == ["Invoice archive"] and guest.role is Role.GUEST
    assert (await api.error(SEARCH, {"p": p, "t": "invoice"}, as_=None))["extensions"]["code"] == "UNAUTHENTICATED"


async def test_conversations_are_found_by_their_messages_as_members_see_them_until_deleted(api: Api):
    p = await project(api)
    r = await requirement(api, p, "Invoice archive")
    c = (await api.gql(START, {"p": p, "r": r, "t": "Archive questions"}))["startConversation"]["id"]
    await api.user("guest", Role.GUEST)
    await api.gql(ADD_MEMBER, {"p": p, "u": (await api.gql(USER_ID, as_="guest"))["me"]["id"]})
    await api.user("dev", Role.DEVELOPER)  # not a member

    await api.gql(SEND, {"c": c, "t": "Does the lynx exporter keep invoices for ten years?"})
    await api.container.queue.join()  # the offline reply is stored too: the conversation still comes once
    found = (await api.gql(SEARCH, {"p": p, "t": "lynx", "k": ["CONVERSATION"]}, as_="guest"))["search"]
    refused = await api.error(SEARCH, {"p": p, "t": "lynx"}, as_="dev")
    await api.gql(SEND, {"c": c, "t": "And the ocelot importer?"})
    later = (await api.gql(SEARCH, {"p": p, "t": "ocelot"}))["search"]
    await api.container.queue.join()
    await api.gql(DELETE, {"c": c})
    gone = (await api.gql(SEARCH, {"p": p, "t": "lynx OR ocelot OR archive"}))["search"]

    assert [(h["kind"], h["id"], h["title"], h["node"]) for h in found] == [
        (
            "CONVERSATION",
            c,
            "Archive questions",
            {"__typename": "Conversation", "id": c, "title": "Archive questions", "aboutId": r},
        )
    ]
    assert "«lynx»" in found[0]["snippet"]
    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert [(h["kind"], h["id"]) for h in later] == [("CONVERSATION", c)] and "«ocelot»" in later[0]["snippet"]
    assert [(h["kind"], h["title"]) for h in gone] == [("REQUIREMENT", "Invoice archive")]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"t": "x" * 5_000}, "text"),
        ({"t": "a\x00b"}, "text"),
        ({"t": '"" -- ** ()'}, "text"),
        ({"t": "invoice", "f": 0}, "first"),
        ({"t": "invoice", "f": 1_000}, "first"),
        ({"t": "invoice", "k": []}, "kinds"),
    ],
    ids=["huge", "nul", "no-words", "first-0", "first-1000", "no-kinds"],
)
async def test_bad_text_or_first_is_bad_user_input_naming_it(api: Api, variables, field):
    p = await project(api)

    response = await api.post(SEARCH, {"p": p, **variables})

    assert_refused(response, field=field, status=response.status_code)


async def test_query_operators_in_text_are_searched_not_obeyed(api: Api):
    p = await project(api)
    await requirement(api, p, "Invoice archive")

    for text in ['invoice"', "invoice*", "NEAR(invoice", "invoice OR", "title:invoice OR"]:
        hits = (await api.gql(SEARCH, {"p": p, "t": text}))["search"]
        assert [h["title"] for h in hits] in ([], ["Invoice archive"]), text
