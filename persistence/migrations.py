"""Alembic migrations as plain synchronous calls: upgrade, downgrade, and the models-versus-database diff."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from alembic import command
from persistence.engine import async_url
from persistence.search_schema import is_search_object
from persistence.tables import Json, UtcDateTime, metadata

# Inside the package, so an installed wheel has its migrations: in a checkout persistence/alembic links to alembic/.
SCRIPT_LOCATION = Path(__file__).resolve().parent / "alembic"
DEFAULT_URL = "sqlite:///./var/rdflow.db"

T = TypeVar("T")


def context_options(backend: str) -> dict[str, Any]:
    """Options for alembic's migration context, shared by env.py and pending_diff so both compare alike."""
    return {
        "target_metadata": metadata,
        "compare_type": True,
        "render_as_batch": backend == "sqlite",
        "render_item": render_item,
        "include_name": include_name,
    }


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """The search index (persistence/search_schema.py) is made by raw DDL, outside the models: not drift."""
    return not is_search_object(name)


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Autogenerate renders the project's column types as plain SQLAlchemy, so migrations never import the models."""
    if type_ != "type":
        return False
    if isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if obj is Json:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')"
    return False


def migration_engine(url: str) -> AsyncEngine:
    """A pool-less async engine; SQLite connections keep foreign keys off, so batch table rebuilds cascade nothing."""
    return create_async_engine(async_url(url), poolclass=NullPool)


def upgrade(url: str, revision: str = "head") -> None:
    _outside_event_loop(command.upgrade, _config(url), revision)


def downgrade(url: str, revision: str) -> None:
    _outside_event_loop(command.downgrade, _config(url), revision)


def pending_diff(url: str) -> list:
    """Autogenerate's differences between persistence.tables.metadata and the database; empty means in sync."""
    return _outside_event_loop(asyncio.run, _diff(url))


async def _diff(url: str) -> list:
    engine = migration_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_compare)
    finally:
        await engine.dispose()


def _compare(connection: Connection) -> list:
    options = context_options(connection.dialect.name)
    return compare_metadata(MigrationContext.configure(connection, opts=options), options["target_metadata"])


def _config(url: str) -> Config:
    _ensure_sqlite_directory(url)
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # the config parser interpolates '%'
    return config


def _ensure_sqlite_directory(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _outside_event_loop(call: Callable[..., T], *args: Any) -> T:
    """env.py runs its own event loop, which cannot nest: from async code, run the call on a worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call(*args)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call, *args).result()
