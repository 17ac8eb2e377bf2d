"""The embedded mode's cluster: rollouts walk Kubernetes' states over time, one replica per step, kept in a SQLite
file that every worker process of the server shares (or in memory, for tests).

A revision (the deployment's version) can ask for a failure, so the failure paths can be tried without a cluster:
- containing `crash`: the first new pod crash-loops; the rollout fails with `CrashLoopBackOff`.
- containing `stuck`: the new pods never become ready and nothing reports a failure; the rollout times out.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from domain.environments import DeploySpec
from domain.ports import ClusterRefused, RolloutState
from integrations import manifests

CRASH_MARK = "crash"
STUCK_MARK = "stuck"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS namespaces (name TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS objects (namespace TEXT, kind TEXT, name TEXT, PRIMARY KEY (namespace, kind, name));
CREATE TABLE IF NOT EXISTS workloads (
    namespace TEXT, name TEXT, deployment_id TEXT, revision TEXT, replicas INTEGER, applied_at REAL,
    PRIMARY KEY (namespace, name)
);
"""


@dataclass(frozen=True)
class _Workload:
    name: str
    deployment_id: uuid.UUID
    revision: str
    desired: int
    applied_at: float

    @property
    def mode(self) -> str:
        revision = self.revision.lower()
        return CRASH_MARK if CRASH_MARK in revision else STUCK_MARK if STUCK_MARK in revision else "ok"

    def pod(self, index: int) -> str:
        return f"{self.name}-{self.deployment_id.hex[:10]}-{index}"


class SimulatedCluster:
    """Every `step_s` seconds after an apply one more new replica becomes available (maxSurge 1, maxUnavailable 0).

    `state`: the SQLite file the cluster lives in, so that a rollout applied by one process is watched, rolled back
    or superseded by another (and outlives a restart); None keeps it in this object. `monotonic` gives seconds that
    every process sharing the file agrees on (the wall clock by default). The file's statements take well under a
    millisecond, so they run on the event loop's thread."""

    def __init__(self, step_s: float = 1.0, monotonic: Callable[[], float] = time.time, state: Path | None = None):
        self.step_s = step_s
        self.monotonic = monotonic
        if state is not None:
            state.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(state or ":memory:", timeout=10, isolation_level=None, check_same_thread=False)
        self._db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def apply(self, spec: DeploySpec) -> list[str]:
        namespace = spec.environment.namespace
        lines = []
        with self._write() as db:
            if db.execute("INSERT OR IGNORE INTO namespaces VALUES (?)", (namespace,)).rowcount:
                lines.append(f"Namespace/{namespace} created")
            for obj in manifests.render(spec):
                kind, name = obj["kind"], obj["metadata"]["name"]
                created = db.execute("INSERT OR IGNORE INTO objects VALUES (?, ?, ?)", (namespace, kind, name)).rowcount
                lines.append(f"{kind}/{name} {'created' if created else 'configured'}")
            db.execute(
                "INSERT OR REPLACE INTO workloads VALUES (?, ?, ?, ?, ?, ?)",
                (
                    namespace,
                    spec.name,
                    str(spec.deployment_id),
                    spec.revision,
                    spec.environment.replicas,
                    self.monotonic(),
                ),
            )
        return lines

    def _find(self, namespace: str, name: str) -> _Workload | None:
        row = self._db.execute(
            "SELECT deployment_id, revision, replicas, applied_at FROM workloads WHERE namespace = ? AND name = ?",
            (namespace, name),
        ).fetchone()
        return None if row is None else _Workload(name, uuid.UUID(row[0]), row[1], row[2], row[3])

    def _workload(self, namespace: str, name: str) -> _Workload:
        workload = self._find(namespace, name)
        if workload is None:
            raise ClusterRefused(f"Deployment {namespace}/{name} not found")
        return workload

    def _steps(self, workload: _Workload) -> int:
        return max(0, int((self.monotonic() - workload.applied_at) / self.step_s)) if self.step_s > 0 else 1 << 30

    async def rollout(self, namespace: str, name: str) -> RolloutState:
        workload = self._workload(namespace, name)
        steps, desired, running = self._steps(workload), workload.desired, str(workload.deployment_id)
        if workload.mode == CRASH_MARK:
            failure = (
                f"CrashLoopBackOff: pod {workload.pod(0)} container app keeps exiting (exit code 1)" if steps else None
            )
            return RolloutState(desired, 1, 0, failure=failure, deployment_id=running)
        if workload.mode == STUCK_MARK:
            return RolloutState(desired, 1, 0, deployment_id=running)
        available = min(desired, steps)
        return RolloutState(desired, min(desired, available + 1), available, deployment_id=running)

    async def pod_logs(self, namespace: str, name: str, *, tail_lines: int = 20) -> list[str]:
        workload = self._workload(namespace, name)
        revision = workload.revision
        if workload.mode == CRASH_MARK:
            pod = workload.pod(0)
            return [f"{pod}: starting revision {revision}", f"{pod}: RuntimeError: simulated crash", f"{pod}: exit 1"]
        if workload.mode == STUCK_MARK:
            pod = workload.pod(0)
            return [f"{pod}: starting revision {revision}", f"{pod}: GET /ready 503"][-tail_lines:]
        lines = []
        for index in range(min(workload.desired, self._steps(workload))):
            pod = workload.pod(index)
            pod_lines = [f"{pod}: starting revision {revision}", f"{pod}: listening on :{manifests.APP_PORT}"]
            lines += [*pod_lines, f"{pod}: GET /ready 200"][-tail_lines:]
        return lines

    async def live_revision(self, namespace: str, name: str) -> str | None:
        workload = self._find(namespace, name)
        return workload.revision if workload is not None else None

    async def aclose(self) -> None:
        self._db.close()
