"""Project environments (DEV, STAGING, PROD): namespace, size, variables and write-only secrets."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from domain import validation as v
from domain.enums import Environment
from domain.environments import Autoscaling, EnvironmentConfig, EnvironmentView, Resources, SecretInfo
from domain.errors import Conflict, InvalidInput
from domain.model import EnvironmentSecret, Project, ProjectEnvironment
from domain.permissions import Permission, Viewer
from domain.ports import SecretBox, UnitOfWork
from domain.repos import ENVIRONMENT_SECRETS, ENVIRONMENTS
from domain.services.access import load, require_member
from domain.services.base import Deps, Tx, snapshot
from domain.services.deployments import k8s_slug

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}\Z")
CPU = re.compile(r"^([0-9]{1,6}(?:\.[0-9]{1,3})?)(m?)\Z")
MEMORY = re.compile(r"^([0-9]{1,12}(?:\.[0-9]{1,3})?)(Ki|Mi|Gi|Ti|k|M|G|T)?\Z")
MEMORY_UNITS = {None: 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
MEMORY_UNITS.update({"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40})
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
MAX_REPLICAS = 100
MAX_ENTRIES = 100  # variables, and secrets, per environment
MAX_VALUE = 32_768  # characters of one variable or secret value
# All of an environment's values together, in UTF-8 bytes. Its secrets become one Kubernetes Secret, which holds at
# most 1 MiB once base64-encoded; its variables are written into the Deployment, which the API server and etcd
# refuse past about 1.5 MB. Past these, every deploy of the environment would fail; the edit is refused instead.
MAX_SECRET_BYTES = 512 * 1024
MAX_VARIABLE_BYTES = 256 * 1024
REPLICAS = {Environment.DEV: (1, 1, 3), Environment.STAGING: (2, 2, 5), Environment.PROD: (3, 3, 10)}


def default_namespace(project: Project, environment: Environment) -> str:
    """`rdflow-<name>-<id prefix>-<env>`: readable, unique per project, a DNS-1123 label (at most 63 characters)."""
    slug = k8s_slug(project.name)[:36].strip("-") or "app"
    return f"rdflow-{slug}-{project.id.hex[:8]}-{environment.value.lower()}"


def default_environment(project: Project, environment: Environment) -> ProjectEnvironment:
    replicas, low, high = REPLICAS[environment]
    resources, scaling = Resources(), Autoscaling()
    return ProjectEnvironment(
        project_id=project.id,
        environment=environment,
        namespace=default_namespace(project, environment),
        replicas=replicas,
        cpu_request=resources.cpu_request,
        cpu_limit=resources.cpu_limit,
        memory_request=resources.memory_request,
        memory_limit=resources.memory_limit,
        min_replicas=low,
        max_replicas=high,
        cpu_percent=scaling.cpu_percent,
        memory_percent=scaling.memory_percent,
    )


def _millicores(value: str, field: str) -> Decimal:
    match = CPU.match(value)
    if not match:
        raise InvalidInput(f"{field} must be a CPU quantity such as 250m or 0.5", field=field)
    amount = Decimal(match.group(1))
    return amount if match.group(2) else amount * 1000


def _bytes(value: str, field: str) -> Decimal:
    match = MEMORY.match(value)
    if not match:
        raise InvalidInput(f"{field} must be a memory quantity such as 512Mi or 1Gi", field=field)
    try:
        return Decimal(match.group(1)) * MEMORY_UNITS[match.group(2)]
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise InvalidInput(f"{field} is not a quantity", field=field) from exc


def _whole(value: int, field: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}", field=field)
    return value


def check_environment(env: ProjectEnvironment) -> None:
    """Every setting of `env` on its own and together (requests within limits, replicas within the bounds)."""
    if _millicores(env.cpu_request, "resources.cpuRequest") > _millicores(env.cpu_limit, "resources.cpuLimit"):
        raise InvalidInput("resources.cpuRequest exceeds resources.cpuLimit", field="resources.cpuRequest")
    if _bytes(env.memory_request, "resources.memoryRequest") > _bytes(env.memory_limit, "resources.memoryLimit"):
        raise InvalidInput("resources.memoryRequest exceeds resources.memoryLimit", field="resources.memoryRequest")
    _whole(env.replicas, "replicas", 1, MAX_REPLICAS)
    _whole(env.min_replicas, "autoscaling.minReplicas", 1, MAX_REPLICAS)
    _whole(env.max_replicas, "autoscaling.maxReplicas", env.min_replicas, MAX_REPLICAS)
    _whole(env.cpu_percent, "autoscaling.cpuPercent", 1, 100)
    _whole(env.memory_percent, "autoscaling.memoryPercent", 1, 100)
    if not env.min_replicas <= env.replicas <= env.max_replicas:
        raise InvalidInput(
            f"replicas must be between autoscaling.minReplicas ({env.min_replicas}) "
            f"and autoscaling.maxReplicas ({env.max_replicas})",
            field="replicas",
        )


def check_name(name: str, field: str) -> str:
    if not ENV_NAME.match(name or ""):
        raise InvalidInput(
            f"{field} must be an environment variable name: a letter or _, then letters, digits or _ "
            "(at most 128 characters)",
            field=field,
        )
    return name


def check_variables(variables: Sequence[tuple[str, str]]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in v.at_most(list(variables), "variables", MAX_ENTRIES):
        check_name(name, "variables.name")
        if name in checked:
            raise InvalidInput(f"variable {name} is given twice", field="variables.name")
        if len(value) > MAX_VALUE:
            raise InvalidInput(f"variable {name} is longer than {MAX_VALUE} characters", field="variables.value")
        checked[name] = value
    size = sum(len(value.encode()) for value in checked.values())
    if size > MAX_VARIABLE_BYTES:
        raise InvalidInput(
            f"the variables' values take {size} bytes; at most {MAX_VARIABLE_BYTES} in all (keep large values in "
            "secrets)",
            field="variables.value",
        )
    return checked


class EnvironmentService:
    """Members read an environment (secrets by name only); project admins change it; deploy jobs read its config."""

    def __init__(self, deps: Deps, secrets: SecretBox):
        self.deps = deps
        self.box = secrets

    async def list(self, viewer: Viewer, project_id: uuid.UUID) -> list[EnvironmentView]:
        viewer.require(Permission.PROJECT_READ)
        async with self.deps.uow() as uow:
            project = await load(uow.projects, "Project", project_id)
            await require_member(uow, viewer, project.id)
            stored = {e.environment: e for e in await uow.environments.find(project_id=project.id)}
            secrets = await uow.environment_secrets.find(project_id=project.id)
        views = []
        for environment in Environment:
            settings = stored.get(environment) or default_environment(project, environment)
            views.append(_view(settings, [s for s in secrets if s.environment_id == settings.id]))
        return views

    async def update(
        self,
        viewer: Viewer,
        project_id: uuid.UUID,
        environment: Environment,
        *,
        namespace: str | None = None,
        replicas: int | None = None,
        cpu_request: str | None = None,
        cpu_limit: str | None = None,
        memory_request: str | None = None,
        memory_limit: str | None = None,
        min_replicas: int | None = None,
        max_replicas: int | None = None,
        cpu_percent: int | None = None,
        memory_percent: int | None = None,
        variables: Sequence[tuple[str, str]] | None = None,
    ) -> EnvironmentView:
        """Change the given settings (None: unchanged); `variables` (name, value pairs) replaces the whole set."""
        async with Tx(self.deps, viewer, "environment.update") as tx:
            project, env = await self._writable(tx, project_id, environment)
            before = snapshot(env)
            changes = {
                "replicas": replicas,
                "cpu_request": cpu_request,
                "cpu_limit": cpu_limit,
                "memory_request": memory_request,
                "memory_limit": memory_limit,
                "min_replicas": min_replicas,
                "max_replicas": max_replicas,
                "cpu_percent": cpu_percent,
                "memory_percent": memory_percent,
            }
            for name, value in changes.items():
                if value is not None:
                    setattr(env, name, value.strip() if isinstance(value, str) else value)
            if variables is not None:
                env.variables = check_variables(variables)
            if namespace is not None and namespace != env.namespace:
                env.namespace = await self._check_namespace(tx.uow, project, environment, env, namespace)
            check_environment(env)
            secrets = await tx.uow.environment_secrets.find(environment_id=env.id)
            clash = sorted(set(env.variables) & {s.name for s in secrets})
            if clash:
                raise InvalidInput(f"{', '.join(clash)} is already a secret of {environment.value}", field="variables")
            env.updated_at, env.updated_by = tx.now(), viewer.user_id
            tx.audit("environment.update", ENVIRONMENTS.entity, env.id, before, env)
            tx.emit(ENVIRONMENTS.entity, env.id, "updated", project_id=project.id, data={"environment": environment})
        return _view(env, secrets)

    async def set_secret(
        self, viewer: Viewer, project_id: uuid.UUID, environment: Environment, name: str, value: str
    ) -> EnvironmentView:
        """Store `value` encrypted under `name`; the audit entry and the event say which name changed, not to what."""
        async with Tx(self.deps, viewer, "environment.secret.set") as tx:
            project, env = await self._writable(tx, project_id, environment)
            name = check_name(name, "name")
            if not value or len(value) > MAX_VALUE:
                raise InvalidInput(f"value must be 1 to {MAX_VALUE} characters", field="value")
            if name in env.variables:
                raise InvalidInput(f"{name} is already a variable of {environment.value}", field="name")
            secrets = await tx.uow.environment_secrets.find(environment_id=env.id)
            secret = next((s for s in secrets if s.name == name), None)
            size = len(value.encode()) + sum(
                len(self.box.decrypt(s.value_encrypted).encode()) for s in secrets if s is not secret
            )
            if size > MAX_SECRET_BYTES:
                raise InvalidInput(
                    f"the secrets of {environment.value} would take {size} bytes; at most {MAX_SECRET_BYTES} in all "
                    "(one Kubernetes Secret)",
                    field="value",
                )
            now = tx.now()
            before = None if secret is None else _audited(secret, environment)
            if secret is None:
                v.at_most([*secrets, name], "name", MAX_ENTRIES)
                secret = EnvironmentSecret(
                    environment_id=env.id, project_id=project.id, name=name, value_encrypted="", created_at=now
                )
                tx.uow.environment_secrets.add(secret)
                secrets.append(secret)
            secret.value_encrypted = self.box.encrypt(value)
            secret.updated_at, secret.updated_by = now, viewer.user_id
            tx.audit(
                "environment.secret.set",
                ENVIRONMENT_SECRETS.entity,
                secret.id,
                before,
                {**_audited(secret, environment), "valueChanged": True},
            )
            tx.emit(
                ENVIRONMENTS.entity,
                env.id,
                "secret_set",
                project_id=project.id,
                data={"environment": environment, "secret": name},
            )
        return _view(env, secrets)

    async def delete_secret(
        self, viewer: Viewer, project_id: uuid.UUID, environment: Environment, name: str
    ) -> EnvironmentView:
        async with Tx(self.deps, viewer, "environment.secret.delete") as tx:
            project, env = await self._writable(tx, project_id, environment)
            secrets = await tx.uow.environment_secrets.find(environment_id=env.id)
            secret = next((s for s in secrets if s.name == name), None)
            if secret is None:
                raise InvalidInput(f"{environment.value} has no secret named {name!r}", field="name")
            tx.audit("environment.secret.delete", ENVIRONMENT_SECRETS.entity, secret.id, _audited(secret, environment))
            await tx.uow.environment_secrets.delete(secret)
            tx.emit(
                ENVIRONMENTS.entity,
                env.id,
                "secret_deleted",
                project_id=project.id,
                data={"environment": environment, "secret": name},
            )
        return _view(env, [s for s in secrets if s is not secret])

    async def config_for(self, project_id: uuid.UUID, environment: Environment) -> EnvironmentConfig:
        """The environment as a deploy job needs it, secrets decrypted (no viewer: the job was authorized when
        it was requested). The first deploy stores the defaults, so a later rename keeps the namespace."""
        async with self.deps.uow() as uow:
            env = await uow.environments.find_one(project_id=project_id, environment=environment)
            secrets = await uow.environment_secrets.find(environment_id=env.id) if env else []
        if env is None:
            async with Tx(self.deps, Viewer(), "environment.create") as tx:
                project = await load(tx.uow.projects, "Project", project_id, for_update=True)
                env = await self._stored(tx, project, environment)
        return EnvironmentConfig(
            project_id=env.project_id,
            environment=env.environment,
            namespace=env.namespace,
            replicas=env.replicas,
            resources=Resources(
                cpu_request=env.cpu_request,
                cpu_limit=env.cpu_limit,
                memory_request=env.memory_request,
                memory_limit=env.memory_limit,
            ),
            autoscaling=Autoscaling(
                min_replicas=env.min_replicas,
                max_replicas=env.max_replicas,
                cpu_percent=env.cpu_percent,
                memory_percent=env.memory_percent,
            ),
            variables=dict(env.variables),
            secrets={s.name: self.box.decrypt(s.value_encrypted) for s in sorted(secrets, key=lambda s: s.name)},
        )

    async def _writable(
        self, tx: Tx, project_id: uuid.UUID, environment: Environment
    ) -> tuple[Project, ProjectEnvironment]:
        """The project (locked: its environment rows and secrets are changed one writer at a time) and its stored
        environment row, created with the defaults if there is none yet."""
        tx.viewer.require(Permission.ENVIRONMENT_MANAGE)
        project = await load(tx.uow.projects, "Project", project_id, for_update=True)
        await require_member(tx.uow, tx.viewer, project.id)
        return project, await self._stored(tx, project, environment)

    @staticmethod
    async def _stored(tx: Tx, project: Project, environment: Environment) -> ProjectEnvironment:
        env = await tx.uow.environments.find_one(project_id=project.id, environment=environment)
        if env is None:
            env = default_environment(project, environment)
            env.created_at = env.updated_at = tx.now()
            env.updated_by = tx.viewer.user_id
            tx.created(ENVIRONMENTS, env, "environment.create", project_id=project.id, new_status=None)
        return env

    @staticmethod
    async def _check_namespace(
        uow: UnitOfWork, project: Project, environment: Environment, env: ProjectEnvironment, namespace: str
    ) -> str:
        namespace = namespace.strip()
        if not DNS_LABEL.match(namespace):
            raise InvalidInput(
                "namespace must be a DNS-1123 label: at most 63 lowercase letters, digits or -, "
                "starting and ending with a letter or digit",
                field="namespace",
            )
        if namespace in SYSTEM_NAMESPACES or namespace.startswith("kube-"):
            raise InvalidInput(f"namespace {namespace} is reserved by Kubernetes", field="namespace")
        if namespace.startswith("rdflow-") and namespace != default_namespace(project, environment):
            raise InvalidInput(
                "namespaces starting with rdflow- are the defaults of other environments", field="namespace"
            )
        await uow.lock(f"environments.namespace:{namespace}")
        taken = await uow.environments.find_one(namespace=namespace)
        if taken is not None and taken.id != env.id:
            raise Conflict(f"namespace {namespace} is used by another environment")
        return namespace


def _audited(secret: EnvironmentSecret, environment: Environment) -> dict[str, object]:
    return {
        "name": secret.name,
        "environment": environment.value,
        "updatedAt": secret.updated_at.isoformat() if secret.updated_at else None,
    }


def _view(settings: ProjectEnvironment, secrets: list[EnvironmentSecret]) -> EnvironmentView:
    return EnvironmentView(
        settings=settings,
        secrets=tuple(SecretInfo(s.name, s.updated_at, s.updated_by) for s in sorted(secrets, key=lambda s: s.name)),
    )
