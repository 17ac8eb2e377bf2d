"""The one composition root: builds every adapter from Settings and the Services on top of them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from auth.passwords import Argon2PasswordHasher
from auth.secrets import FernetSecretBox, development_key
from auth.tokens import TokenCodec, TokenConfig
from domain.ports import (
    ArtifactStore,
    Clock,
    Cluster,
    DataVersion,
    EventBus,
    JobQueue,
    RateLimiter,
    TestRunner,
    TokenStore,
)
from domain.services.auth import LoginLimits
from domain.services.base import Deps
from domain.services.bundle import Services
from domain.services.rollout import RolloutService, RolloutSettings
from integrations.clock import SystemClock
from integrations.json_schema import JsonSchemaValidator
from integrations.llm_anthropic import AnthropicPool
from integrations.llm_factory import AnthropicDefaults, ConfiguredLLMFactory
from jobs.executor import JobExecutor
from jobs.plugins import load_handler_modules
from jobs.registry import chat_handlers, deploy_handlers, pipeline_handlers, pipeline_run_handlers, test_run_handlers
from persistence.compiled_reads import PgCompiledReader
from persistence.data_version import EmbeddedDataVersion, sqlite_file
from persistence.engine import create_engine, session_factory
from persistence.search_index import search_index_for
from persistence.uow import SqlUnitOfWorkFactory
from server.metrics import EventMetrics, JobMetrics, watch_pool
from server.outages import unavailable
from server.response_cache import BumpOrForget, ResponseCache
from server.settings import Settings

if TYPE_CHECKING:
    from integrations.redis_gets import RedisGets

log = logging.getLogger("rdflow")


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    services: Services
    bus: EventBus
    store: ArtifactStore
    queue: JobQueue
    executor: JobExecutor
    tokens: TokenCodec
    cluster: Cluster
    responses: ResponseCache | None = None  # None: responses are not cached
    # The data version every commit bumps (in every process sharing the data with Redis or a SQLite file).
    versions: DataVersion | None = None
    closers: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            await close()
        await self.engine.dispose()


def _event_bus(settings: Settings) -> EventBus:
    if settings.redis_url:
        from integrations.events_redis import RedisEventBus

        return RedisEventBus(settings.redis_url, prefix=settings.redis_prefix, observer=EventMetrics())
    if settings.workers > 1:
        # Worker processes without Redis relay their events to each other (integrations/events_relay.py).
        from integrations.events_relay import LocalRelayEventBus, relay_folder

        return LocalRelayEventBus(relay_folder(settings.data_dir), observer=EventMetrics())
    from integrations.events_memory import InProcessEventBus

    return InProcessEventBus(observer=EventMetrics())


def _artifact_store(settings: Settings) -> ArtifactStore:
    if settings.s3_bucket:
        from integrations.artifacts_s3 import S3ArtifactStore

        return S3ArtifactStore(
            settings.s3_bucket,
            settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
        )
    from integrations.artifacts_local import LocalArtifactStore

    return LocalArtifactStore(settings.data_dir / "artifacts")


def _job_queue(settings: Settings) -> JobQueue:
    if settings.redis_url:
        from jobs.arq_queue import ArqJobQueue, queue_name

        return ArqJobQueue(settings.redis_url, queue_name=queue_name(settings.redis_prefix))
    from jobs.inprocess import InProcessJobQueue

    return InProcessJobQueue(concurrency=settings.job_concurrency, timeout_s=settings.job_timeout_s)


def sandbox_runner(settings: Settings) -> TestRunner:
    """The sandbox for runTests (and `rdflow eval`); sandboxes a dead worker left behind are removed now."""
    from integrations.sandbox import SandboxConfig, SandboxLimits, SandboxTestRunner

    runner = SandboxTestRunner(
        SandboxConfig(
            root=settings.data_dir / "sandboxes",
            python=settings.test_runner_python,
            limits=SandboxLimits(
                timeout_s=settings.effective_test_timeout_s,
                cpu_s=settings.test_cpu_s or max(1, round(settings.effective_test_timeout_s)),
                memory_bytes=settings.test_memory_mb * 1024**2,
                max_processes=settings.test_max_processes,
                max_file_bytes=settings.test_max_file_mb * 1024**2,
                max_open_files=settings.test_max_open_files,
            ),
            user=settings.test_sandbox_user,
            network=settings.test_network,
        )
    )
    try:
        runner.sweep()
    except OSError as exc:
        log.warning("could not remove stale test sandboxes: %s", exc)
    return runner


def _cluster(settings: Settings) -> Cluster:
    if settings.cluster == "kubernetes":
        from integrations.cluster_kubernetes import KubernetesCluster, api_client

        return KubernetesCluster(api_client(settings.kubeconfig, settings.kube_context))
    from integrations.cluster_simulated import SimulatedCluster

    # In the data folder: every worker process watches, rolls back and supersedes the same rollouts.
    return SimulatedCluster(step_s=settings.simulated_step_s, state=settings.data_dir / "simulated-cluster.db")


def _redis_gets(settings: Settings) -> RedisGets | None:
    """The request path's batched Redis reads (revocation checks and the data version share each MGET)."""
    if not settings.redis_url:
        return None
    from integrations.redis_gets import RedisGets

    return RedisGets.from_url(settings.redis_url)


def _sessions(
    settings: Settings, engine: AsyncEngine, clock: Clock, gets: RedisGets | None
) -> tuple[TokenStore, RateLimiter]:
    """Revocations and login counters: in Redis when configured, else in the database (either way shared by every
    process and replica)."""
    if settings.redis_url:
        from integrations.rate_limit import RedisRateLimiter
        from integrations.tokens_redis import RedisTokenStore

        return (
            RedisTokenStore(settings.redis_url, clock, settings.redis_prefix, gets),
            RedisRateLimiter(settings.redis_url, settings.redis_prefix),
        )
    from persistence.rate_limits import SqlRateLimiter
    from persistence.tokens import SqlTokenStore

    return SqlTokenStore(engine, clock), SqlRateLimiter(engine, clock)


def _data_version(settings: Settings, gets: RedisGets | None) -> tuple[DataVersion, bool]:
    """The data version every write bumps, and whether every process that writes the data moves it: Redis, or a
    SQLite file's own commit counter. PostgreSQL without Redis has neither (a CLI command's writes would go
    unseen), so responses are not cached there."""
    if settings.redis_url:
        from integrations.data_version_redis import RedisDataVersion

        return RedisDataVersion(settings.redis_url, settings.redis_prefix, gets), True
    path = sqlite_file(settings.effective_database_url)
    return EmbeddedDataVersion(path), path is not None


def _response_cache(settings: Settings, versions: DataVersion, shared: bool) -> ResponseCache | None:
    if settings.response_cache_mb <= 0:
        return None
    if not shared:
        log.info("response cache off: without Redis, only a SQLite file lets every process see every write")
        return None
    return ResponseCache(versions, settings.response_cache_mb * 1024**2, settings.response_cache_ttl_s)


def build_container(settings: Settings, clock: Clock | None = None, queue: JobQueue | None = None) -> Container:
    """Every adapter chosen by `settings`; `clock` replaces the system clock (tests move time by hand) and
    `queue` the job queue (`rdflow demo` runs its jobs itself)."""
    engine = create_engine(settings.effective_database_url)
    bus = _event_bus(settings)
    store = _artifact_store(settings)
    queue = queue or _job_queue(settings)
    gets = _redis_gets(settings)
    versions, shared = _data_version(settings, gets)
    responses = _response_cache(settings, versions, shared)
    deps = Deps(
        uow=SqlUnitOfWorkFactory(
            session_factory(engine), BumpOrForget(versions, [responses] if responses is not None else [])
        ),
        bus=bus,
        clock=clock or SystemClock(),
        queue=queue,
        store=store,
        compiled=PgCompiledReader(engine) if settings.compiled_reads and engine.dialect.name == "postgresql" else None,
    )
    secrets = FernetSecretBox(settings.fernet_key or development_key(settings.data_dir))
    pool = AnthropicPool(
        timeout_s=settings.anthropic_timeout_s,
        max_retries=settings.anthropic_max_retries,
        breaker_fail_max=settings.anthropic_breaker_fail_max,
        breaker_reset_s=settings.anthropic_breaker_reset_s,
    )
    llms = ConfiguredLLMFactory(
        pool,
        AnthropicDefaults(
            api_key=settings.anthropic_api_key,
            model=settings.anthropic_model,
            base_url=settings.anthropic_base_url,
            max_tokens=settings.anthropic_max_tokens,
        ),
    )
    tokens = TokenCodec(
        TokenConfig(
            secret=settings.jwt_secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_ttl=timedelta(minutes=settings.access_token_minutes),
            refresh_ttl=timedelta(days=settings.refresh_token_days),
        )
    )
    token_store, limiter = _sessions(settings, engine, deps.clock, gets)
    services = Services.build(
        deps,
        Argon2PasswordHasher(),
        secrets,
        llms,
        JsonSchemaValidator(),
        tokens,
        token_store,
        limiter,
        tokens.config.refresh_ttl,
        LoginLimits(
            per_account=settings.login_max_per_account,
            per_address=settings.login_max_per_address,
            window_s=settings.login_window_s,
        ),
        timedelta(seconds=settings.refresh_grace_s),
        test_runner=sandbox_runner(settings),
        search_index=search_index_for(engine),
        webhook_window_s=settings.webhook_window_s,
    )
    handlers = pipeline_handlers(services.pipeline_steps)
    handlers.update(chat_handlers(services.chat_replies))
    handlers.update(test_run_handlers(services.test_runs))
    cluster = _cluster(settings)
    rollout = RolloutService(
        deps,
        cluster,
        RolloutSettings(
            image=settings.deploy_image, timeout_s=settings.effective_rollout_timeout_s, poll_s=settings.rollout_poll_s
        ),
        environments=services.environments.config_for,
    )
    handlers.update(deploy_handlers(rollout))
    handlers.update(pipeline_run_handlers(services.pipeline_runs))
    handlers.update(load_handler_modules(settings.job_module_names, known=handlers))
    executor = JobExecutor(
        services.job_lifecycle,
        handlers,
        heartbeat_s=settings.job_heartbeat_s,
        backoff_base_s=settings.job_backoff_base_s,
        outage=unavailable,
        observer=JobMetrics(),
    )
    if hasattr(queue, "bind"):
        queue.bind(executor)
    container = Container(
        settings=settings,
        engine=engine,
        services=services,
        bus=bus,
        store=store,
        queue=queue,
        executor=executor,
        tokens=tokens,
        cluster=cluster,
        responses=responses,
        versions=versions,
    )
    if gets is not None:  # closed last (closers run in reverse): the token store and the data version read through it
        container.closers.append(gets.aclose)
    container.closers.append(pool.aclose)
    container.closers.append(watch_pool(engine))
    for adapter in (bus, store, queue, token_store, limiter, cluster, versions):
        if hasattr(adapter, "aclose"):
            container.closers.append(adapter.aclose)
    return container
