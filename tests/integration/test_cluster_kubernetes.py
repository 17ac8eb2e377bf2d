"""The kubernetes-client adapter's own failure mapping: what the contract cannot say for the simulated cluster."""

from __future__ import annotations

import pytest

from domain.errors import RetryableError
from domain.ports import ClusterRefused
from integrations.cluster_kubernetes import KubernetesCluster, api_client
from tests.fakes.k8s_server import FakeKubernetes
from tests.integration.test_cluster_contract import spec
from tests.live import free_port


async def test_an_unreachable_api_server_is_retryable(tmp_path):
    with FakeKubernetes() as k8s:
        kubeconfig = k8s.kubeconfig(tmp_path / "kubeconfig")
    text = kubeconfig.read_text().replace(f":{k8s.port}", f":{free_port()}")
    kubeconfig.write_text(text)
    client = api_client(str(kubeconfig))
    client.configuration.retries = 0
    try:
        with pytest.raises(RetryableError, match="Kubernetes"):
            await KubernetesCluster(client).apply(spec())
    finally:
        client.close()


async def test_a_wrong_token_is_refused_for_good(tmp_path):
    with FakeKubernetes() as k8s:
        kubeconfig = k8s.kubeconfig(tmp_path / "kubeconfig")
        kubeconfig.write_text(kubeconfig.read_text().replace(k8s.token, "stolen"))
        client = api_client(str(kubeconfig))
        try:
            with pytest.raises(ClusterRefused, match="401 Unauthorized"):
                await KubernetesCluster(client).apply(spec())
        finally:
            client.close()
    assert not k8s.objects


async def test_a_namespace_it_may_not_create_is_used_as_it_is(tmp_path):
    with FakeKubernetes() as k8s:
        k8s.fail("POST", "namespaces", 403)
        client = api_client(str(k8s.kubeconfig(tmp_path / "kubeconfig")))
        try:
            lines = await KubernetesCluster(client).apply(spec())
        finally:
            client.close()
    assert lines[0].startswith("Namespace/rdflow-staging not created here (403 Forbidden")
    assert k8s.get("deployments", "rdflow-staging", "shop") is not None
