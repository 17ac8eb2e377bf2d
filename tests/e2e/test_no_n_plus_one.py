"""Nested connections cost the same number of SQL statements whatever the number of rows."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Mapper

from domain.enums import TaskType, TestRunStatus, TestType
from domain.model import AuditEntry, CodeArtifact, Project, ProjectMember, Requirement, Task, TestResult
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings

# Pages just wide enough for the largest seed (4 projects x 25 requirements x 5 tasks), within the cost limit.
NESTED = """{ projects(first: 10) { totalCount edges { cursor node { name createdBy { username }
  requirements(first: 25) { totalCount nodes { title project { name }
    tasks(first: 5) { totalCount nodes { name assignedTo { username } dependencies { id }
      artifacts(first: 2) { totalCount nodes { filePath task { name }
        testResults(first: 2) { totalCount nodes { passed executedBy { username } } } } } } } } } } } } }"""


async def seed(api: Api, tasks_total: int) -> None:
    admin = api.users["admin"]
    now = api.container.services.deps.clock.now()
    per_project = tasks_total // 4 // 5
    async with api.container.services.deps.uow() as uow:
        for p in range(4):
            project = Project(name=f"p{p}", created_by=admin.id, created_at=now, updated_at=now)
            uow.projects.add(project)
            uow.members.add(ProjectMember(project_id=project.id, user_id=admin.id, added_at=now))
            for r in range(per_project):
                req = Requirement(
                    project_id=project.id,
                    title=f"r{r}",
                    content="c",
                    created_by=admin.id,
                    created_at=now,
                    updated_at=now,
                )
                uow.requirements.add(req)
                for t in range(5):
                    task = Task(
                        requirement_id=req.id,
                        project_id=project.id,
                        name=f"t{t}",
                        task_type=TaskType.BACKEND,
                        assigned_to=admin.id,
                        created_at=now,
                        updated_at=now,
                    )
                    uow.tasks.add(task)
                    art = CodeArtifact(
                        task_id=task.id,
                        project_id=project.id,
                        file_path="a.py",
                        file_name="a.py",
                        language="python",
                        storage_key="k",
                        checksum=hashlib.sha256(b"").hexdigest(),
                        created_by=admin.id,
                        created_at=now,
                        updated_at=now,
                    )
                    uow.artifacts.add(art)
                    uow.test_results.add(
                        TestResult(
                            artifact_id=art.id,
                            project_id=project.id,
                            test_type=TestType.UNIT,
                            status=TestRunStatus.PASSED,
                            total=1,
                            passed=1,
                            executed_by=admin.id,
                            executed_at=now,
                        )
                    )
        await uow.commit()


async def statements_for_nested_query(api: Api, tasks_total: int) -> tuple[int, int, int]:
    """(queries, transactions begun, leaves) of one nested read; SQLite's explicit BEGIN is counted apart."""
    queries, begins, leaves, _ = await costs_of_nested_query(api, tasks_total)
    return queries, begins, leaves


async def costs_of_nested_query(api: Api, tasks_total: int) -> tuple[int, int, int, int]:
    """(queries, transactions begun, leaves, connection checkouts) of one nested read."""
    await seed(api, tasks_total)
    await api.gql("{ me { id } }")  # the viewer is read (and cached) before: what is left is the read itself
    statements: list[str] = []
    checkouts: list[object] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    def checkout(*_args):
        checkouts.append(_args)

    engine = api.container.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    event.listen(engine.pool, "checkout", checkout)
    try:
        data = await api.gql(NESTED)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        event.remove(engine.pool, "checkout", checkout)
    leaves = sum(
        t["artifacts"]["nodes"][0]["testResults"]["totalCount"]
        for e in data["projects"]["edges"]
        for r in e["node"]["requirements"]["nodes"]
        for t in r["tasks"]["nodes"]
    )
    begins = sum(1 for s in statements if s.strip().upper().startswith("BEGIN"))
    return len(statements) - begins, begins, leaves, len(checkouts)


@pytest.mark.parametrize("sizes", [(20, 100, 500)])
async def test_statement_count_is_constant(sizes, tmp_path):
    counts, transactions = [], []
    for n in sizes:
        async with running_api(sqlite_settings(tmp_path, f"n{n}")) as api:
            queries, begins, leaves = await statements_for_nested_query(api, n)
        assert leaves == n
        counts.append(queries)
        transactions.append(begins)
    assert counts[0] == counts[1] == counts[2], counts
    assert counts[0] <= 20, counts
    assert transactions[0] == transactions[1] == transactions[2], transactions
    assert 1 <= transactions[0] <= counts[0], transactions


async def test_connections_and_transactions_per_request_do_not_grow_with_the_rows(tmp_path):
    """DataLoader batches share the request's read session when it is free; a batch that overlaps a busy one takes a
    connection of its own (waiting could deadlock: the holder may itself await a batch). So checkouts and
    transactions are bounded by the query's batches, never by its rows; one more is the access token's revocation
    check (embedded mode keeps it in the database)."""
    seen = []
    for n in (20, 100):
        async with running_api(sqlite_settings(tmp_path, f"c{n}")) as api:
            queries, begins, leaves, checkouts = await costs_of_nested_query(api, n)
        assert leaves == n
        seen.append((begins, checkouts, queries))
    assert seen[0] == seen[1], seen
    begins, checkouts, queries = seen[0]
    assert begins == checkouts <= queries + 1, seen


TOTALS_ONLY = """{ projects(first: 10) { nodes { name requirements(first: 25) { nodes {
    tasks(first: 2, filter: {taskType: [BACKEND]}) { totalCount ...T } } } } } }
fragment T on TaskConnection { __typename ... on TaskConnection { totalCount } }"""


async def test_a_connection_asked_only_for_its_total_reads_no_rows(tmp_path):
    """`tasks(first: 2) { totalCount }` below every requirement: one COUNT for them all and no row query, with the
    totals the same connection gives when its rows are read too."""
    async with running_api(sqlite_settings(tmp_path, "totals")) as api:
        await seed(api, 100)
        await api.gql("{ me { id } }")
        statements: list[str] = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        engine = api.container.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            data = await api.gql(TOTALS_ONLY)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        with_rows = await api.gql(TOTALS_ONLY.replace("totalCount ...T", "totalCount ...T nodes { id }"))

    def totals(d: dict) -> list[int]:
        return [r["tasks"]["totalCount"] for p in d["projects"]["nodes"] for r in p["requirements"]["nodes"]]

    assert totals(data) == totals(with_rows) == [5] * 20
    on_tasks = [s for s in statements if "FROM tasks" in s]
    assert len(on_tasks) == 1 and "row_number" not in on_tasks[0].lower(), on_tasks


async def test_reads_build_no_orm_instances(tmp_path):
    """Every batch of a nested read, also one that overlaps a busy batch and so runs on a session of its own, builds
    plain entities from Core rows: the ORM loads no instance."""
    loaded: list[object] = []

    def on_load(target, _context):
        loaded.append(target)

    async with running_api(sqlite_settings(tmp_path, "light")) as api:
        await seed(api, 20)
        await api.gql("{ me { id } }")
        event.listen(Mapper, "load", on_load)
        try:
            data = await api.gql(NESTED)
        finally:
            event.remove(Mapper, "load", on_load)
    assert len(data["projects"]["edges"]) == 4
    assert loaded == []


ROWS_ONLY = """query Q($after: String) { auditLog(first: 3, after: $after, filter: {entityType: "Probe"}) {
  edges { cursor node { action } } } }"""
WITH_COUNT = [
    ("totalCount", "totalCount edges { cursor node { action } }"),
    ("pageInfo", "pageInfo { hasNextPage } edges { cursor node { action } }"),
    ("a fragment", "...C edges { cursor node { action } }"),
]
FRAGMENT = " fragment C on AuditEntryConnection { pageInfo { endCursor } }"


@pytest.mark.parametrize("api", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
async def test_a_root_connection_read_for_its_rows_only_runs_no_count(api: Api):
    """Rows and cursors alone need no COUNT; asking for totalCount or pageInfo (also through a fragment) brings it
    back; the rows and cursors are the same either way, on every page."""
    now = api.container.services.deps.clock.now()
    async with api.container.services.deps.uow() as uow:
        for i in range(4):
            uow.audit.add(AuditEntry(action=f"probe.{i}", entity_type="Probe", at=now - timedelta(minutes=i)))
        await uow.commit()
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement.lower())

    def counts() -> int:
        return sum(1 for s in statements if "count(" in s and "audit" in s)

    engine = api.container.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        first = (await api.gql(ROWS_ONLY, {"after": None}))["auditLog"]["edges"]
        second = (await api.gql(ROWS_ONLY, {"after": first[-1]["cursor"]}))["auditLog"]["edges"]
        assert counts() == 0, [s for s in statements if "count(" in s]
        for why, selection in WITH_COUNT:
            statements.clear()
            query = ROWS_ONLY.replace("edges { cursor node { action } }", selection)
            query += FRAGMENT if why == "a fragment" else ""
            counted = (await api.gql(query, {"after": first[-1]["cursor"]}))["auditLog"]
            assert counts() == 1, why
            assert counted["edges"] == second, why
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [e["node"]["action"] for e in first + second] == ["probe.0", "probe.1", "probe.2", "probe.3"]
    assert len({e["cursor"] for e in first + second}) == 4
