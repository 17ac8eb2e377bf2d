"""Deployments reach a cluster through the API: the simulated one (embedded default) and the real kubernetes
client against a local Kubernetes API (tests/fakes/k8s_server.py): rollouts that succeed, fail, time out, meet
API errors (403, 409, 500), and rollbacks; progress lines stream through deploymentUpdated."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from domain.enums import Role
from resolvers.ids import from_global_id, to_global_id
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_crud_api import CREATE_PROJECT
from tests.fakes.k8s_server import FakeKubernetes
from tests.live import LiveServer, TransportWs

DEPLOY = """mutation($input: CreateDeploymentInput!) { createDeployment(input: $input) { id status } }"""
DEPLOYMENT = """query($id: ID!) { deployment(id: $id) { id version status failureReason logs rollbackTo
    startedAt completedAt k8sNamespace } }"""
ENVIRONMENT = """mutation($input: UpdateEnvironmentInput!) { updateEnvironment(input: $input) { namespace } }"""
ROLLBACK = "mutation($id: ID!) { rollbackDeployment(id: $id) { id version status rollbackTo } }"
LOGS = """query($id: ID!, $o: Int!, $l: Int) {
    deploymentLogs(id: $id, offset: $o, limit: $l) { lines offset total complete } }"""
UPDATES = "subscription($id: ID!) { deploymentUpdated(id: $id) { status logs } }"
SETTLED = ("SUCCEEDED", "FAILED", "ROLLED_BACK")
FAST = {"simulated_step_s": 0.02, "rollout_poll_s": 0.01, "job_backoff_base_s": 0.05}


async def deploy(api: Api, project_id: str, version: str, environment: str = "DEV", as_: str = "admin") -> str:
    data = await api.gql(
        DEPLOY, {"input": {"projectId": project_id, "environment": environment, "version": version}}, as_=as_
    )
    return data["createDeployment"]["id"]


async def settled(api: Api, deployment_id: str) -> dict[str, Any]:
    """The deployment once its rollout has ended (bounded wait: a hung rollout fails the test, not the suite)."""

    async def poll() -> dict[str, Any]:
        while True:
            deployment = (await api.gql(DEPLOYMENT, {"id": deployment_id}))["deployment"]
            if deployment["status"] in SETTLED:
                return deployment
            await asyncio.sleep(0.01)

    return await asyncio.wait_for(poll(), 60)


async def shop(api: Api) -> str:
    return (await api.gql(CREATE_PROJECT, {"input": {"name": "Shop"}}))["createProject"]["id"]


async def environment(api: Api, project_id: str, environment: str, **settings: Any) -> str:
    """Configure a project environment (the rollout reads it) and return its namespace."""
    data = await api.gql(ENVIRONMENT, {"input": {"projectId": project_id, "environment": environment, **settings}})
    return data["updateEnvironment"]["namespace"]


@pytest.fixture
async def embedded(tmp_path):
    async with running_api(sqlite_settings(tmp_path, **FAST)) as api:
        yield api


async def test_a_dev_deploy_streams_its_rollout_live_and_succeeds(embedded: Api):
    pid = await shop(embedded)
    async with LiveServer(embedded.app) as server, TransportWs(server.ws_url) as ws:
        await ws.init({"authorization": f"Bearer {embedded.tokens['admin']}"})
        # Subscribed before the rollout can start: a PROD request waits for approval.
        did = await deploy(embedded, pid, "1.0.0", "PROD")
        await ws.subscribe("1", UPDATES, {"id": did})
        seen = [(await ws.next_payload())["data"]["deploymentUpdated"]]
        await embedded.user("second", Role.PROJECT_ADMIN)
        await embedded.gql(
            "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }",
            {"p": pid, "u": to_global_id("User", embedded.users["second"].id)},
        )
        await embedded.gql("mutation($id: ID!) { approveDeployment(id: $id) { status } }", {"id": did}, as_="second")
        while seen[-1]["status"] not in SETTLED:
            seen.append((await ws.next_payload(timeout=30))["data"]["deploymentUpdated"])
    assert seen[0] == {"status": "AWAITING_APPROVAL", "logs": ""}
    assert seen[-1]["status"] == "SUCCEEDED"
    assert [s["status"] for s in seen if s["status"] != seen[seen.index(s) - 1]["status"]][-3:] == [
        "PENDING",
        "IN_PROGRESS",
        "SUCCEEDED",
    ]
    lengths = [len(s["logs"].splitlines()) for s in seen]
    assert lengths == sorted(lengths) and len(set(lengths)) >= 4, "the log arrives line by line, not at the end"
    final = seen[-1]["logs"]
    assert "rollout: 3/3 available, 3/3 updated" in final and final.rstrip().endswith("rollout succeeded")

    logs = (await embedded.gql(LOGS, {"id": did, "o": 0, "l": None}))["deploymentLogs"]
    assert logs["complete"] and logs["lines"] == final.splitlines() and logs["total"] == len(logs["lines"])
    tail = (await embedded.gql(LOGS, {"id": did, "o": logs["total"] - 1, "l": 5}))["deploymentLogs"]
    assert tail["lines"] == logs["lines"][-1:]


async def test_a_failing_revision_ends_failed_with_the_reason(embedded: Api):
    pid = await shop(embedded)
    done = await settled(embedded, await deploy(embedded, pid, "2.0.0-crash"))
    assert done["status"] == "FAILED" and done["failureReason"].startswith("CrashLoopBackOff")
    assert done["startedAt"] and done["completedAt"]
    assert done["logs"].rstrip().endswith(f"rollout failed: {done['failureReason']}")


async def test_rollback_brings_the_previous_revision_back(embedded: Api):
    pid = await shop(embedded)
    first = await settled(embedded, await deploy(embedded, pid, "1.0.0"))
    second = await settled(embedded, await deploy(embedded, pid, "2.0.0"))
    assert (first["status"], second["status"]) == ("SUCCEEDED", "SUCCEEDED")
    cluster, namespace = embedded.container.cluster, second["k8sNamespace"]
    assert namespace == first["k8sNamespace"] and namespace.endswith("-dev")
    assert await cluster.live_revision(namespace, "shop") == "2.0.0"

    back = (await embedded.gql(ROLLBACK, {"id": second["id"]}))["rollbackDeployment"]
    assert back["version"] == "1.0.0" and back["rollbackTo"] == first["id"]
    assert (await settled(embedded, back["id"]))["status"] == "SUCCEEDED"
    assert (await settled(embedded, second["id"]))["status"] == "ROLLED_BACK"
    assert await cluster.live_revision(namespace, "shop") == "1.0.0"

    err = await embedded.error(ROLLBACK, {"id": second["id"]})
    assert err["extensions"]["code"] == "BAD_USER_INPUT" and err["extensions"]["currentStatus"] == "ROLLED_BACK"


async def test_deploy_permissions_hold_for_rollback_and_logs(embedded: Api):
    pid = await shop(embedded)
    await embedded.user("dev", Role.DEVELOPER)
    await embedded.user("tess", Role.TESTER)
    for name in ("dev", "tess"):
        await embedded.gql(
            "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }",
            {"p": pid, "u": to_global_id("User", embedded.users[name].id)},
        )
    staging = [await settled(embedded, await deploy(embedded, pid, v, "STAGING")) for v in ("1", "2")]
    err = await embedded.error(ROLLBACK, {"id": staging[-1]["id"]}, as_="dev")
    assert err["extensions"]["code"] == "FORBIDDEN" and "deploy:any" in err["message"]
    err = await embedded.error(ROLLBACK, {"id": staging[-1]["id"]}, as_="tess")
    assert err["extensions"]["code"] == "FORBIDDEN"
    logs = (await embedded.gql(LOGS, {"id": staging[0]["id"], "o": 0, "l": 2}, as_="tess"))["deploymentLogs"]
    assert len(logs["lines"]) == 2
    await embedded.user("outsider", Role.DEVELOPER)
    err = await embedded.error(LOGS, {"id": staging[0]["id"], "o": 0, "l": 2}, as_="outsider")
    assert err["extensions"]["code"] == "FORBIDDEN"


# --- the kubernetes client against a local Kubernetes API ---------------------------------------------------------


@pytest.fixture
def k8s():
    with FakeKubernetes(ready_after_polls=3) as server:
        yield server


def kube_settings(tmp_path: Path, k8s: FakeKubernetes, **fields: Any):
    kubeconfig = k8s.kubeconfig(tmp_path / "kubeconfig", context="staging-cluster")
    return sqlite_settings(
        tmp_path,
        cluster="kubernetes",
        kubeconfig=str(kubeconfig),
        kube_context="staging-cluster",
        deploy_image="registry.test/{project}:{version}",
        **{**FAST, **fields},
    )


async def test_kubernetes_rollout_succeeds_and_rolls_back(tmp_path, k8s):
    async with running_api(kube_settings(tmp_path, k8s)) as api:
        pid = await shop(api)
        autoscaling = {"minReplicas": 3, "maxReplicas": 6, "cpuPercent": 70, "memoryPercent": 80}
        ns = await environment(api, pid, "STAGING", namespace="shop-staging", replicas=3, autoscaling=autoscaling)
        first = await settled(api, await deploy(api, pid, "1.0.0", "STAGING"))
        assert first["k8sNamespace"] == ns == "shop-staging"
        assert first["status"] == "SUCCEEDED", first["logs"]
        assert "rollout: 3/3 available, 3/3 updated" in first["logs"]
        assert "shop-0: listening on :8000" in first["logs"]
        deployment = k8s.get("deployments", ns, "shop")
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == "registry.test/shop:1.0.0"
        assert k8s.get("services", ns, "shop")["spec"]["ports"][0]["port"] == 80
        assert k8s.get("horizontalpodautoscalers", ns, "shop-hpa")["spec"]["minReplicas"] == 3
        assert k8s.get("namespaces", "", ns) is not None

        second = await settled(api, await deploy(api, pid, "2.0.0", "STAGING"))
        assert second["status"] == "SUCCEEDED"
        patches = k8s.calls("PATCH", "deployments")
        assert patches and {p.content_type for p in patches} == {"application/strategic-merge-patch+json"}
        back = (await api.gql(ROLLBACK, {"id": second["id"]}))["rollbackDeployment"]
        assert (await settled(api, back["id"]))["status"] == "SUCCEEDED"
        live = k8s.get("deployments", ns, "shop")
        assert live["metadata"]["annotations"]["rdflow.io/revision"] == "1.0.0"
        assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.test/shop:1.0.0"
        labels = live["spec"]["template"]["metadata"]["labels"]
        assert labels["rdflow.io/deployment-id"] == str(from_global_id(back["id"])[1])


async def test_kubernetes_rollout_that_never_finishes_times_out(tmp_path, k8s):
    k8s.ready_after_polls = None
    async with running_api(kube_settings(tmp_path, k8s, rollout_timeout_s=0.3)) as api:
        done = await settled(api, await deploy(api, await shop(api), "1.0.0"))
    assert done["status"] == "FAILED"
    assert done["failureReason"] == "rollout did not finish within 0.3s (0/1 replicas available)"
    assert len(k8s.calls("GET", "deployments")) >= 2, "the rollout was watched, not given up at once"


async def test_kubernetes_forbidden_fails_the_deployment_with_the_reason(tmp_path, k8s):
    k8s.fail("POST", "deployments", 403)
    async with running_api(kube_settings(tmp_path, k8s)) as api:
        done = await settled(api, await deploy(api, await shop(api), "1.0.0"))
    assert done["status"] == "FAILED"
    assert done["failureReason"].startswith("Kubernetes create Deployment/shop: 403 Forbidden")
    assert len(k8s.calls("POST", "deployments")) == 1, "a refusal is not retried"


async def test_kubernetes_existing_objects_are_patched(tmp_path, k8s):
    k8s.put(
        "services",
        "shop-dev",
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop"}, "spec": {"ports": [{"port": 81}]}},
    )
    async with running_api(kube_settings(tmp_path, k8s)) as api:
        pid = await shop(api)
        await environment(api, pid, "DEV", namespace="shop-dev")
        done = await settled(api, await deploy(api, pid, "1.0.0"))
    assert done["status"] == "SUCCEEDED", done["logs"]
    assert "Service/shop configured" in done["logs"] and "Deployment/shop created" in done["logs"]
    assert [c.content_type for c in k8s.calls("PATCH", "services")] == ["application/strategic-merge-patch+json"]
    assert k8s.get("services", "shop-dev", "shop")["spec"]["ports"][0]["targetPort"] == 8000


async def test_kubernetes_server_errors_are_retried(tmp_path, k8s):
    k8s.fail("POST", "secrets", 500)
    async with running_api(kube_settings(tmp_path, k8s)) as api:
        done = await settled(api, await deploy(api, await shop(api), "1.0.0"))
    assert done["status"] == "SUCCEEDED", done["logs"]
    assert "cluster unavailable, will retry: Kubernetes create Secret/shop-env: 500" in done["logs"]
    assert len(k8s.calls("POST", "secrets")) == 2


CHANGE_STATUS = "mutation($id: ID!, $s: DeploymentStatus!) { changeDeploymentStatus(id: $id, status: $s) { status } }"


async def test_a_deployment_being_rolled_out_is_moved_by_its_rollout_not_by_hand(tmp_path):
    """While its rollout job runs, a status set by hand is CONFLICT naming the job (the cluster would go on rolling
    out a deployment the record calls FAILED or SUCCEEDED); cancelling the job ends it FAILED, and a settled one can
    be moved by hand again."""
    async with running_api(sqlite_settings(tmp_path, simulated_step_s=60, rollout_poll_s=0.01)) as api:
        did = await deploy(api, await shop(api), "1.0.0")

        async def rolling_out() -> None:
            while (await api.gql(DEPLOYMENT, {"id": did}))["deployment"]["status"] != "IN_PROGRESS":
                await asyncio.sleep(0.01)

        await asyncio.wait_for(rolling_out(), 30)
        for status in ("SUCCEEDED", "FAILED", "ROLLED_BACK"):
            error = await api.error(CHANGE_STATUS, {"id": did, "s": status})
            assert error["extensions"]["code"] == "CONFLICT", error
            assert error["extensions"]["currentStatus"] == "IN_PROGRESS"
            assert "cancelJob" in error["message"]
        job_id = error["extensions"]["jobId"]

        await api.gql("mutation($id: ID!) { cancelJob(id: $id) { id } }", {"id": to_global_id("Job", job_id)})
        ended = await settled(api, did)
        assert ended["status"] == "FAILED" and "cancelled" in ended["logs"]
        moved = (await api.gql(CHANGE_STATUS, {"id": did, "s": "ROLLED_BACK"}))["changeDeploymentStatus"]
        assert moved == {"status": "ROLLED_BACK"}
