"""Alembic environment: one migration history run through an async engine on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from sqlalchemy.engine import Connection, make_url

from alembic import context
from persistence.migrations import DEFAULT_URL, context_options, migration_engine

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL") or DEFAULT_URL


def run_offline() -> None:
    """Emit SQL for `alembic upgrade --sql` without connecting."""
    context.configure(url=url, literal_binds=True, **context_options(make_url(url).get_backend_name()))
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, **context_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = migration_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    asyncio.run(run_online())
