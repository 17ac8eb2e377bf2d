"""The one migration history builds the models' schema on SQLite and PostgreSQL, both ways, and drift is caught."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from persistence.migrations import (
    SCRIPT_LOCATION,
    context_options,
    downgrade,
    migration_engine,
    pending_diff,
    upgrade,
)
from persistence.search_schema import KINDS, is_search_object, kind_trigger_names
from persistence.tables import metadata

REPO = SCRIPT_LOCATION.parent
BRIEF_INDEXES = {
    "ix_tasks_status_assigned_to": ("tasks", ["status", "assigned_to"]),
    "ix_requirements_project_status": ("requirements", ["project_id", "status"]),
    "ix_code_artifacts_task_version": ("code_artifacts", ["task_id", "version"]),
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/rdflow.db"
    return request.getfixturevalue("fresh_postgres_url")


def with_connection(url: str, work):
    """Run work(connection) in one committed transaction on the database behind url; return its result."""

    async def go():
        engine = migration_engine(url)
        try:
            async with engine.begin() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def execute(url: str, *statements: str) -> None:
    with_connection(url, lambda connection: [connection.execute(sa.text(s)) for s in statements])


def scalar(url: str, query: str):
    return with_connection(url, lambda connection: connection.execute(sa.text(query)).scalar())


def schema_of(connection: Connection) -> dict:
    inspector = sa.inspect(connection)
    # The search index is raw DDL outside the models (persistence/search_schema.py); checked by search_triggers.
    tables = {t for t in inspector.get_table_names() if not is_search_object(t)}
    return {
        "tables": tables,
        # PostgreSQL also lists the index behind each unique constraint; those are constraints, not indexes.
        "indexes": {
            t: {i["name"]: i["column_names"] for i in inspector.get_indexes(t) if "duplicates_constraint" not in i}
            for t in tables
        },
        "foreign_keys": {t: inspector.get_foreign_keys(t) for t in tables},
        "version": connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all(),
    }


def search_triggers(connection: Connection) -> set[str]:
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if connection.dialect.name == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    )
    return {name for name in connection.execute(sa.text(query)).scalars() if is_search_object(name)}


def assert_at_head(url: str) -> None:
    schema = with_connection(url, schema_of)
    triggers = with_connection(url, search_triggers)
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    for spec in KINDS:  # a SQLite table rebuild drops its triggers: search would silently go stale
        assert kind_trigger_names(spec, dialect) <= triggers, spec.kind
    assert schema["tables"] == set(metadata.tables) | {"alembic_version"}
    assert schema["version"] == [ScriptDirectory(str(SCRIPT_LOCATION)).get_current_head()]
    for name, table in metadata.tables.items():
        assert set(schema["indexes"][name]) == {index.name for index in table.indexes}, name
        reflected_fks = schema["foreign_keys"][name]
        assert len(reflected_fks) == len(table.foreign_key_constraints), name
        for fk in reflected_fks:
            assert fk["options"].get("deferrable") is True, (name, fk["name"])
            assert fk["options"].get("initially") == "DEFERRED", (name, fk["name"])
    for index, (table, columns) in BRIEF_INDEXES.items():
        assert schema["indexes"][table][index] == columns
    assert pending_diff(url) == []


def test_upgrade_downgrade_upgrade_round_trip(database_url):
    upgrade(database_url)
    assert_at_head(database_url)

    downgrade(database_url, "base")
    assert with_connection(database_url, lambda c: set(sa.inspect(c).get_table_names())) <= {"alembic_version"}
    assert with_connection(database_url, search_triggers) == set()

    upgrade(database_url, "head")
    assert_at_head(database_url)


def test_pending_diff_reports_a_database_that_drifted_from_the_models(database_url):
    upgrade(database_url)
    execute(database_url, "DROP INDEX ix_tasks_status_assigned_to", "ALTER TABLE tasks ADD COLUMN stray INTEGER")

    diff = pending_diff(database_url)

    by_kind = {change[0]: change for change in diff}
    assert sorted(by_kind) == ["add_index", "remove_column"] and len(diff) == 2, diff
    assert by_kind["add_index"][1].name == "ix_tasks_status_assigned_to"
    assert (by_kind["remove_column"][2], by_kind["remove_column"][3].name) == ("tasks", "stray")


@pytest.mark.postgres
def test_pending_diff_reports_a_foreign_key_checked_too_early(fresh_postgres_url):
    upgrade(fresh_postgres_url)
    execute(fresh_postgres_url, "ALTER TABLE tasks ALTER CONSTRAINT fk_tasks_parent_id_tasks NOT DEFERRABLE")

    diff = pending_diff(fresh_postgres_url)

    assert sorted((d[0], d[1].name) for d in diff) == [
        ("add_fk", "fk_tasks_parent_id_tasks"),
        ("remove_fk", "fk_tasks_parent_id_tasks"),
    ]


def test_upgrade_creates_the_sqlite_directory(tmp_path):
    url = f"sqlite:///{tmp_path}/not/yet/there/rdflow.db"

    upgrade(url)

    assert (tmp_path / "not/yet/there/rdflow.db").is_file()
    assert pending_diff(url) == []


async def test_migrations_can_be_called_from_async_code(tmp_path):
    url = f"sqlite:///{tmp_path}/rdflow.db"

    upgrade(url)

    assert pending_diff(url) == []


def test_alembic_cli_emits_postgresql_ddl_offline(tmp_path):
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/offline"}
    alembic = Path(sys.executable).with_name("alembic")
    result = subprocess.run(
        [str(alembic), "-c", str(REPO / "alembic.ini"), "upgrade", "head", "--sql"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "CREATE TABLE tasks" in result.stdout
    assert "JSONB" in result.stdout
    assert "DEFERRABLE INITIALLY DEFERRED" in result.stdout
    assert "CREATE INDEX ix_tasks_status_assigned_to ON tasks (status, assigned_to)" in result.stdout


def test_sqlite_table_rebuild_keeps_the_rows_that_reference_it(tmp_path):
    url = f"sqlite:///{tmp_path}/rdflow.db"
    upgrade(url)
    now = "2026-01-01 00:00:00"
    execute(
        url,
        "INSERT INTO projects (id, name, status, tech_stack, created_at, updated_at) "
        f"VALUES ('{'1' * 32}', 'p', 'ACTIVE', '[]', '{now}', '{now}')",
        "INSERT INTO requirements (id, project_id, title, content, priority, status, meta, created_at, updated_at) "
        f"VALUES ('{'2' * 32}', '{'1' * 32}', 't', 'c', 'LOW', 'DRAFT', '{{}}', '{now}', '{now}')",
    )

    def rebuild_projects(connection):
        # A batch migration recreates the table and drops the old one; with foreign keys enforced that drop
        # would cascade into requirements.
        context = MigrationContext.configure(connection, opts=context_options("sqlite"))
        with Operations(context).batch_alter_table("projects", recreate="always") as batch:
            batch.add_column(sa.Column("budget", sa.Integer()))

    with_connection(url, rebuild_projects)

    assert scalar(url, "SELECT count(*) FROM requirements") == 1
