"""The test helpers create and drop databases only where tests are told to, never on the app's DATABASE_URL."""

from __future__ import annotations

from tests import services

LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


def test_create_and_drop_never_use_the_apps_database_url():
    assert services.admin_url({"DATABASE_URL": "postgresql://app@db.internal/production"}) == LOCAL


def test_test_database_url_chooses_the_server():
    environ = {"TEST_DATABASE_URL": "postgresql://ci@pg:5432/postgres", "DATABASE_URL": "postgresql://app@db/prod"}
    assert services.admin_url(environ) == "postgresql://ci@pg:5432/postgres"


def test_without_either_the_local_server_is_used():
    assert services.admin_url({}) == LOCAL
