"""A fuzz target per backend: a real server process on SQLite or a throw-away PostgreSQL database, seeded."""

from __future__ import annotations

import graphql
import httpx
import pytest

from tests import services
from tests.fuzz.fingerprint import DatabaseReader
from tests.fuzz.server import ServerProcess, seed
from tests.fuzz.strategies import operations
from tests.fuzz.target import Target
from tests.jobstack import ROOT


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    database_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{data_dir}/rdflow.db"
    else:
        url, database_name = services.create_database()
    server = ServerProcess(url, data_dir, data_dir / "server.log")
    db = None
    try:
        server.start()
        db = DatabaseReader(url)
        seeded = seed(server, db)
        seeding_errors = server.new_error_lines()
        assert not seeding_errors, f"the server logged errors while being seeded:\n{seeding_errors}"
        schema = graphql.build_schema((ROOT / "schema.graphql").read_text())
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield Target(server, seeded, db, client, operations(schema, seeded.ids))
    finally:
        server.stop()
        if db is not None:
            db.close()
        if database_name is not None:
            services.drop_database(database_name)
    errors = server.new_error_lines()
    assert not errors, f"the server logged errors (log: {server.log_path}):\n{errors}"
