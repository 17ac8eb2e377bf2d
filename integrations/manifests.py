"""The Kubernetes objects of one project deployment (Secret, Deployment, Service, HPA), rendered from a DeploySpec."""

from __future__ import annotations

import re
from typing import Any

from domain.environments import DeploySpec

APP_PORT = 8000
SERVICE_PORT = 80
DEPLOYMENT_ID_LABEL = "rdflow.io/deployment-id"
REVISION_ANNOTATION = "rdflow.io/revision"
MANAGED_BY = {"app.kubernetes.io/managed-by": "rdflow"}
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9._-]+")

Manifest = dict[str, Any]


def label_value(text: str) -> str:
    """`text` as a valid label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric."""
    return _LABEL_VALUE.sub("_", text)[:63].strip("._-")


def selector(name: str) -> dict[str, str]:
    """The Deployment's selector (immutable once created, so it names the app only, never the revision)."""
    return {"app": name}


def pod_labels(spec: DeploySpec) -> dict[str, str]:
    return {
        **selector(spec.name),
        "version": label_value(spec.revision),
        DEPLOYMENT_ID_LABEL: str(spec.deployment_id),
    }


def secret_name(spec: DeploySpec) -> str:
    return f"{spec.name}-env"


def _metadata(spec: DeploySpec, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": spec.environment.namespace,
        "labels": {**(labels or selector(spec.name)), **MANAGED_BY},
    }


def namespace(name: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(MANAGED_BY)}}


def secret(spec: DeploySpec) -> Manifest:
    """The environment's secrets; the pods read them through secretKeyRef, so no value sits in the Deployment."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _metadata(spec, secret_name(spec)),
        "type": "Opaque",
        "stringData": dict(spec.environment.secrets),
    }


def _env(spec: DeploySpec) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in sorted(spec.environment.variables.items())]
    env += [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": secret_name(spec), "key": key}}}
        for key in sorted(spec.environment.secrets)
        if key not in spec.environment.variables
    ]
    return env


def deployment(spec: DeploySpec) -> Manifest:
    """Rolling update without losing capacity (maxSurge 1, maxUnavailable 0), probes and sizes as note 000."""
    resources = spec.environment.resources
    labels = pod_labels(spec)
    container = {
        "name": "app",
        "image": spec.image,
        "ports": [{"name": "http", "containerPort": APP_PORT, "protocol": "TCP"}],
        "env": _env(spec),
        "resources": {
            "requests": {"cpu": resources.cpu_request, "memory": resources.memory_request},
            "limits": {"cpu": resources.cpu_limit, "memory": resources.memory_limit},
        },
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": APP_PORT},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
        },
        "readinessProbe": {
            "httpGet": {"path": "/ready", "port": APP_PORT},
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {**_metadata(spec, spec.name, labels), "annotations": {REVISION_ANNOTATION: spec.revision}},
        "spec": {
            "replicas": spec.environment.replicas,
            "selector": {"matchLabels": selector(spec.name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(APP_PORT)},
                },
                "spec": {"containers": [container]},
            },
        },
    }


def service(spec: DeploySpec) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, spec.name),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(spec.name),
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": APP_PORT, "protocol": "TCP"}],
        },
    }


def hpa(spec: DeploySpec) -> Manifest:
    scaling = spec.environment.autoscaling
    low = max(1, min(scaling.min_replicas, spec.environment.replicas))
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(spec, f"{spec.name}-hpa"),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.name},
            "minReplicas": low,
            "maxReplicas": max(low, scaling.max_replicas),
            "metrics": [
                _utilisation("cpu", scaling.cpu_percent),
                _utilisation("memory", scaling.memory_percent),
            ],
        },
    }


def _utilisation(resource: str, percent: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": percent}},
    }


def render(spec: DeploySpec) -> list[Manifest]:
    """Every object of `spec`, in apply order (the Secret before the pods that read it)."""
    return [secret(spec), deployment(spec), service(spec), hpa(spec)]
