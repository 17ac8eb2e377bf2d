"""Shared fixtures: real PostgreSQL databases and Redis, found or refused per RDFLOW_REQUIRE_SERVICES."""

from __future__ import annotations

import uuid

import pytest

from tests import services


def pytest_pycollect_makeitem(collector, name, obj):
    """Only the tests' own classes are test classes: product classes named Test* (TestResult, TestType) that a test
    module imports are not collected, so the product needs no `__test__` flags."""
    if isinstance(obj, type) and not obj.__module__.startswith("tests."):
        return []
    return None


@pytest.fixture(scope="session")
def postgres_url():
    """URL of a fresh PostgreSQL database for this test session (dropped afterwards)."""
    url, name = services.create_database()
    yield url
    services.drop_database(name)


@pytest.fixture
def fresh_postgres_url():
    """URL of a fresh PostgreSQL database for one test."""
    url, name = services.create_database()
    yield url
    services.drop_database(name)


@pytest.fixture(scope="session")
def redis_url():
    return services.check_redis()


@pytest.fixture
def redis_prefix():
    """A unique key/channel prefix so tests sharing one Redis never see each other."""
    return f"rdflow-test-{uuid.uuid4().hex[:8]}"
