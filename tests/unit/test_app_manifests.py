"""integrations/manifests.py: a project's rendered objects against the Kubernetes schema and note 000's shape."""

from __future__ import annotations

import dataclasses
import re
import uuid

import kubernetes_validate
import pytest

from domain.enums import Environment
from domain.environments import Autoscaling, DeploySpec, EnvironmentConfig, Resources
from domain.services.deployments import k8s_name
from integrations import manifests
from tests.unit.test_deploy_manifests import KUBERNETES_VERSION

DEPLOYMENT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def spec(replicas: int = 3, **config) -> DeploySpec:
    environment = EnvironmentConfig(
        project_id=uuid.uuid4(),
        environment=Environment.PROD,
        namespace="rdflow-prod",
        replicas=replicas,
        **config,
    )
    return DeploySpec(
        deployment_id=DEPLOYMENT_ID,
        name="shop",
        revision="1.2.0+build.7",
        image="registry.example.com/shop:1.2.0",
        environment=environment,
    )


CONFIGURED = spec(
    variables={"LOG_LEVEL": "info", "FEATURE_X": "on"},
    secrets={"DATABASE_URL": "postgresql://u:p@db/shop", "API_TOKEN": "t0ken"},
    resources=Resources(cpu_request="100m", cpu_limit="1", memory_request="128Mi", memory_limit="256Mi"),
    autoscaling=Autoscaling(min_replicas=3, max_replicas=6, cpu_percent=70, memory_percent=80),
)


@pytest.mark.parametrize("rendered", [spec(), spec(replicas=1), CONFIGURED], ids=["defaults", "dev-size", "configured"])
def test_every_rendered_object_is_valid_kubernetes(rendered):
    objects = [*manifests.render(rendered), manifests.namespace("rdflow-prod")]
    assert [o["kind"] for o in objects] == ["Secret", "Deployment", "Service", "HorizontalPodAutoscaler", "Namespace"]
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_an_invalid_object_is_caught_by_the_validator():
    broken = manifests.deployment(spec())
    broken["spec"]["strategy"]["rollingUpdate"]["maxSurge"] = {"not": "a number"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_deployment_rolls_without_losing_capacity_probed_and_sized_as_note_000():
    doc = manifests.deployment(spec())
    assert doc["metadata"] == {
        "name": "shop",
        "namespace": "rdflow-prod",
        "labels": {
            "app": "shop",
            "version": "1.2.0_build.7",
            "rdflow.io/deployment-id": str(DEPLOYMENT_ID),
            "app.kubernetes.io/managed-by": "rdflow",
        },
        "annotations": {"rdflow.io/revision": "1.2.0+build.7"},
    }
    assert doc["spec"]["replicas"] == 3
    assert doc["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    assert doc["spec"]["selector"] == {"matchLabels": {"app": "shop"}}
    template = doc["spec"]["template"]
    assert template["metadata"]["labels"]["version"] == "1.2.0_build.7"
    (container,) = template["spec"]["containers"]
    assert container["image"] == "registry.example.com/shop:1.2.0"
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8000}
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }


def test_variables_are_values_and_secrets_are_references_never_values():
    doc = manifests.deployment(CONFIGURED)
    (container,) = doc["spec"]["template"]["spec"]["containers"]
    assert container["env"] == [
        {"name": "FEATURE_X", "value": "on"},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "shop-env", "key": "API_TOKEN"}}},
        {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "shop-env", "key": "DATABASE_URL"}}},
    ]
    assert "t0ken" not in repr(doc) and "u:p@db" not in repr(doc)
    secret = manifests.secret(CONFIGURED)
    assert secret["metadata"]["name"] == "shop-env"
    assert secret["stringData"] == {"DATABASE_URL": "postgresql://u:p@db/shop", "API_TOKEN": "t0ken"}


def test_service_sends_port_80_to_the_pods_8000():
    doc = manifests.service(spec())
    assert doc["spec"]["selector"] == manifests.deployment(spec())["spec"]["selector"]["matchLabels"]
    assert doc["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8000, "protocol": "TCP"}]


def test_hpa_scales_on_cpu_70_and_memory_80_never_below_the_environment_size():
    doc = manifests.hpa(spec())
    assert doc["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop"}
    assert (doc["spec"]["minReplicas"], doc["spec"]["maxReplicas"]) == (3, 10)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in doc["spec"]["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert manifests.hpa(spec(replicas=1))["spec"]["minReplicas"] == 1


def test_label_values_stay_within_kubernetes_rules():
    assert manifests.label_value("1.0+rc/1") == "1.0_rc_1"
    assert manifests.label_value("-" + "a" * 80) == "a" * 62


# What the API server requires of each object's name (apimachinery's validation): a Service's name is a DNS-1035
# label, the others' DNS-1123 subdomains; label values at most 63 characters, alphanumeric at both ends.
DNS_1035_LABEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?\Z")
DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\Z")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?\Z")


@pytest.mark.parametrize(
    "project_name",
    ["Shop", "2024 Roadmap", "a" * 49 + " x", "", "!!!", "Ünïcødé façade", "x" * 200, str(uuid.UUID(int=1))],
)
def test_any_project_name_gives_objects_the_api_server_accepts(project_name):
    name = k8s_name(project_name)
    assert k8s_name(name) == name  # a valid name is kept (rollbacks name a stored one again)
    for obj in manifests.render(dataclasses.replace(spec(), name=name)):
        checked = DNS_1035_LABEL if obj["kind"] == "Service" else DNS_1123_SUBDOMAIN
        assert checked.match(obj["metadata"]["name"]), obj["metadata"]
        assert all(LABEL_VALUE.match(v) for v in obj["metadata"]["labels"].values()), obj["metadata"]


def test_a_name_starting_with_a_digit_gets_a_letter_and_a_valid_one_is_kept():
    assert (k8s_name("Shop"), k8s_name("2024 Roadmap"), k8s_name("")) == ("shop", "app-2024-roadmap", "app")
