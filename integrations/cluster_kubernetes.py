"""The Cluster port over the official `kubernetes` client: create-or-patch, rollout status, pod logs.

The client is synchronous; every call runs in a worker thread (asyncio.to_thread), never on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from domain.environments import DeploySpec
from domain.errors import DomainError, RetryableError
from domain.ports import ClusterRefused, RolloutState
from integrations import manifests

T = TypeVar("T")
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
# Waiting reasons after which a pod will not start without a new revision (kubectl reports them the same way).
FAILING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)


def api_client(kubeconfig: str | None = None, context: str | None = None) -> client.ApiClient:
    """A client from `kubeconfig` (or its default place), or the pod's service account when run in a cluster."""
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    return config.new_client_from_config(config_file=kubeconfig, context=context, persist_config=False)


def _reason(exc: ApiException) -> str:
    try:
        message = json.loads(exc.body or "{}").get("message")
    except ValueError:
        message = None
    return f"{exc.status} {exc.reason}" + (f": {message}" if message else "")


def port_error(what: str, exc: ApiException | HTTPError) -> DomainError:
    """A client failure as the port's: refused for good (4xx), or retryable (5xx, throttling, network)."""
    if isinstance(exc, HTTPError):
        return RetryableError(f"Kubernetes {what}: {exc}")
    if exc.status is None or exc.status >= 500 or exc.status == 429:
        return RetryableError(f"Kubernetes {what}: {_reason(exc)}")
    return ClusterRefused(f"Kubernetes {what}: {_reason(exc)}")


class KubernetesCluster:
    def __init__(self, api: client.ApiClient):
        self.api = api
        self.core = client.CoreV1Api(api)
        self.apps = client.AppsV1Api(api)
        self.autoscaling = client.AutoscalingV2Api(api)

    @staticmethod
    def _guarded(what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (ApiException, HTTPError) as exc:
            raise port_error(what, exc) from exc

    async def aclose(self) -> None:
        await asyncio.to_thread(self.api.close)

    async def apply(self, spec: DeploySpec) -> list[str]:
        return await asyncio.to_thread(self._apply, spec)

    def _apply(self, spec: DeploySpec) -> list[str]:
        namespace = spec.environment.namespace
        return [self._ensure_namespace(namespace), *(self._upsert(namespace, obj) for obj in manifests.render(spec))]

    def _ensure_namespace(self, namespace: str) -> str:
        try:
            self.core.create_namespace(manifests.namespace(namespace))
        except ApiException as exc:
            if exc.status == 409:
                return f"Namespace/{namespace} unchanged"
            if exc.status == 403:
                # A service account bound by a namespaced Role may not create namespaces: an admin made it.
                return f"Namespace/{namespace} not created here ({_reason(exc)}); using it as it is"
            raise port_error(f"create Namespace/{namespace}", exc) from exc
        except HTTPError as exc:
            raise port_error(f"create Namespace/{namespace}", exc) from exc
        return f"Namespace/{namespace} created"

    def _upsert(self, namespace: str, obj: dict[str, Any]) -> str:
        kind, name = obj["kind"], obj["metadata"]["name"]
        create, patch = self._verbs(kind)
        try:
            create(namespace, obj)
            return f"{kind}/{name} created"
        except ApiException as exc:
            if exc.status != 409:
                raise port_error(f"create {kind}/{name}", exc) from exc
        except HTTPError as exc:
            raise port_error(f"create {kind}/{name}", exc) from exc
        if kind == "Secret":
            # Replaced, not merged: a secret removed from the environment leaves the cluster too.
            self._guarded(f"replace {kind}/{name}", self.core.replace_namespaced_secret, name, namespace, obj)
        else:
            self._guarded(f"patch {kind}/{name}", patch, name, namespace, obj, _content_type=STRATEGIC_MERGE)
        return f"{kind}/{name} configured"

    def _verbs(self, kind: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
        return {
            "Secret": (self.core.create_namespaced_secret, self.core.patch_namespaced_secret),
            "Deployment": (self.apps.create_namespaced_deployment, self.apps.patch_namespaced_deployment),
            "Service": (self.core.create_namespaced_service, self.core.patch_namespaced_service),
            "HorizontalPodAutoscaler": (
                self.autoscaling.create_namespaced_horizontal_pod_autoscaler,
                self.autoscaling.patch_namespaced_horizontal_pod_autoscaler,
            ),
        }[kind]

    async def rollout(self, namespace: str, name: str) -> RolloutState:
        return await asyncio.to_thread(self._rollout, namespace, name)

    def _rollout(self, namespace: str, name: str) -> RolloutState:
        found = self._guarded(
            f"read Deployment/{name} status", self.apps.read_namespaced_deployment_status, name, namespace
        )
        desired = found.spec.replicas if found.spec.replicas is not None else 1
        status = found.status
        running = (found.spec.template.metadata.labels or {}).get(manifests.DEPLOYMENT_ID_LABEL)
        observed = (status.observed_generation or 0) >= (found.metadata.generation or 0)
        updated = (status.updated_replicas or 0) if observed else 0
        available = min(status.available_replicas or 0, updated)
        state = RolloutState(desired, updated, available, deployment_id=running)
        if state.complete:
            return state
        for condition in status.conditions or []:
            if condition.type == "Progressing" and condition.reason == "ProgressDeadlineExceeded":
                deadline = f"ProgressDeadlineExceeded: {condition.message}"
                return RolloutState(desired, updated, available, failure=deadline, deployment_id=running)
        failure = self._failing_pod(namespace, found)
        return RolloutState(desired, updated, available, failure=failure, deployment_id=running)

    def _pods(self, namespace: str, deployment: Any) -> list[Any]:
        """The pods of the Deployment's current template (its rdflow deployment id), not older ones."""
        labels = deployment.spec.template.metadata.labels or {}
        selector = {"app": deployment.metadata.name} | {
            k: v for k, v in labels.items() if k == manifests.DEPLOYMENT_ID_LABEL
        }
        text = ",".join(f"{k}={v}" for k, v in selector.items())
        pods = self._guarded(f"list pods {text}", self.core.list_namespaced_pod, namespace, label_selector=text)
        return list(pods.items)

    def _failing_pod(self, namespace: str, deployment: Any) -> str | None:
        for pod in self._pods(namespace, deployment):
            for container in (pod.status.container_statuses or []) if pod.status else []:
                waiting = container.state.waiting if container.state else None
                if waiting is not None and waiting.reason in FAILING_REASONS:
                    detail = f": {waiting.message}" if waiting.message else ""
                    return f"{waiting.reason}: pod {pod.metadata.name} container {container.name}{detail}"
        return None

    async def pod_logs(self, namespace: str, name: str, *, tail_lines: int = 20) -> list[str]:
        return await asyncio.to_thread(self._pod_logs, namespace, name, tail_lines)

    def _pod_logs(self, namespace: str, name: str, tail_lines: int) -> list[str]:
        deployment = self._guarded(f"read Deployment/{name}", self.apps.read_namespaced_deployment, name, namespace)
        lines = []
        for pod in self._pods(namespace, deployment):
            pod_name = pod.metadata.name
            try:
                # Unparsed: the client would hand back str(bytes) ("b'...'") for this text/plain answer.
                response = self.core.read_namespaced_pod_log(
                    pod_name, namespace, container="app", tail_lines=tail_lines, _preload_content=False
                )
                text = response.data.decode("utf-8", errors="replace")
            except ApiException as exc:
                if exc.status == 400:  # the container has not started yet: no log to read
                    continue
                raise port_error(f"read log of pod {pod_name}", exc) from exc
            except HTTPError as exc:
                raise port_error(f"read log of pod {pod_name}", exc) from exc
            lines += [f"{pod_name}: {line}" for line in (text or "").splitlines()]
        return lines

    async def live_revision(self, namespace: str, name: str) -> str | None:
        return await asyncio.to_thread(self._live_revision, namespace, name)

    def _live_revision(self, namespace: str, name: str) -> str | None:
        try:
            found = self.apps.read_namespaced_deployment(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise port_error(f"read Deployment/{name}", exc) from exc
        except HTTPError as exc:
            raise port_error(f"read Deployment/{name}", exc) from exc
        return (found.metadata.annotations or {}).get(manifests.REVISION_ANNOTATION)
