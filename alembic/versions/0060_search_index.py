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
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    search.install_base(op.execute, dialect)
    for spec in search.INITIAL_KINDS:
        search.install_kind(op.execute, dialect, spec)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for spec in reversed(search.INITIAL_KINDS):
        search.uninstall_kind(op.execute, dialect, spec)
    search.uninstall_base(op.execute, dialect)
