"""Relay connections: cursors both ways, filters, ordering, totalCount; node(id) for every type."""

from __future__ import annotations

import base64

from domain.enums import Role
from domain.model import Project
from domain.paging import MAX_OFFSET, MAX_PAGE_SIZE
from resolvers.ids import encode_cursor, to_global_id
from tests.api import Api
from tests.e2e.test_crud_api import project, requirement, task

PAGE = """query($first: Int, $after: String, $last: Int, $before: String, $order: ProjectOrder,
  $filter: ProjectFilter) {
  projects(first: $first, after: $after, last: $last, before: $before, orderBy: $order, filter: $filter) {
    totalCount edges { cursor node { name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }"""


def names(conn: dict) -> list[str]:
    return [e["node"]["name"] for e in conn["edges"]]


async def test_forward_and_backward_paging(api: Api):
    for n in "ABCDE":
        await project(api, f"p{n}")
    order = {"field": "NAME", "direction": "ASC"}
    first = (await api.gql(PAGE, {"first": 2, "order": order}))["projects"]
    assert names(first) == ["pA", "pB"] and first["totalCount"] == 5
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]

    second = (await api.gql(PAGE, {"first": 2, "after": first["pageInfo"]["endCursor"], "order": order}))["projects"]
    assert names(second) == ["pC", "pD"] and second["pageInfo"]["hasPreviousPage"]

    third = (await api.gql(PAGE, {"first": 2, "after": second["pageInfo"]["endCursor"], "order": order}))["projects"]
    assert names(third) == ["pE"] and not third["pageInfo"]["hasNextPage"]

    last = (await api.gql(PAGE, {"last": 2, "order": order}))["projects"]
    assert names(last) == ["pD", "pE"] and last["pageInfo"]["hasPreviousPage"]

    before = (await api.gql(PAGE, {"last": 2, "before": last["pageInfo"]["startCursor"], "order": order}))["projects"]
    assert names(before) == ["pB", "pC"]

    desc = (await api.gql(PAGE, {"first": 3, "order": {"field": "NAME", "direction": "DESC"}}))["projects"]
    assert names(desc) == ["pE", "pD", "pC"]


async def test_filters(api: Api):
    pid = await project(api, "main")
    other = await project(api, "other")
    await api.gql("mutation($id: ID!) { changeProjectStatus(id: $id, status: ACTIVE) { id } }", {"id": other})
    active = (await api.gql(PAGE, {"filter": {"status": ["ACTIVE"]}}))["projects"]
    assert names(active) == ["other"] and active["totalCount"] == 1

    rid = await requirement(api, pid)
    dev = await api.user("dev")
    dev_id = (await api.gql("{ users(filter: {role: [DEVELOPER]}) { nodes { id } } }"))["users"]["nodes"][0]["id"]
    assert dev_id == to_global_id("User", dev.id)
    await api.gql(
        "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }", {"p": pid, "u": dev_id}
    )
    mine = await task(api, rid, "mine", priority="HIGH")
    await task(api, rid, "theirs", taskType="FRONTEND")
    await api.gql(
        "mutation($id: ID!, $u: ID!) { assignTask(id: $id, userId: $u) { id } }", {"id": mine["id"], "u": dev_id}
    )
    q = """query($f: TaskFilter) { tasks(filter: $f) { totalCount nodes { name } } }"""
    assert (await api.gql(q, {"f": {"assignedTo": dev_id}}))["tasks"] == {"totalCount": 1, "nodes": [{"name": "mine"}]}
    assert (await api.gql(q, {"f": {"taskType": ["FRONTEND"]}}))["tasks"]["nodes"] == [{"name": "theirs"}]
    assert (await api.gql(q, {"f": {"priority": ["HIGH"], "taskType": ["FRONTEND"]}}))["tasks"]["totalCount"] == 0
    nested = await api.gql(
        """query($id: ID!) { requirement(id: $id) { tasks(filter: {status: [PENDING]},
        orderBy: {field: NAME, direction: DESC}) { totalCount nodes { name } } } }""",
        {"id": rid},
    )
    assert nested["requirement"]["tasks"] == {"totalCount": 2, "nodes": [{"name": "theirs"}, {"name": "mine"}]}


async def test_node_resolves_every_type(api: Api):
    pid = await project(api)
    rid = await requirement(api, pid)
    t = await task(api, rid, "Build")
    art = (
        await api.gql(
            """mutation($t: ID!) { submitArtifact(input: {taskId: $t, filePath: "a.py",
        content: "x = 1\\n", language: "python"}) { id } }""",
            {"t": t["id"]},
        )
    )["submitArtifact"]["id"]
    res = (
        await api.gql(
            """mutation($a: ID!) { recordTestResult(input: {artifactId: $a, testType: UNIT,
        status: PASSED, total: 1, passed: 1}) { id } }""",
            {"a": art},
        )
    )["recordTestResult"]["id"]
    dep = (
        await api.gql(
            """mutation($p: ID!) { createDeployment(input: {projectId: $p, environment: DEV,
        version: "1.0.0"}) { id } }""",
            {"p": pid},
        )
    )["createDeployment"]["id"]
    me = (await api.gql("{ me { id } }"))["me"]["id"]
    expected = {
        pid: "Project",
        rid: "Requirement",
        t["id"]: "Task",
        art: "CodeArtifact",
        res: "TestResult",
        dep: "Deployment",
        me: "User",
    }
    for gid, typename in expected.items():
        data = await api.gql("query($id: ID!) { node(id: $id) { __typename id } }", {"id": gid})
        assert data["node"] == {"__typename": typename, "id": gid}


async def seed_projects(api: Api, count: int) -> None:
    now = api.container.services.deps.clock.now()
    async with api.container.services.deps.uow() as uow:
        for n in range(count):
            uow.projects.add(Project(name=f"p{n:03}", created_by=api.users["admin"].id, created_at=now, updated_at=now))
        await uow.commit()


async def test_a_page_never_exceeds_the_cap_whatever_the_cursors(api: Api):
    await seed_projects(api, MAX_PAGE_SIZE + 20)
    order = {"field": "NAME", "direction": "ASC"}
    far = encode_cursor(1_000_000)
    alone = (await api.gql(PAGE, {"before": far, "order": order}))["projects"]
    assert names(alone) == [f"p{n:03}" for n in range(MAX_PAGE_SIZE)] and alone["pageInfo"]["hasNextPage"]
    between = (await api.gql(PAGE, {"after": encode_cursor(4), "before": far, "order": order}))["projects"]
    assert names(between) == [f"p{n:03}" for n in range(5, 5 + MAX_PAGE_SIZE)]
    backward = (await api.gql(PAGE, {"last": 3, "before": far, "order": order}))["projects"]
    assert names(backward) == ["p117", "p118", "p119"]


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


BAD_CURSORS = [
    "not a cursor",
    raw_cursor("offset:-1"),
    raw_cursor("offset:ten"),
    raw_cursor("row:5"),
    encode_cursor(10**30),
    encode_cursor(2**63),
    encode_cursor(MAX_OFFSET + 1),
]


async def test_malformed_or_out_of_range_cursors_are_bad_input(api: Api):
    pid = await project(api)
    nested = "query($id: ID!, $c: String) { project(id: $id) { requirements(%s: $c) { totalCount } } }"
    for side in ("after", "before"):
        for cursor in BAD_CURSORS:
            for error in (
                await api.error(PAGE, {side: cursor}),
                await api.error(nested % side, {"id": pid, "c": cursor}),
            ):
                assert error["extensions"]["code"] == "BAD_USER_INPUT", (side, cursor, error)
                assert error["extensions"]["field"] == side, (side, cursor, error)
    edge = (await api.gql(PAGE, {"after": encode_cursor(MAX_OFFSET)}))["projects"]
    assert edge["edges"] == [] and edge["totalCount"] == 1


async def test_audit_log_outcome_filter_is_an_enum(api: Api):
    await api.user("guest", Role.GUEST)
    await api.error('mutation { createProject(input: {name: "x"}) { id } }', as_="guest")
    await project(api)
    q = "query($o: AuditOutcome) { auditLog(filter: {outcome: $o}) { totalCount nodes { action outcome } } }"
    denied = (await api.gql(q, {"o": "DENIED"}))["auditLog"]
    assert denied["totalCount"] == 1 and denied["nodes"][0]["outcome"] == "DENIED"
    ok = (await api.gql(q, {"o": "OK"}))["auditLog"]
    assert ok["nodes"] and {n["outcome"] for n in ok["nodes"]} == {"OK"}
    literal = '{ auditLog(filter: {outcome: "denied"}) { totalCount } }'
    for error in (await api.error(q, {"o": "denied"}), await api.error(literal)):
        assert error["extensions"]["code"] == "BAD_USER_INPUT", error
