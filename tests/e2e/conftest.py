"""An API per test over real HTTP, on a fresh SQLite file or (marked) a fresh PostgreSQL database."""
from __future__ import annotations

import httpx
import pytest

from domain.enums import Role
from persistence.migrations import upgrade
from server.app import create_app
from server.container import build_container
from server.settings import Settings
from tests.api import Api


async def make_api(settings: Settings, *, first: bool = True) -> tuple[Api, object]:
    """An API over `settings`; `first=False` for another replica of a database already set up."""
    if first:
        upgrade(settings.effective_database_url)
    container = build_container(settings)
    app = create_app(settings, container)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rdflow.test")
    api = Api(client=client, container=container)
    if first:
        await api.user("admin", Role.SUPER_ADMIN)
    return api, container


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/rdflow.db"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    api, container = await make_api(Settings(database_url=url, data_dir=tmp_path))
    yield api
    await api.client.aclose()
    await container.aclose()


@pytest.fixture
async def sqlite_api(tmp_path):
    api, container = await make_api(Settings(database_url=f"sqlite:///{tmp_path}/rdflow.db", data_dir=tmp_path))
    yield api
    await api.client.aclose()
    await container.aclose()
