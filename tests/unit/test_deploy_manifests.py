"""deploy/: the Kubernetes manifests against the Kubernetes schema and our own rules, the compose file, the image."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# The oldest Kubernetes release still supported upstream when these manifests were written.
KUBERNETES_VERSION = "1.31.0"


def documents() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def the(kind: str, name: str) -> dict:
    (found,) = [d for d in documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def workloads() -> list[dict]:
    return [d for d in documents() if d["kind"] in ("Deployment", "Job")]


@pytest.mark.parametrize("doc", documents(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_every_manifest_is_valid_kubernetes(doc):
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert kustomization["namespace"] == the("Namespace", "rdflow")["metadata"]["name"]
    images = {c["image"].split(":")[0] for w in workloads() for c in pod_spec(w)["containers"]}
    assert images == {i["name"] for i in kustomization["images"]} == {"rdflow"}


def test_api_runs_three_probed_replicas_sized_as_note_000():
    api = the("Deployment", "rdflow-api")
    assert api["spec"]["replicas"] == 3
    assert api["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    (container,) = pod_spec(api)["containers"]
    assert container["args"] == ["serve"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["resources"] == {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"cpu": "500m", "memory": "1Gi"},
    }
    service = the("Service", "rdflow-api")
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    assert the("PodDisruptionBudget", "rdflow-api")["spec"]["selector"] == api["spec"]["selector"]
    assert the("PodDisruptionBudget", "rdflow-api")["spec"]["minAvailable"] < api["spec"]["replicas"]


def test_hpa_scales_the_api_on_cpu_and_memory_as_note_000():
    hpa = the("HorizontalPodAutoscaler", "rdflow-api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "rdflow-api"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    targets = {m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]}
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }


def test_worker_and_migration_run_their_commands():
    assert [c["args"] for c in pod_spec(the("Deployment", "rdflow-worker"))["containers"]] == [["worker"]]
    job = the("Job", "rdflow-migrate")
    assert [c["args"] for c in pod_spec(job)["containers"]] == [["migrate"]]
    assert pod_spec(job)["restartPolicy"] == "Never"


@pytest.mark.parametrize("name", ["rdflow-api", "rdflow-worker", "rdflow-migrate"])
def test_workloads_run_unprivileged_on_a_read_only_root(name):
    (doc,) = [w for w in workloads() if w["metadata"]["name"] == name]
    spec = pod_spec(doc)
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    for container in spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        # What the process writes (RDFLOW_DATA_DIR, temporary and metrics files) is on volumes.
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert mounts == {"/var/lib/rdflow", "/tmp"}
        assert "resources" in container and "limits" in container["resources"]


def test_ingress_passes_websockets():
    ingress = the("Ingress", "rdflow-api")
    notes = ingress["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/proxy-http-version"] == "1.1"
    # Longer than any silence between keep-alives (RDFLOW_WS_KEEPALIVE_S, 15 s): subscriptions stay open.
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert int(notes["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert path["path"] == "/" and path["backend"]["service"]["name"] == "rdflow-api"


def test_secrets_are_placeholders_the_server_refuses():
    from server.settings import Settings

    secret = the("Secret", "rdflow-secrets")["stringData"]
    assert set(secret) == {"DATABASE_URL", "REDIS_URL", "JWT_SECRET", "RDFLOW_FERNET_KEY"}
    assert all("REPLACE-ME" in value for value in secret.values())
    config = the("ConfigMap", "rdflow-config")["data"]
    with pytest.raises(ValueError, match="JWT_SECRET"):
        Settings(**{k.lower().removeprefix("rdflow_"): v for k, v in {**config, **secret}.items()})


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def container_env_names() -> set[str]:
    """Every variable the manifests and the compose file give rdflow's processes."""
    names = set(the("ConfigMap", "rdflow-config")["data"]) | set(the("Secret", "rdflow-secrets")["stringData"])
    for workload in workloads():
        for container in pod_spec(workload)["containers"]:
            names |= {e["name"] for e in container.get("env", [])}
    compose = _compose()
    for name in ("migrate", "api", "worker"):
        names |= set(compose["services"][name]["environment"])
    return names


def test_every_variable_given_to_rdflow_is_documented():
    readme = (ROOT / "README.md").read_text()
    undocumented = sorted(n for n in container_env_names() if f"`{n}`" not in readme and f"{n}`" not in readme)
    assert not undocumented, f"README's Configuration does not name {undocumented}"


def test_compose_runs_postgres_redis_migration_api_and_worker():
    services = _compose()["services"]
    assert set(services) == {"postgres", "redis", "migrate", "api", "worker"}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    commands = {name: services[name]["command"] for name in ("migrate", "api", "worker")}
    assert commands == {"migrate": ["migrate"], "api": ["serve"], "worker": ["worker"]}
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:")
    assert services["api"]["volumes"] == services["worker"]["volumes"], "generated code is shared"
    assert services["api"]["ports"] == ["127.0.0.1:8000:8000"]


def test_dockerfile_is_multi_stage_slim_and_unprivileged():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.MULTILINE)
    assert len(stages) == 2 and stages[-1] == "python:3.11-slim"
    final = text[text.rindex("\nFROM ") :]
    assert "USER 10001" in final and "HEALTHCHECK" in final and "/health" in final
    assert 'ENTRYPOINT ["rdflow"]' in final and 'CMD ["serve"]' in final
    assert "RDFLOW_HOST=0.0.0.0" in final
    assert "--require-hashes" in text and "requirements.lock" in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "var", "tests"} <= set(ignored)


def _docker_missing() -> str | None:
    """Why the image cannot be built here, or None."""
    if shutil.which("docker") is None:
        return "docker is not installed here: the image is not built"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60, check=False)
    return None if info.returncode == 0 else f"the docker daemon does not answer: {info.stderr.strip()[-200:]}"


def test_the_image_builds():
    missing = _docker_missing()
    if missing:
        pytest.skip(missing)
    done = subprocess.run(
        ["docker", "build", "-f", "deploy/Dockerfile", "-t", "rdflow:test", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = subprocess.run(
        ["docker", "run", "--rm", "rdflow:test", "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0 and "serve" in run.stdout, run.stdout + run.stderr
