"""Project search: the search_index table with FTS5 (SQLite) or tsvector + GIN (PostgreSQL), its triggers on
requirements, PRDs, tasks and artifacts, and the backfill of their existing rows.

Revision ID: 0060
Revises: 0003
Create Date: 2026-11-29 09:00:00.000000
"""

from __future__ import annotations

from alembic import op
from persistence import search_schema as search

revision = "0060"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    search.run(op.execute, search.base_statements(dialect))
    for spec in search.INITIAL_KINDS:
        search.run(op.execute, search.kind_statements(spec, dialect))


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for spec in reversed(search.INITIAL_KINDS):
        search.run(op.execute, search.drop_kind_statements(spec, dialect))
    search.run(op.execute, search.drop_base_statements(dialect))
