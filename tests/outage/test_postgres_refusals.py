"""PostgreSQL refusing work it cannot do now (a database turned read-only, as a standby after a failover is; no
connection slot left) is an outage: 503 with Retry-After, never a 500."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from persistence.engine import create_engine
from server.outages import unavailable
from server.settings import Settings
from tests import services
from tests.e2e.conftest import running_api
from tests.outage.test_outage_answers import PROJECTS, assert_unavailable

pytestmark = pytest.mark.postgres


@pytest.fixture
async def read_only_postgres_api(tmp_path, fresh_postgres_url):
    """An API on a database whose sessions are read-only from now on: reads work, every write is refused."""
    settings = Settings(database_url=fresh_postgres_url, data_dir=tmp_path)
    async with running_api(settings) as writable:
        token = writable.tokens["admin"]
    name = make_url(fresh_postgres_url).database
    services.admin_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    async with running_api(settings, first=False) as api:
        api.tokens["admin"] = token
        yield api


async def test_a_read_only_postgres_answers_503_to_a_write(read_only_postgres_api):
    assert (await read_only_postgres_api.gql(PROJECTS))["projects"]["totalCount"] == 0
    error = assert_unavailable(
        await read_only_postgres_api.post('mutation { createProject(input: {name: "P"}) { id } }')
    )
    assert error["path"] == ["createProject"] and "database" in error["message"]


async def test_no_connection_slot_left_is_an_outage(fresh_postgres_url):
    # Superusers pass connection limits: a role of its own, allowed no connection at all.
    role = f"rdflow_t_{uuid.uuid4().hex[:12]}"
    services.admin_sql(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 0')
    engine = create_engine(make_url(fresh_postgres_url).set(username=role, password=None).render_as_string(False))
    try:
        with pytest.raises(Exception) as refused:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        assert "too many connections" in str(refused.value)
        outage = unavailable(refused.value)
        assert outage is not None and "database" in outage.message
    finally:
        await engine.dispose()
        services.admin_sql(f'DROP ROLE "{role}"')
