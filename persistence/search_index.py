"""The search index adapter for an engine's database (FTS5 on SQLite, tsvector on PostgreSQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ports import SearchIndex
from persistence.search_postgres import PostgresSearchIndex
from persistence.search_sqlite import SqliteSearchIndex


def search_index_for(engine: AsyncEngine) -> SearchIndex:
    if engine.dialect.name == "sqlite":
        return SqliteSearchIndex(engine)
    return PostgresSearchIndex(engine)
