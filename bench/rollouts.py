"""Benchmark: what a rollout costs rdflow itself, from request to SUCCEEDED, per Cluster adapter.

    .venv/bin/python -m bench.rollouts [--deployments 20] [--replicas 3]

Embedded API (SQLite, in-process jobs). The simulated cluster makes every replica available at once
(RDFLOW_SIMULATED_STEP_S=0); the kubernetes client talks to tests/fakes/k8s_server.py, which makes them
available after `--replicas` status reads. Polls are 10 ms apart, so what is measured is rdflow's own work per
rollout: the job, the apply, the status reads, each log line committed and published, the final status.
Deployments run one after another (each waits for the last), through the domain services, not over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from domain.enums import DeploymentStatus, Environment, Role
from domain.model import Project, User
from domain.permissions import Viewer
from persistence.migrations import upgrade
from server.container import build_container
from tests.e2e.conftest import sqlite_settings
from tests.fakes.k8s_server import FakeKubernetes


async def run(label: str, data_dir: Path, count: int, **fields: Any) -> None:
    settings = sqlite_settings(data_dir, rollout_poll_s=0.01, **fields)
    upgrade(settings.effective_database_url)
    container = build_container(settings)
    try:
        deps = container.services.deps
        now = deps.clock.now()
        user = User(username="bench", email="bench@x.test", password_hash="!", role=Role.SUPER_ADMIN)
        user.created_at = user.updated_at = now
        project = Project(name="Shop", created_by=user.id, created_at=now, updated_at=now)
        async with deps.uow() as uow:
            uow.users.add(user)
            uow.projects.add(project)
            await uow.commit()
        viewer = Viewer(user_id=user.id, role=Role.SUPER_ADMIN)
        deployments = container.services.deployments
        seconds, lines = [], []
        for n in range(count):
            started = time.perf_counter()
            requested = await deployments.request_deploy(viewer, project.id, Environment.STAGING, f"1.0.{n}")
            done = await asyncio.wait_for(deployments.until_settled(viewer, requested.id), 60)
            seconds.append(time.perf_counter() - started)
            assert done.status is DeploymentStatus.SUCCEEDED, done.logs
            lines.append(len(done.logs.splitlines()))
        ms = sorted(s * 1000 for s in seconds)
        print(
            f"{label:<28} {count} rollouts: median {statistics.median(ms):7.1f} ms, "
            f"p90 {ms[int(0.9 * (len(ms) - 1))]:7.1f} ms, max {ms[-1]:7.1f} ms, "
            f"{statistics.mean(lines):.0f} log lines each"
        )
    finally:
        if hasattr(container.queue, "join"):
            await container.queue.join()  # the last job records its own success after the deployment's
        await container.aclose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deployments", type=int, default=20)
    parser.add_argument("--replicas", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "sim").mkdir()
        await run("simulated", root / "sim", args.deployments, simulated_step_s=0.0)
        with FakeKubernetes(ready_after_polls=args.replicas) as k8s:
            (root / "k8s").mkdir()
            kubeconfig = k8s.kubeconfig(root / "kubeconfig")
            await run(
                "kubernetes client + fake API",
                root / "k8s",
                args.deployments,
                cluster="kubernetes",
                kubeconfig=str(kubeconfig),
            )


if __name__ == "__main__":
    asyncio.run(main())
