"""One contract for both Cluster adapters: the simulated cluster, and the kubernetes client against a fake API."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import pytest

from domain.enums import Environment
from domain.environments import DeploySpec, EnvironmentConfig
from domain.ports import Cluster, ClusterRefused, RolloutState
from integrations.cluster_kubernetes import KubernetesCluster, api_client
from integrations.cluster_simulated import SimulatedCluster
from tests.fakes.k8s_server import FakeKubernetes

MAX_POLLS = 20


class ManualMonotonic:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    cluster: Cluster
    tick: Callable[[], None]  # time passes between two polls
    another: Callable[[], Cluster] | None  # the same cluster as another worker process sees it (None: in memory)


@pytest.fixture(params=["simulated", "simulated-in-a-file", "kubernetes"])
def harness(request, tmp_path) -> Iterator[Harness]:
    if request.param.startswith("simulated"):
        clock = ManualMonotonic()
        state = tmp_path / "cluster.db" if request.param == "simulated-in-a-file" else None

        def tick() -> None:
            clock.now += 1.0

        def another() -> Cluster:
            return SimulatedCluster(step_s=1.0, monotonic=clock, state=state)

        yield Harness(SimulatedCluster(step_s=1.0, monotonic=clock, state=state), tick, another if state else None)
        return
    with FakeKubernetes(ready_after_polls=3) as k8s:
        kubeconfig = str(k8s.kubeconfig(tmp_path / "kubeconfig"))
        clients = [api_client(kubeconfig=kubeconfig, context="fake")]

        def another() -> Cluster:
            clients.append(api_client(kubeconfig=kubeconfig, context="fake"))
            return KubernetesCluster(clients[-1])

        yield Harness(KubernetesCluster(clients[0]), lambda: None, another)
        for client in clients:
            client.close()


def spec(revision: str = "1.0.0", replicas: int = 3, namespace: str = "rdflow-staging") -> DeploySpec:
    return DeploySpec(
        deployment_id=uuid.uuid4(),
        name="shop",
        revision=revision,
        image=f"registry.test/shop:{revision}",
        environment=EnvironmentConfig(
            project_id=uuid.uuid4(),
            environment=Environment.STAGING,
            namespace=namespace,
            replicas=replicas,
            variables={"LOG_LEVEL": "info"},
            secrets={"API_TOKEN": "s3cret"},
        ),
    )


async def watch(h: Harness, name: str = "shop", namespace: str = "rdflow-staging") -> list[RolloutState]:
    """Every state seen until the rollout completes or fails (at most MAX_POLLS)."""
    states = []
    for _ in range(MAX_POLLS):
        state = await h.cluster.rollout(namespace, name)
        states.append(state)
        if state.complete or state.failure:
            break
        h.tick()
    return states


async def test_a_rollout_walks_replica_by_replica_to_complete(harness):
    applied = spec()
    lines = await harness.cluster.apply(applied)
    assert [line for line in lines if "created" in line][-4:] == [
        "Secret/shop-env created",
        "Deployment/shop created",
        "Service/shop created",
        "HorizontalPodAutoscaler/shop-hpa created",
    ]
    states = await watch(harness)
    assert states[-1] == RolloutState(desired=3, updated=3, available=3, deployment_id=str(applied.deployment_id))
    assert not states[0].complete, "a rollout takes time"
    available = [s.available for s in states]
    assert available == sorted(available) and len(set(available)) > 1, available
    assert all(s.failure is None for s in states)
    logs = await harness.cluster.pod_logs("rdflow-staging", "shop")
    assert logs and all(line.startswith("shop-") for line in logs)
    assert any("1.0.0" in line for line in logs)
    assert await harness.cluster.live_revision("rdflow-staging", "shop") == "1.0.0"


async def test_a_new_revision_updates_the_objects_and_a_rollback_brings_the_old_one_back(harness):
    first = spec("1.0.0")
    await harness.cluster.apply(first)
    assert (await watch(harness))[-1].complete
    lines = await harness.cluster.apply(spec("1.1.0"))
    assert "Deployment/shop configured" in lines and "Secret/shop-env configured" in lines
    assert (await watch(harness))[-1].complete
    assert await harness.cluster.live_revision("rdflow-staging", "shop") == "1.1.0"

    await harness.cluster.apply(replace(first, deployment_id=uuid.uuid4()))
    assert (await watch(harness))[-1].complete
    assert await harness.cluster.live_revision("rdflow-staging", "shop") == "1.0.0"


async def test_a_crashing_revision_fails_with_the_reason(harness):
    await harness.cluster.apply(spec("2.0.0-crash"))
    last = (await watch(harness))[-1]
    assert not last.complete
    assert last.failure is not None and last.failure.startswith("CrashLoopBackOff"), last
    assert await harness.cluster.pod_logs("rdflow-staging", "shop")


async def test_a_stuck_revision_never_completes_and_names_no_failure(harness):
    await harness.cluster.apply(spec("2.0.0-stuck", replicas=2))
    states = await watch(harness)
    assert len(states) == MAX_POLLS
    assert all(not s.complete and s.failure is None and s.available == 0 for s in states)


async def test_environments_live_in_their_own_namespaces(harness):
    await harness.cluster.apply(spec("1.0.0", replicas=1, namespace="rdflow-dev"))
    await harness.cluster.apply(spec("2.0.0", replicas=1, namespace="rdflow-prod"))
    assert await harness.cluster.live_revision("rdflow-dev", "shop") == "1.0.0"
    assert await harness.cluster.live_revision("rdflow-prod", "shop") == "2.0.0"
    assert await harness.cluster.live_revision("rdflow-staging", "shop") is None


async def test_an_unknown_deployment_is_refused(harness):
    with pytest.raises(ClusterRefused, match="shop"):
        await harness.cluster.rollout("rdflow-staging", "shop")


async def test_another_process_watches_supersedes_and_sees_what_one_applied(harness):
    if harness.another is None:
        pytest.skip("a cluster in memory is one process's own")
    first = spec("1.0.0")
    await harness.cluster.apply(first)
    other = harness.another()
    states = await watch(replace(harness, cluster=other))
    assert states[-1].complete and states[-1].deployment_id == str(first.deployment_id)
    second = spec("1.1.0")
    assert "Deployment/shop configured" in await other.apply(second)  # it knows what the first one created
    assert await harness.cluster.live_revision("rdflow-staging", "shop") == "1.1.0"
    assert (await harness.cluster.rollout("rdflow-staging", "shop")).deployment_id == str(second.deployment_id)
