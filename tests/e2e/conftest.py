"""An API per test over real HTTP, on a fresh SQLite file or (marked) a fresh PostgreSQL database."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.enums import Role
from domain.ports import Clock
from persistence.migrations import upgrade
from server.app import create_app
from server.container import build_container
from server.settings import Settings
from tests.api import Api


def sqlite_settings(data_dir: Path, name: str = "rdflow", **fields: Any) -> Settings:
    """Settings for an embedded API on `<data_dir>/<name>.db`, with `fields` overridden."""
    return Settings(database_url=f"sqlite:///{data_dir}/{name}.db", data_dir=data_dir, **fields)


@contextlib.asynccontextmanager
async def running_api(settings: Settings, *, first: bool = True, clock: Clock | None = None) -> AsyncIterator[Api]:
    """An API over `settings`, closed on exit; `first=False` for another replica of a database already set up
    (no migration, no admin user); `clock` replaces the system clock."""
    if first:
        upgrade(settings.effective_database_url)
    container = build_container(settings, clock)
    app = create_app(settings, container)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rdflow.test")
    try:
        api = Api(client=client, container=container, app=app)
        if first:
            await api.user("admin", Role.SUPER_ADMIN)
        yield api
    finally:
        await client.aclose()
        await container.aclose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def api(request, tmp_path):
    settings = (
        sqlite_settings(tmp_path)
        if request.param == "sqlite"
        else Settings(database_url=request.getfixturevalue("fresh_postgres_url"), data_dir=tmp_path)
    )
    async with running_api(settings) as api:
        yield api


@pytest.fixture
async def sqlite_api(tmp_path):
    async with running_api(sqlite_settings(tmp_path)) as api:
        yield api
