"""Project environments with write-only secrets, and the approval decision on deployments: types, inputs, roots."""

import datetime
import uuid
from typing import Any

import strawberry
from strawberry.types import Info

from domain import repos
from domain.environments import EnvironmentView, SecretInfo
from resolvers import environments, relations
from resolvers.context import RequestContext
from schema import enums as e
from schema.types import DeploymentNode, UserNode


async def _user(info: Info[RequestContext, None], user_id: Any) -> UserNode | None:
    return await relations.one(info.context, repos.USERS, user_id)


@strawberry.type(name="EnvironmentResources", description="The app container's CPU and memory requests and limits.")
class ResourcesType:
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str


@strawberry.type(name="EnvironmentAutoscaling", description="The HorizontalPodAutoscaler's bounds and targets.")
class AutoscalingType:
    min_replicas: int
    max_replicas: int
    cpu_percent: int
    memory_percent: int


@strawberry.type(name="EnvironmentVariable")
class VariableType:
    name: str
    value: str


@strawberry.type(
    name="EnvironmentSecret", description="A secret's name and when it was last set; values are write-only."
)
class SecretType:
    name: str
    updated_at: datetime.datetime | None
    updated_by_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def updated_by(self, info: Info[RequestContext, None]) -> UserNode | None:
        return await _user(info, self.updated_by_id)

    @classmethod
    def of(cls, secret: SecretInfo) -> "SecretType":
        return cls(name=secret.name, updated_at=secret.updated_at, updated_by_id=secret.updated_by)


@strawberry.type(
    name="ProjectEnvironment",
    description="A project's DEV, STAGING or PROD environment; the defaults until a project admin changes it.",
)
class EnvironmentNode:
    @strawberry.field
    def environment(self, root: strawberry.Parent[EnvironmentView]) -> e.Environment:
        return root.settings.environment

    @strawberry.field(description="The Kubernetes namespace deployments of this environment go to.")
    def namespace(self, root: strawberry.Parent[EnvironmentView]) -> str:
        return root.settings.namespace

    @strawberry.field
    def replicas(self, root: strawberry.Parent[EnvironmentView]) -> int:
        return root.settings.replicas

    @strawberry.field
    def resources(self, root: strawberry.Parent[EnvironmentView]) -> ResourcesType:
        s = root.settings
        return ResourcesType(
            cpu_request=s.cpu_request,
            cpu_limit=s.cpu_limit,
            memory_request=s.memory_request,
            memory_limit=s.memory_limit,
        )

    @strawberry.field
    def autoscaling(self, root: strawberry.Parent[EnvironmentView]) -> AutoscalingType:
        s = root.settings
        return AutoscalingType(
            min_replicas=s.min_replicas,
            max_replicas=s.max_replicas,
            cpu_percent=s.cpu_percent,
            memory_percent=s.memory_percent,
        )

    @strawberry.field
    def variables(self, root: strawberry.Parent[EnvironmentView]) -> list[VariableType]:
        return [VariableType(name=k, value=v) for k, v in sorted(root.settings.variables.items())]

    @strawberry.field(description="The names of the environment's secrets, never their values.")
    def secrets(self, root: strawberry.Parent[EnvironmentView]) -> list[SecretType]:
        return [SecretType.of(secret) for secret in root.secrets]

    @strawberry.field(description="When the settings were last changed; null while they are the defaults.")
    def updated_at(self, root: strawberry.Parent[EnvironmentView]) -> datetime.datetime | None:
        return root.settings.updated_at

    @strawberry.field
    async def updated_by(
        self, root: strawberry.Parent[EnvironmentView], info: Info[RequestContext, None]
    ) -> UserNode | None:
        return await _user(info, root.settings.updated_by)


@strawberry.input(description="Resource settings to change; omitted fields stay as they are.")
class ResourcesInput:
    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None


@strawberry.input(description="Autoscaling settings to change; omitted fields stay as they are.")
class AutoscalingInput:
    min_replicas: int | None = None
    max_replicas: int | None = None
    cpu_percent: int | None = None
    memory_percent: int | None = None


@strawberry.input
class VariableInput:
    name: str
    value: str


@strawberry.input(description="Settings to change; omitted fields stay as they are, `variables` replaces the set.")
class UpdateEnvironmentInput:
    project_id: strawberry.ID
    environment: e.Environment
    namespace: str | None = None
    replicas: int | None = None
    resources: ResourcesInput | None = None
    autoscaling: AutoscalingInput | None = None
    variables: list[VariableInput] | None = None


@strawberry.type
class EnvironmentQuery:
    @strawberry.field(description="The project's DEV, STAGING and PROD environments (members; secrets by name only).")
    async def environments(self, info: Info[RequestContext, None], project_id: strawberry.ID) -> list[EnvironmentNode]:
        return await environments.environments(info.context, project_id)


@strawberry.type
class EnvironmentMutation:
    @strawberry.mutation(description="Change an environment's namespace, size or variables (project admins).")
    async def update_environment(
        self, info: Info[RequestContext, None], input: UpdateEnvironmentInput
    ) -> EnvironmentNode:
        return await environments.update_environment(info.context, input)

    @strawberry.mutation(description="Store a secret, encrypted; it is never returned, logged or audited (admins).")
    async def set_environment_secret(
        self,
        info: Info[RequestContext, None],
        project_id: strawberry.ID,
        environment: e.Environment,
        name: str,
        value: str,
    ) -> EnvironmentNode:
        return await environments.set_secret(info.context, project_id, environment, name, value)

    @strawberry.mutation(description="Remove a secret from an environment (project admins).")
    async def delete_environment_secret(
        self, info: Info[RequestContext, None], project_id: strawberry.ID, environment: e.Environment, name: str
    ) -> EnvironmentNode:
        return await environments.delete_secret(info.context, project_id, environment, name)

    @strawberry.mutation(
        description="Refuse a deployment awaiting approval, with the reason: a project admin other than its requester."
    )
    async def reject_deployment(
        self, info: Info[RequestContext, None], id: strawberry.ID, reason: str
    ) -> DeploymentNode:
        return await environments.reject_deployment(info.context, id, reason)
