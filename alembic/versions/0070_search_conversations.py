"""Project search over conversations: the search index's node columns, triggers on conversations (their title) and
chat_messages (each message, reported as its conversation), and the backfill of both.

Revision ID: 0070
Revises: 0050
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

from alembic import op
from persistence import search_schema as search

revision = "0070"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    search.install_node_columns(op.execute, dialect)
    for spec in search.CONVERSATION_KINDS:
        search.install_kind(op.execute, dialect, spec)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for spec in reversed(search.CONVERSATION_KINDS):
        search.uninstall_kind(op.execute, dialect, spec)
    search.uninstall_node_columns(op.execute, dialect)
