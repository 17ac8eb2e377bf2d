"""Worker configuration: extra job-kind modules, the arq settings derived from Settings, and refused settings."""

from __future__ import annotations

import pytest
from arq.worker import create_worker

from jobs.plugins import load_handler_modules
from server.settings import Settings
from server.worker import TIMEOUT_GRACE_S, worker_settings
from tests import jobkinds


def test_handler_modules_are_merged():
    assert load_handler_modules(["tests.jobkinds"], known={"ai.prd"}) == jobkinds.HANDLERS


@pytest.mark.parametrize(
    ("names", "known", "message"),
    [
        (["tests.no_such_kinds"], (), "cannot import 'tests.no_such_kinds'"),
        (["json"], (), "module 'json' has no HANDLERS dict"),
        (["tests.jobkinds"], {"test.count"}, "module 'tests.jobkinds' redefines job kind 'test.count'"),
        (["tests.jobkinds", "tests.jobkinds"], (), "redefines job kind 'test.sleep'"),
    ],
)
def test_bad_handler_modules_are_refused_by_name(names, known, message):
    with pytest.raises(ValueError, match=message):
        load_handler_modules(names, known)


def test_job_modules_setting_is_a_comma_separated_list():
    assert Settings(job_modules=" tests.jobkinds, other.kinds ,").job_module_names == ["tests.jobkinds", "other.kinds"]


def test_staleness_must_leave_room_for_heartbeats():
    with pytest.raises(ValueError, match="RDFLOW_JOB_STALE_AFTER_S must exceed twice RDFLOW_JOB_HEARTBEAT_S"):
        Settings(job_heartbeat_s=5, job_stale_after_s=10)


def test_the_worker_needs_redis():
    with pytest.raises(ValueError, match="rdflow worker needs REDIS_URL"):
        worker_settings(Settings(redis_url=None))


async def test_arq_releases_a_dead_workers_job_soon_after_the_job_timeout():
    settings = Settings(
        redis_url="redis://127.0.0.1:6379/3",
        redis_prefix="p",
        job_timeout_s=7,
        job_concurrency=3,
        job_reconcile_every_s=20,
    )
    worker = create_worker(worker_settings(settings), handle_signals=False)

    assert worker.queue_name == "p:jobs" and worker.max_jobs == 3 and worker.allow_abort_jobs
    assert worker.redis_settings.database == 3
    assert worker.in_progress_timeout_s == 7 + TIMEOUT_GRACE_S + 10
    reconcile = worker.cron_jobs[0]
    assert (reconcile.name, reconcile.second) == ("reconcile@p:jobs", {0, 20, 40})
