"""A job that meets a dependency outage is retried with backoff, never failed on its first attempt."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from domain.enums import JobStatus
from server.container import build_container
from server.settings import Settings
from tests.jobkinds import traced
from tests.jobstack import JobStack, job_settings, open_stack
from tests.live import LiveServer, free_port

S3_BUSY = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


def _busy(_request) -> Response:
    return Response(S3_BUSY, status_code=503, media_type="application/xml")


@pytest.fixture
async def stack(tmp_path: Path):
    fields = job_settings(f"sqlite:///{tmp_path}/jobs.db", tmp_path, job_modules="tests.outage.jobkinds")
    stack = await open_stack(fields, tmp_path / "traces")
    yield stack
    await stack.aclose()


async def assert_retried_then_given_up(stack: JobStack, kind: str, payload: dict, reason: str) -> None:
    log = stack.trace_path()
    job = await stack.request(kind, {**payload, "log": str(log)}, max_attempts=2)
    done = await stack.finished(job.id)
    assert (done.status, done.attempts) == (JobStatus.FAILED, 2), done
    assert reason in done.error and done.error.endswith("(gave up after 2 attempts)"), done.error
    assert traced(log) == ["ran attempt 1", "ran attempt 2"]


async def test_s3_refusing_connections_is_retried(stack: JobStack):
    endpoint = f"http://127.0.0.1:{free_port()}"
    await assert_retried_then_given_up(stack, "outage.store_in_s3", {"endpoint": endpoint}, "failed to check")


async def test_s3_answering_503_service_unavailable_is_retried(stack: JobStack):
    async with LiveServer(Starlette(routes=[Route("/{path:path}", _busy, methods=["GET", "HEAD", "PUT"])])) as s3:
        endpoint = f"http://127.0.0.1:{s3.port}"
        await assert_retried_then_given_up(stack, "outage.store_in_s3", {"endpoint": endpoint}, "failed to check")


async def test_a_client_library_connection_error_is_retried(stack: JobStack):
    url = f"redis://127.0.0.1:{free_port()}/0"
    await assert_retried_then_given_up(stack, "outage.ping_redis", {"url": url}, "Redis is unavailable")


async def test_a_job_whose_database_refuses_writes_is_delivered_again_not_lost(stack: JobStack, tmp_path: Path):
    job = await stack.request("outage.ping_redis", {"url": "redis://127.0.0.1:1/0"})
    read_only = Settings(
        **job_settings(
            f"sqlite:///file:{tmp_path}/jobs.db?mode=ro&uri=true", tmp_path, job_modules="tests.outage.jobkinds"
        )
    )
    container = build_container(read_only)
    try:
        outcome = await container.executor.run_with_deadline(job.id, 5)
    finally:
        await container.aclose()
    # Not an exception out of the queue's task (the job would wait for the reconciler): a delivery after a backoff.
    assert outcome.retry_in == read_only.job_backoff_base_s
