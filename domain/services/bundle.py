"""`Services`: every use case of the pipeline, built from one set of ports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.ai.schema_check import SchemaValidator
from domain.model import AuditEntry
from domain.permissions import Permission
from domain.ports import (
    LLMFactory,
    PasswordHasher,
    RateLimiter,
    SearchIndex,
    SecretBox,
    TestRunner,
    TokenCodecPort,
    TokenStore,
)
from domain.repos import AUDIT
from domain.services.access import EntityReads
from domain.services.ai_config import AiConfigService
from domain.services.artifacts import ArtifactService
from domain.services.auth import REFRESH_GRACE, AuthService, LoginLimits
from domain.services.base import Deps
from domain.services.chat import ChatService
from domain.services.chat_reply import ChatReplies
from domain.services.chat_search import search_for_chat
from domain.services.deployments import DeploymentService
from domain.services.environments import EnvironmentService
from domain.services.jobs import JobLifecycle, JobService
from domain.services.live import LiveUpdates
from domain.services.pipeline import PipelineService
from domain.services.pipeline_hooks import PipelineWebhooks
from domain.services.pipeline_runs import PipelineRunService
from domain.services.pipeline_stages import UseCaseStageActions
from domain.services.pipeline_steps import PipelineSteps
from domain.services.projects import ProjectService
from domain.services.reads import ReadService
from domain.services.requirements import RequirementService
from domain.services.search import SearchService
from domain.services.tasks import TaskService
from domain.services.users import UserService
from domain.services.verification import TestResultService, TestRunService


@dataclass
class Services:
    deps: Deps
    users: UserService
    projects: ProjectService
    requirements: RequirementService
    tasks: TaskService
    artifacts: ArtifactService
    test_results: TestResultService
    test_runs: TestRunService
    deployments: DeploymentService
    environments: EnvironmentService
    reads: ReadService
    jobs: JobService
    job_lifecycle: JobLifecycle
    live: LiveUpdates
    pipeline: PipelineService
    pipeline_steps: PipelineSteps
    ai_config: AiConfigService
    auth: AuthService
    audit: EntityReads[AuditEntry]
    chat: ChatService
    chat_replies: ChatReplies
    pipeline_runs: PipelineRunService
    pipeline_webhooks: PipelineWebhooks
    search: SearchService

    @classmethod
    def build(
        cls,
        deps: Deps,
        hasher: PasswordHasher,
        secrets: SecretBox,
        llms: LLMFactory,
        validator: SchemaValidator,
        tokens: TokenCodecPort,
        token_store: TokenStore,
        limiter: RateLimiter,
        refresh_ttl: timedelta,
        login_limits: LoginLimits = LoginLimits(),
        refresh_grace: timedelta = REFRESH_GRACE,
        test_runner: TestRunner | None = None,
        search_index: SearchIndex | None = None,
        webhook_window_s: int = 300,
    ) -> Services:
        users = UserService(deps, hasher)
        projects, deployments, jobs = ProjectService(deps), DeploymentService(deps), JobService(deps)
        test_runs = TestRunService(deps, test_runner)
        runs = PipelineRunService(deps, UseCaseStageActions(test_runs, deployments))
        # Runs advance in the transaction where a stage's test run or deployment ends.
        deps.reactions.append(runs.react)
        live = LiveUpdates(deps, jobs, deployments, projects, runs)
        search = SearchService(deps, search_index)
        return cls(
            deps=deps,
            users=users,
            projects=projects,
            requirements=RequirementService(deps),
            tasks=TaskService(deps),
            artifacts=ArtifactService(deps),
            test_results=TestResultService(deps),
            test_runs=test_runs,
            deployments=deployments,
            environments=EnvironmentService(deps, secrets),
            reads=ReadService(deps),
            jobs=jobs,
            job_lifecycle=JobLifecycle(deps),
            live=live,
            pipeline=PipelineService(deps),
            pipeline_steps=PipelineSteps(deps, llms, secrets, validator),
            ai_config=AiConfigService(deps, secrets),
            auth=AuthService(
                deps, users, hasher, tokens, token_store, limiter, refresh_ttl, login_limits, refresh_grace
            ),
            audit=EntityReads(deps, AUDIT, Permission.AUDIT_READ, in_project=False),
            search=search,
            chat=ChatService(deps, jobs, live),
            chat_replies=ChatReplies(deps, llms, secrets, search=search_for_chat(search)),
            pipeline_runs=runs,
            pipeline_webhooks=PipelineWebhooks(deps, runs, secrets, webhook_window_s),
        )
