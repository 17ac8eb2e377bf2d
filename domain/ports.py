"""Ports: the Protocols the domain needs from the outside world; adapters implement them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from domain import model
from domain.compiled import ReadPlan
from domain.enums import Environment, TestType
from domain.environments import DeploySpec
from domain.errors import DomainError
from domain.events import DomainEvent, SubscriberOverflow
from domain.paging import ListQuery, Page
from domain.permissions import Viewer
from domain.search import SearchHit, SearchKind, SearchTerms

T = TypeVar("T")


class Repository(Protocol, Generic[T]):
    async def get(self, entity_id: Any) -> T | None: ...
    async def get_for_update(self, entity_id: Any) -> T | None:
        """The entity, locked until the transaction ends (concurrent writers wait)."""
        ...

    async def get_many(self, ids: Iterable[Any]) -> list[T]: ...
    async def find(self, **equals: Any) -> list[T]: ...
    async def find_one(self, **equals: Any) -> T | None: ...
    async def find_in(self, field: str, values: Iterable[Any]) -> list[T]: ...
    async def list(self, query: ListQuery) -> Page[T]: ...
    async def list_by(self, field: str, keys: Sequence[Any], query: ListQuery) -> dict[Any, Page[T]]: ...
    def read_only(self) -> Repository[T]:
        """This repository for reads that change and add nothing: the entities it returns belong to no session."""
        ...

    async def count_by(self, field: str, keys: Sequence[Any], query: ListQuery) -> dict[Any, int]:
        """How many rows `list_by` would page through per key (a key without rows is absent)."""
        ...

    async def sum_by(self, group_field: str, keys: Sequence[Any], fields: Sequence[str]) -> dict[Any, dict[str, Any]]:
        """Totals of `fields` per value of `group_field` among `keys` (a key without rows is absent)."""
        ...

    def add(self, entity: T) -> None: ...
    async def delete(self, entity: T) -> None: ...


class UnitOfWork(Protocol):
    """One transaction over every repository; `commit` makes the changes durable."""

    users: Repository[model.User]
    projects: Repository[model.Project]
    members: Repository[model.ProjectMember]
    requirements: Repository[model.Requirement]
    prds: Repository[model.PrdDocument]
    tasks: Repository[model.Task]
    dependencies: Repository[model.TaskDependency]
    artifacts: Repository[model.CodeArtifact]
    test_results: Repository[model.TestResult]
    deployments: Repository[model.Deployment]
    environments: Repository[model.ProjectEnvironment]
    environment_secrets: Repository[model.EnvironmentSecret]
    jobs: Repository[model.Job]
    audit: Repository[model.AuditEntry]
    ai_models: Repository[model.AiModelConfig]
    prompts: Repository[model.PromptTemplate]
    conversations: Repository[model.Conversation]
    chat_messages: Repository[model.ChatMessage]
    pipelines: Repository[model.PipelineDefinition]
    pipeline_runs: Repository[model.PipelineRun]
    pipeline_stages: Repository[model.PipelineStage]
    webhook_deliveries: Repository[model.WebhookDelivery]

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(self, *exc: object) -> None: ...
    def begin_write(self) -> None:
        """Make this a write transaction, serialised with the other writers where the database has no row locks."""
        ...

    async def lock(self, name: str) -> None:
        """Hold a lock on `name` until the transaction ends (for a check that no single row guards)."""
        ...

    async def commit(self) -> None:
        """Make the changes durable; a unique key or a lost race raises Conflict."""
        ...

    async def rollback(self) -> None: ...
    async def flush(self) -> None: ...


class CompiledReader(Protocol):
    """Answers a read plan with one statement that builds each root's JSON in the database (None: a looked-up row
    that is missing or out of the plan's scope)."""

    async def read(self, plan: ReadPlan) -> list[str | None]: ...


class DataVersion(Protocol):
    """A value that changes after every committed write, on every replica and process sharing the data: a cached
    response computed under one version is current while `current()` still returns it."""

    def current(self) -> Awaitable[Hashable]:
        """The version as read at some moment between this call and the end of its await (read before a response is
        computed, compared before a stored one is served). Asked when called, so an adapter may send the read
        together with others the request asks for before awaiting it."""
        ...

    async def bump(self) -> None:
        """Announce a committed write: every later `current()`, in any process, returns a different version."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class EventBus(Protocol):
    """Delivers committed domain events to subscribers on every replica."""

    async def publish(self, event: DomainEvent) -> None: ...

    def subscribe(
        self,
        topics: Sequence[str],
        on_overflow: Callable[[SubscriberOverflow], None] | None = None,
        direct: Callable[[DomainEvent], bool] | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[DomainEvent]]:
        """Events on `topics` until the context ends; a subscriber `max_pending` events behind is dropped:
        its iterator raises SubscriberOverflow and `on_overflow` is called at once (from the publisher).
        `direct`, when given, is offered each event from the publisher while the iterator waits with nothing queued
        (so order holds); True means it was delivered without the iterator, False queues it for the iterator."""
        ...


class JobQueue(Protocol):
    """Runs job rows by id; enqueueing the same id twice runs the work once."""

    async def enqueue(self, job_id: uuid.UUID, kind: str) -> None: ...
    async def cancel(self, job_id: uuid.UUID) -> None: ...


@dataclass(frozen=True)
class LLMResult:
    data: dict[str, Any]
    model: str
    input_tokens: int = 0
    output_tokens: int = 0


# --- LLM streaming (chat) ---


@dataclass(frozen=True)
class ChatTurn:
    """One message of a conversation as the model sees it: role "user" or "assistant"."""

    role: str
    text: str


@dataclass(frozen=True)
class StreamUsage:
    """Tokens counted so far by a streamed answer (each one yielded replaces the previous)."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0


class LLM(Protocol):
    """A structured-output language model: returns JSON matching `schema`; and a streamed prose answer."""

    name: str

    async def complete_json(
        self, *, step: str, system: str, prompt: str, schema: dict[str, Any], context: dict[str, Any]
    ) -> LLMResult: ...

    def stream_text(
        self, *, system: str, messages: Sequence[ChatTurn], context: dict[str, Any]
    ) -> AsyncIterator[str | StreamUsage]:
        """The answer to the last user turn: text deltas in order, interleaved with StreamUsage as counts become known
        (the last one is the total). Closing the iterator (or cancelling its reader) ends the upstream call.
        `context` is the structured form of what `system` describes (a provider without a model reads it)."""
        ...


class ArtifactStore(Protocol):
    """Content-addressed blob storage for generated files."""

    async def put(self, content: bytes, *, content_type: str = "text/plain") -> str: ...
    async def get(self, key: str) -> bytes: ...
    async def exists(self, key: str) -> bool: ...


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password: str, password_hash: str) -> bool: ...


class SecretBox(Protocol):
    """Symmetric encryption of secrets at rest (API keys)."""

    def encrypt(self, plaintext: str) -> str: ...
    def decrypt(self, token: str) -> str: ...


class LLMFactory(Protocol):
    """Builds the LLM for a stored model configuration (None: the deployment's default provider)."""

    def create(self, config: Any, api_key: str | None) -> LLM: ...


class TokenCodecPort(Protocol):
    """Signs and verifies tokens carrying the brief's claims."""

    def issue(
        self, user: Any, typ: str, now: datetime, *, family: str | None = None, jti: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A signed token and its claims; `jti` (default: a random one) names the token for revocation."""
        ...

    def decode(self, token: str, typ: str) -> dict[str, Any]: ...


class TokenStore(Protocol):
    """Revocation state shared by every replica. Keys: `jti:<id>`, `family:<id>`, `refresh:<id>`, `grace:<id>`."""

    async def revoke(self, key: str, expires_at: datetime) -> None: ...
    async def is_revoked(self, *keys: str) -> bool: ...
    async def claim_once(self, key: str, expires_at: datetime) -> bool:
        """Record `key`; True the first time, False when it was already recorded (a reuse)."""
        ...


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: int) -> int:
        """Count one attempt; returns seconds to wait when over `limit` in the window, else 0."""
        ...


# --- Test runs: running an artifact's tests in a sandbox (the TestRunner port and what it reports) ---


@dataclass(frozen=True)
class SourceFile:
    """One file to materialise in the sandbox: a relative POSIX path and its bytes."""

    path: str
    content: bytes


@dataclass(frozen=True)
class FailedTest:
    name: str
    message: str


@dataclass(frozen=True)
class CoverageTotals:
    covered_lines: int
    num_statements: int
    percent: float


@dataclass(frozen=True)
class TestRunReport:
    """What one sandboxed run produced. `error` is set when the run itself broke (time limit, a crash, no tests):
    then the counts are whatever was reported before it broke."""

    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    duration_ms: int = 0
    failures: tuple[FailedTest, ...] = ()
    coverage: CoverageTotals | None = None
    exit_code: int | None = None
    error: str | None = None
    output: str = ""
    details: dict[str, Any] | None = None


class TestRunner(Protocol):
    """Runs the tests among `files` in a throw-away sandbox with resource limits; never raises for what the tests
    do (a loop, a crash, a fork bomb are reported in `error`), only when the runner itself cannot work."""

    async def run(self, run_id: str, files: Sequence[SourceFile], test_type: TestType) -> TestRunReport: ...


# --- search (project search, the knowledge base) ---
class SearchIndex(Protocol):
    """Full-text index over a project's requirements, PRDs, tasks, artifacts and conversations, kept in step with
    every write by the database itself (triggers), so it is exact within the writing transaction."""

    async def search(
        self, project_id: uuid.UUID, terms: SearchTerms, kinds: Sequence[SearchKind], first: int
    ) -> list[SearchHit]:
        """The best `first` hits of `kinds` in the project, best first (ties: by kind, then id)."""


# --- Cluster: where a project's deployments run (Kubernetes, or the simulated cluster of the embedded mode) ---


class ClusterRefused(DomainError):
    """The cluster refused a request for good (forbidden, invalid): retrying the same request cannot help."""


@dataclass(frozen=True)
class RolloutState:
    """A Deployment's rollout as the cluster reports it; `failure` names why it cannot finish."""

    desired: int
    updated: int
    available: int
    failure: str | None = None
    deployment_id: str | None = None  # the rdflow deployment whose pod template the cluster runs now

    @property
    def complete(self) -> bool:
        """Every wanted replica runs the new revision and is available (what `kubectl rollout status` waits for)."""
        return self.failure is None and self.updated >= self.desired and self.available >= self.desired


class Cluster(Protocol):
    """Applies a project's workload and reports its rollout. Namespaces are per environment.

    Failures: ClusterRefused when the cluster refuses for good, RetryableError when it may answer later.
    """

    async def apply(self, spec: DeploySpec) -> list[str]:
        """Create or update the Secret, Deployment, Service and HPA of `spec`; one line per object applied."""
        ...

    async def rollout(self, namespace: str, name: str) -> RolloutState:
        """The current rollout state of Deployment `name`."""
        ...

    async def pod_logs(self, namespace: str, name: str, *, tail_lines: int = 20) -> list[str]:
        """The last lines each pod of Deployment `name` wrote, each prefixed with its pod's name."""
        ...

    async def live_revision(self, namespace: str, name: str) -> str | None:
        """The revision (the `version` label) the Deployment `name` runs now, None when there is none."""
        ...


# --- Pipelines: what a pipeline stage asks of the rest of rdflow (test runs and deployments) ---


@dataclass(frozen=True)
class StageWork:
    """What a stage started: the job doing its work, or the deployment it rolls out."""

    job_id: uuid.UUID | None = None
    deployment_id: uuid.UUID | None = None


@dataclass(frozen=True)
class StageOutcome:
    passed: bool
    message: str


class StageActions(Protocol):
    """Starts a stage's work through the use cases a person would call, acting as `viewer` (their own transactions);
    the pipeline follows the started job or deployment through the events its changes emit."""

    async def run_tests(self, viewer: Viewer, artifact_id: uuid.UUID, test_type: TestType) -> StageWork: ...

    async def test_outcome(self, uow: UnitOfWork, job: model.Job) -> StageOutcome:
        """How a finished test-run job went (read in the transaction that saw it end)."""
        ...

    async def deploy(
        self,
        viewer: Viewer,
        project_id: uuid.UUID,
        environment: Environment,
        version: str,
        artifact_ids: list[uuid.UUID],
    ) -> StageWork: ...
