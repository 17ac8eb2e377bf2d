"""Bad input is refused with a clear error naming the field, and writes nothing; faults are masked."""

from __future__ import annotations

import logging

import pytest

from tests.api import Api
from tests.e2e.test_crud_api import CREATE_PROJECT, CREATE_REQ, project


async def count(api: Api, sql_table: str) -> int:
    from sqlalchemy import text

    async with api.container.engine.connect() as conn:
        return (await conn.execute(text(f"SELECT count(*) FROM {sql_table}"))).scalar_one()


@pytest.mark.parametrize(
    "variables, needle",
    [
        ({"input": {"name": 42}}, "name"),
        ({"input": {}}, "name"),
        ({"input": {"name": "x", "techStack": [1, 2]}}, "techStack"),
        ({"input": {"name": "x", "startDate": "not-a-date"}}, "startDate"),
        ({}, "input"),
    ],
)
async def test_wrong_types_and_missing_fields(api: Api, variables, needle):
    before = await count(api, "audit_log")
    response = await api.post(CREATE_PROJECT, variables)
    body = response.json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["errorId"] == "ERR_400_001"
    if needle:
        assert needle in error["message"]
    assert "data" not in body or body["data"] is None
    assert await count(api, "projects") == 0 and await count(api, "audit_log") == before


async def test_list_input_coercion_is_not_an_error(api: Api):
    # GraphQL coerces a single value into a list: techStack "python" means ["python"].
    data = await api.gql(CREATE_PROJECT, {"input": {"name": "x", "techStack": "python"}})
    assert data["createProject"]["techStack"] == ["python"]


@pytest.mark.parametrize("field, value, limit", [("name", "n" * 101, 100), ("description", "d" * 10_001, 10_000)])
async def test_oversize_strings_name_the_field(api: Api, field, value, limit):
    error = await api.error(CREATE_PROJECT, {"input": {"name": "ok", field: value}})
    assert error["extensions"]["field"] == field and str(limit) in error["message"]
    assert await count(api, "projects") == 0


async def test_blank_required_text(api: Api):
    error = await api.error(CREATE_PROJECT, {"input": {"name": "   "}})
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "errorId": "ERR_400_001", "field": "name"}


async def test_unknown_and_malformed_ids(api: Api):
    import uuid

    from resolvers.ids import to_global_id

    missing = to_global_id("Project", uuid.uuid4())
    error = await api.error(CREATE_REQ, {"input": {"projectId": missing, "title": "t", "content": "c"}})
    assert error["extensions"]["code"] == "NOT_FOUND" and error["extensions"]["errorId"] == "ERR_404_001"

    error = await api.error(CREATE_REQ, {"input": {"projectId": "garbage!", "title": "t", "content": "c"}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == "projectId"

    wrong_type = to_global_id("Task", uuid.uuid4())
    error = await api.error(CREATE_REQ, {"input": {"projectId": wrong_type, "title": "t", "content": "c"}})
    assert "must be a Project id" in error["message"]
    assert await count(api, "requirements") == 0


async def test_failed_step_writes_nothing(api: Api):
    """A task with a valid row but a bad dependency is refused whole: no task, no audit entry."""
    pid = await project(api)
    rid = (await api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "t", "content": "c"}}))["createRequirement"][
        "id"
    ]
    import uuid

    from resolvers.ids import to_global_id

    tasks_before, audit_before = await count(api, "tasks"), await count(api, "audit_log")
    error = await api.error(
        """mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }""",
        {
            "input": {
                "requirementId": rid,
                "name": "n",
                "taskType": "BACKEND",
                "dependencyIds": [to_global_id("Task", uuid.uuid4())],
            }
        },
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await count(api, "tasks") == tasks_before and await count(api, "audit_log") == audit_before


async def test_bad_pagination_arguments(api: Api):
    error = await api.error("{ projects(first: 1000) { totalCount } }")
    assert error["extensions"]["field"] == "first"
    error = await api.error('{ projects(after: "bm9wZQ==") { totalCount } }')
    assert error["extensions"]["field"] == "after"
    error = await api.error("{ projects(first: 1, last: 1) { totalCount } }")
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unexpected_errors_are_masked_and_logged(sqlite_api: Api, monkeypatch, caplog):
    async def explode(*args, **kwargs):
        raise RuntimeError("secret database detail")

    monkeypatch.setattr(sqlite_api.container.services.projects, "list", explode)
    with caplog.at_level(logging.ERROR, logger="rdflow.errors"):
        error = await sqlite_api.error("{ projects { totalCount } }")
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["errorId"] == "ERR_500_001"
    assert "secret" not in error["message"]
    incident = error["extensions"]["incident"]
    assert incident in error["message"]
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert logged and "secret database detail" in str(logged[0].exc_info[1])
