"""`rdflow worker`'s own /metrics endpoint: the bearer token when one is set, and the job runs it counted."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from server.metrics import JobMetrics, serve_in_thread
from tests.live import free_port


def runs(text: str, kind: str, outcome: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "rdflow_job_duration_seconds_count" and s.labels == {"kind": kind, "outcome": outcome}:
                return s.value
    return 0.0


def test_the_worker_serves_its_job_metrics_behind_the_token():
    port = free_port()
    serve_in_thread(port, "127.0.0.1", "worker-token")
    url = f"http://127.0.0.1:{port}/metrics"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, headers={"authorization": "Bearer other"}).status_code == 401
    assert (
        httpx.get(f"http://127.0.0.1:{port}/other", headers={"authorization": "Bearer worker-token"}).status_code == 404
    )
    before = runs(httpx.get(url, headers={"authorization": "Bearer worker-token"}).text, "test.unit", "failed")
    JobMetrics().finished("test.unit", "failed", 0.25)
    after = httpx.get(url, headers={"authorization": "Bearer worker-token"})
    assert after.status_code == 200
    assert runs(after.text, "test.unit", "failed") == before + 1
