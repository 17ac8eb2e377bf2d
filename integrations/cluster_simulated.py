"""The embedded mode's cluster: rollouts walk Kubernetes' states over time, one replica per step, in memory.

A revision (the deployment's version) can ask for a failure, so the failure paths can be tried without a cluster:
- containing `crash`: the first new pod crash-loops; the rollout fails with `CrashLoopBackOff`.
- containing `stuck`: the new pods never become ready and nothing reports a failure; the rollout times out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from domain.environments import DeploySpec
from domain.ports import ClusterRefused, RolloutState
from integrations import manifests

CRASH_MARK = "crash"
STUCK_MARK = "stuck"


@dataclass
class _Workload:
    spec: DeploySpec
    applied_at: float

    @property
    def desired(self) -> int:
        return self.spec.environment.replicas

    @property
    def mode(self) -> str:
        revision = self.spec.revision.lower()
        return CRASH_MARK if CRASH_MARK in revision else STUCK_MARK if STUCK_MARK in revision else "ok"

    def pod(self, index: int) -> str:
        return f"{self.spec.name}-{self.spec.deployment_id.hex[:10]}-{index}"


class SimulatedCluster:
    """Every `step_s` seconds after an apply one more new replica becomes available (maxSurge 1, maxUnavailable 0)."""

    def __init__(self, step_s: float = 1.0, monotonic: Callable[[], float] = time.monotonic):
        self.step_s = step_s
        self.monotonic = monotonic
        self._workloads: dict[tuple[str, str], _Workload] = {}
        self._objects: set[tuple[str, str, str]] = set()
        self._namespaces: set[str] = set()

    async def apply(self, spec: DeploySpec) -> list[str]:
        namespace = spec.environment.namespace
        lines = []
        if namespace not in self._namespaces:
            self._namespaces.add(namespace)
            lines.append(f"Namespace/{namespace} created")
        for obj in manifests.render(spec):
            key = (namespace, obj["kind"], obj["metadata"]["name"])
            lines.append(f"{obj['kind']}/{key[2]} {'configured' if key in self._objects else 'created'}")
            self._objects.add(key)
        self._workloads[(namespace, spec.name)] = _Workload(spec, self.monotonic())
        return lines

    def _workload(self, namespace: str, name: str) -> _Workload:
        workload = self._workloads.get((namespace, name))
        if workload is None:
            raise ClusterRefused(f"Deployment {namespace}/{name} not found")
        return workload

    def _steps(self, workload: _Workload) -> int:
        return int((self.monotonic() - workload.applied_at) / self.step_s) if self.step_s > 0 else 1 << 30

    async def rollout(self, namespace: str, name: str) -> RolloutState:
        workload = self._workload(namespace, name)
        steps, desired, running = self._steps(workload), workload.desired, str(workload.spec.deployment_id)
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
        revision = workload.spec.revision
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
        workload = self._workloads.get((namespace, name))
        return workload.spec.revision if workload is not None else None
