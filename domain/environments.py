"""What a deploy needs to know about a project's environment: namespace, size, variables and secrets."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from domain.enums import Environment
from domain.model import ProjectEnvironment


@dataclass(frozen=True)
class Resources:
    """Kubernetes requests and limits of the app container (note 000's defaults)."""

    cpu_request: str = "250m"
    cpu_limit: str = "500m"
    memory_request: str = "512Mi"
    memory_limit: str = "1Gi"


@dataclass(frozen=True)
class Autoscaling:
    """The HorizontalPodAutoscaler's bounds and utilisation targets (note 000's defaults)."""

    min_replicas: int = 3
    max_replicas: int = 10
    cpu_percent: int = 70
    memory_percent: int = 80


@dataclass(frozen=True)
class EnvironmentConfig:
    """One project environment as a deploy job sees it; `secrets` hold plaintext and live only in that job's memory."""

    project_id: uuid.UUID
    environment: Environment
    namespace: str
    replicas: int
    resources: Resources = Resources()
    autoscaling: Autoscaling = Autoscaling()
    variables: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DeploySpec:
    """Everything a Cluster needs to roll one deployment out."""

    deployment_id: uuid.UUID
    name: str
    revision: str
    image: str
    environment: EnvironmentConfig


@dataclass(frozen=True)
class SecretInfo:
    """What anyone may know about a secret: its name, when and by whom it was last set. Never its value."""

    name: str
    updated_at: datetime | None
    updated_by: uuid.UUID | None


@dataclass(frozen=True)
class EnvironmentView:
    """An environment as members read it: its settings (defaults until first changed) and its secrets' names."""

    settings: ProjectEnvironment
    secrets: tuple[SecretInfo, ...]
