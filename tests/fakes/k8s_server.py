"""A local HTTP server answering the Kubernetes API paths rdflow's cluster adapter uses, scripted per test.

It speaks what the official client sends and expects: core/v1 namespaces, secrets, services, pods and pod logs;
apps/v1 deployments and their status; autoscaling/v2 horizontalpodautoscalers. Creating an existing object is
409 AlreadyExists, a PATCH must be a merge patch (a JSON object sent as json-patch is refused, as the API server
does), every request needs the bearer token. It plays the kubelet too: a Deployment's status advances one step per
status read until every replica is available after `ready_after_polls` reads (None: never), pods of an image whose
tag contains `crash` crash-loop, and pods of a tag containing `stuck` never become ready. Failures are planned with
`fail(method, resource, status)`.
"""

from __future__ import annotations

import copy
import itertools
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

MERGE_PATCHES = ("application/strategic-merge-patch+json", "application/merge-patch+json")
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "AlreadyExists"}


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    content_type: str
    body: Any


@dataclass
class PlannedFailure:
    method: str
    resource: str
    status: int
    times: int = 1


@dataclass
class _Rollout:
    polls: int = 0


@dataclass
class FakeKubernetes:
    """Runs with uvicorn on a free 127.0.0.1 port in a background thread (`with FakeKubernetes() as k8s`)."""

    token: str = "fake-token"
    ready_after_polls: int | None = 2
    requests: list[Received] = field(default_factory=list)
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    port: int = 0
    _failures: list[PlannedFailure] = field(default_factory=list)
    _rollouts: dict[tuple[str, str], _Rollout] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _versions: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kubeconfig(self, path: Any, context: str = "fake") -> Any:
        """Write a kubeconfig naming this server (token auth) as `context`; returns `path`."""
        import yaml

        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "fake", "cluster": {"server": self.host}}],
                    "users": [{"name": "rdflow", "user": {"token": self.token}}],
                    "contexts": [{"name": context, "context": {"cluster": "fake", "user": "rdflow"}}],
                    "current-context": context,
                }
            )
        )
        return path

    def fail(self, method: str, resource: str, status: int, times: int = 1) -> None:
        """The next `times` `method` requests on `resource` (e.g. "deployments", "namespaces") answer `status`."""
        with self._lock:
            self._failures.append(PlannedFailure(method.upper(), resource, status, times))

    def put(self, resource: str, namespace: str, obj: dict[str, Any]) -> None:
        """An object that exists before the test (e.g. to meet 409 on create)."""
        with self._lock:
            self.objects[(resource, namespace, obj["metadata"]["name"])] = self._stored(resource, namespace, obj)

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self.objects.get((resource, namespace, name)))

    def calls(self, method: str, resource: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.method == method and _resource_of(r.path) == resource]

    def __enter__(self) -> FakeKubernetes:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PATCH", "PUT"])])
        self._server = uvicorn.Server(
            uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        )
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Kubernetes server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.should_exit = True
        self._thread.join(timeout=10)

    # --- the API ---------------------------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        content_type = request.headers.get("content-type", "").split(";")[0]
        raw = await request.body()
        body = _json(raw) if raw else None
        with self._lock:
            self.requests.append(Received(request.method, path, content_type, body))
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized")
        route = _parse(path)
        if route is None:
            return _status(404, f"the server could not find the requested resource ({path})")
        resource, namespace, name, sub = route
        with self._lock:
            planned = self._planned(request.method, resource)
            if planned is not None:
                return _status(planned, f"{REASONS.get(planned, 'InternalError')}: scripted for {resource}")
            if sub == "log":
                return self._log(namespace, name, request)
            if request.method == "POST":
                return self._create(resource, namespace, body)
            if request.method == "GET" and name is None:
                return self._list(resource, namespace, request.query_params.get("labelSelector"))
            if request.method == "GET":
                return self._read(resource, namespace, name, status=sub == "status")
            if request.method == "PATCH":
                return self._patch(resource, namespace, name, content_type, body)
            return self._replace(resource, namespace, name, body)

    def _planned(self, method: str, resource: str) -> int | None:
        for planned in self._failures:
            if planned.method == method and planned.resource == resource and planned.times > 0:
                planned.times -= 1
                return planned.status
        return None

    def _stored(self, resource: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(obj)
        meta = stored.setdefault("metadata", {})
        if resource != "namespaces":
            meta["namespace"] = namespace
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        meta["resourceVersion"] = str(next(self._versions))
        if resource == "deployments":
            meta["generation"] = meta.get("generation", 0) + 1
            stored["status"] = {"observedGeneration": meta["generation"] - 1}
            self._rollouts[(namespace, meta["name"])] = _Rollout()
        return stored

    def _create(self, resource: str, namespace: str, body: Any) -> Response:
        if not isinstance(body, dict) or not body.get("metadata", {}).get("name"):
            return _status(422, "metadata.name: Required value")
        key = (resource, namespace, body["metadata"]["name"])
        if key in self.objects:
            return _status(409, f'{resource} "{key[2]}" already exists', reason="AlreadyExists")
        self.objects[key] = self._stored(resource, namespace, body)
        return JSONResponse(self.objects[key], status_code=201)

    def _read(self, resource: str, namespace: str, name: str, *, status: bool) -> Response:
        found = self.objects.get((resource, namespace, name))
        if found is None:
            return _status(404, f'{resource} "{name}" not found', reason="NotFound")
        if status and resource == "deployments":
            self._advance(namespace, found)
        return JSONResponse(found)

    def _patch(self, resource: str, namespace: str, name: str, content_type: str, body: Any) -> Response:
        if content_type not in MERGE_PATCHES or not isinstance(body, dict):
            return _status(400, f"the body of the request was in an unknown format for {content_type}")
        found = self.objects.get((resource, namespace, name))
        if found is None:
            return _status(404, f'{resource} "{name}" not found', reason="NotFound")
        merged = _merge(copy.deepcopy(found), body)
        merged["metadata"]["generation"] = found["metadata"].get("generation", 0)
        self.objects[(resource, namespace, name)] = self._stored(resource, namespace, merged)
        return JSONResponse(self.objects[(resource, namespace, name)])

    def _replace(self, resource: str, namespace: str, name: str, body: Any) -> Response:
        found = self.objects.get((resource, namespace, name))
        if found is None:
            return _status(404, f'{resource} "{name}" not found', reason="NotFound")
        replaced = copy.deepcopy(body)
        replaced["metadata"] = {**replaced.get("metadata", {}), "uid": found["metadata"]["uid"]}
        self.objects[(resource, namespace, name)] = self._stored(resource, namespace, replaced)
        return JSONResponse(self.objects[(resource, namespace, name)])

    # --- the kubelet and the deployment controller ----------------------------------------------------------

    @staticmethod
    def _mode(deployment: dict[str, Any]) -> str:
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        tag = image.rsplit(":", 1)[-1].lower()
        return "crash" if "crash" in tag else "stuck" if "stuck" in tag else "ok"

    def _advance(self, namespace: str, deployment: dict[str, Any]) -> None:
        rollout = self._rollouts.setdefault((namespace, deployment["metadata"]["name"]), _Rollout())
        rollout.polls += 1
        desired = deployment["spec"].get("replicas", 1)
        mode = self._mode(deployment)
        if mode != "ok" or self.ready_after_polls is None:
            available = 0
        else:
            available = min(desired, desired * rollout.polls // max(1, self.ready_after_polls))
        updated = desired if available == desired else min(desired, available + 1)
        deployment["status"] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": updated,
            "updatedReplicas": updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": [
                {"type": "Available", "status": "True" if available == desired else "False", "reason": "Rollout"},
                {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"},
            ],
        }

    def _pods_of(self, namespace: str, deployment: dict[str, Any]) -> list[dict[str, Any]]:
        template = deployment["spec"]["template"]
        container = template["spec"]["containers"][0]
        status = deployment.get("status", {})
        mode = self._mode(deployment)
        pods = []
        for index in range(status.get("updatedReplicas", 0)):
            ready = index < status.get("availableReplicas", 0)
            if mode == "crash":
                waiting = {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}
                state: dict[str, Any] = {"waiting": waiting}
            else:
                state = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
            pods.append(
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": f"{deployment['metadata']['name']}-{index}",
                        "namespace": namespace,
                        "labels": dict(template["metadata"]["labels"]),
                    },
                    "spec": {"containers": [{"name": container["name"], "image": container["image"]}]},
                    "status": {
                        "phase": "Running",
                        "containerStatuses": [
                            {
                                "name": container["name"],
                                "image": container["image"],
                                "imageID": f"sha256:{index:064x}",
                                "ready": ready,
                                "restartCount": 3 if mode == "crash" else 0,
                                "state": state,
                            }
                        ],
                    },
                }
            )
        return pods

    def _all_pods(self, namespace: str) -> list[dict[str, Any]]:
        return [
            pod
            for (resource, ns, _), obj in self.objects.items()
            if resource == "deployments" and ns == namespace
            for pod in self._pods_of(namespace, obj)
        ]

    def _list(self, resource: str, namespace: str, selector: str | None) -> Response:
        wanted = dict(part.split("=", 1) for part in selector.split(",")) if selector else {}
        if resource == "pods":
            items = self._all_pods(namespace)
        else:
            items = [obj for (r, ns, _), obj in self.objects.items() if r == resource and ns == namespace]
        items = [i for i in items if wanted.items() <= i["metadata"].get("labels", {}).items()]
        kind = "PodList" if resource == "pods" else "List"
        return JSONResponse({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items})

    def _log(self, namespace: str, pod_name: str, request: Request) -> Response:
        pod = next((p for p in self._all_pods(namespace) if p["metadata"]["name"] == pod_name), None)
        if pod is None:
            return _status(404, f'pods "{pod_name}" not found', reason="NotFound")
        state = pod["status"]["containerStatuses"][0]
        revision = pod["metadata"]["labels"].get("version", "?")
        if "waiting" in state["state"]:
            lines = [f"starting revision {revision}", "RuntimeError: boom", "exit status 1"]
        elif state["ready"]:
            lines = [f"starting revision {revision}", "listening on :8000", "GET /ready 200"]
        else:
            lines = [f"starting revision {revision}", "GET /ready 503"]
        tail = int(request.query_params.get("tailLines", len(lines)))
        return PlainTextResponse("\n".join(lines[-tail:]) + "\n")


def _json(raw: bytes) -> Any:
    import json

    try:
        return json.loads(raw)
    except ValueError:
        return None


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        elif value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def _resource_of(path: str) -> str | None:
    route = _parse(path)
    return route[0] if route else None


def _parse(path: str) -> tuple[str, str, Any, str | None] | None:
    """(resource, namespace, name, subresource) of an API path, or None when it is not one this server serves."""
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        rest = parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis" and "/".join(parts[1:3]) in ("apps/v1", "autoscaling/v2"):
        rest = parts[3:]
    else:
        return None
    if rest == ["namespaces"]:
        return "namespaces", "", None, None
    if len(rest) == 2 and rest[0] == "namespaces":
        return "namespaces", "", rest[1], None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, resource, tail = rest[1], rest[2], rest[3:]
        return resource, namespace, tail[0] if tail else None, tail[1] if len(tail) > 1 else None
    return None


def _status(code: int, message: str, reason: str | None = None) -> JSONResponse:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "InternalError"),
        "code": code,
    }
    return JSONResponse(body, status_code=code)
