"""Configuration read from the environment once, by the composition root (never at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from cryptography.fernet import Fernet
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_JWT_SECRET = "rdflow-development-secret-not-for-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RDFLOW_", extra="ignore", populate_by_name=True)

    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    log_format: Literal["json", "text"] | None = None  # unset: JSON in production, text in development
    metrics_token: str | None = None  # when set, /metrics wants `Authorization: Bearer <token>`
    worker_metrics_port: int | None = None  # when set, `rdflow worker` serves /metrics on this port
    data_dir: Path = Path("var")

    database_url: str | None = Field(None, validation_alias=AliasChoices("DATABASE_URL", "RDFLOW_DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "RDFLOW_REDIS_URL"))
    redis_prefix: str = "rdflow"
    # On PostgreSQL, queries over the project/requirement/task/user connections run as one SQL statement that
    # builds the JSON (persistence/compiled_reads.py); off: every query goes through the resolvers.
    compiled_reads: bool = True

    jwt_secret: str = Field(DEFAULT_JWT_SECRET, validation_alias=AliasChoices("JWT_SECRET", "RDFLOW_JWT_SECRET"))
    jwt_issuer: str = "rdflow"
    jwt_audience: str = "rdflow-api"
    access_token_minutes: int = 30
    refresh_token_days: int = 7
    refresh_grace_s: float = Field(10.0, ge=0)

    fernet_key: str | None = None

    # Artifact storage: S3 (or any S3-compatible server) when a bucket is set, else files under data_dir.
    s3_bucket: str | None = Field(None, validation_alias=AliasChoices("S3_BUCKET", "RDFLOW_S3_BUCKET"))
    s3_endpoint_url: str | None = Field(
        None, validation_alias=AliasChoices("S3_ENDPOINT_URL", "RDFLOW_S3_ENDPOINT_URL")
    )
    s3_region: str = Field("us-east-1", validation_alias=AliasChoices("S3_REGION", "RDFLOW_S3_REGION"))
    s3_access_key_id: str | None = Field(
        None, validation_alias=AliasChoices("S3_ACCESS_KEY_ID", "RDFLOW_S3_ACCESS_KEY_ID")
    )
    s3_secret_access_key: str | None = Field(
        None, validation_alias=AliasChoices("S3_SECRET_ACCESS_KEY", "RDFLOW_S3_SECRET_ACCESS_KEY")
    )
    s3_prefix: str = Field("artifacts", validation_alias=AliasChoices("S3_PREFIX", "RDFLOW_S3_PREFIX"))

    anthropic_api_key: str | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "RDFLOW_ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "RDFLOW_ANTHROPIC_BASE_URL")
    )
    anthropic_model: str = Field(
        "claude-sonnet-5-5", validation_alias=AliasChoices("ANTHROPIC_MODEL", "RDFLOW_ANTHROPIC_MODEL")
    )
    anthropic_max_tokens: int = 4096
    anthropic_timeout_s: float = 60.0
    anthropic_max_retries: int = 3
    anthropic_breaker_fail_max: int = 5
    anthropic_breaker_reset_s: float = 30.0

    job_concurrency: int = Field(4, ge=1)
    job_heartbeat_s: float = Field(2.0, gt=0)
    job_stale_after_s: float = Field(60.0, gt=0)
    job_timeout_s: float = Field(300.0, gt=0)
    job_backoff_base_s: float = Field(2.0, gt=0)
    job_reconcile_every_s: int = Field(30, ge=1, le=60)
    job_modules: str = ""

    # runTests: the interpreter with the runner extra, and the limits of the sandbox each run gets.
    # Unset: the server's interpreter when the sandbox user can run it, else a venv under data_dir/runner/.
    test_runner_python: str | None = None
    test_timeout_s: float = Field(120.0, gt=0)
    test_cpu_s: int | None = Field(None, ge=1)  # unset: the wall-clock limit
    test_memory_mb: int = Field(2048, ge=64)
    test_max_processes: int = Field(64, ge=4)
    test_max_file_mb: int = Field(64, ge=1)
    test_max_open_files: int = Field(256, ge=16)
    test_sandbox_user: str | None = None  # as root: who runs the tests (default nobody); ignored otherwise
    test_network: Literal["auto", "isolated", "shared"] = "auto"
    # Where deployments run: the simulated cluster (embedded default) or Kubernetes through the official client.
    cluster: Literal["simulated", "kubernetes"] = "simulated"
    kubeconfig: str | None = None  # unset: the in-cluster service account when in a pod, else ~/.kube/config
    kube_context: str | None = None
    deploy_image: str = "rdflow-apps/{project}:{version}"  # also {environment}
    rollout_timeout_s: float = Field(240.0, gt=0)
    rollout_poll_s: float = Field(2.0, gt=0)
    simulated_step_s: float = Field(1.0, ge=0)  # the simulated cluster: seconds until the next replica is ready

    login_max_per_account: int = 5
    login_max_per_address: int = 30
    login_window_s: int = 300

    ws_keepalive_s: float = Field(15.0, gt=0)
    # Longer than any client's or load balancer's idle timeout (httpx 5 s, ALB 60 s): the server closing an idle
    # connection just as a client reuses it resets that client's request.
    http_keepalive_s: int = Field(75, ge=1)

    webhook_window_s: int = Field(300, ge=1, le=3600)  # a signed webhook delivery's timestamp may be this far off

    # Query responses kept per viewer while no write has committed since (server/response_cache.py); 0 MB: off.
    response_cache_mb: int = Field(64, ge=0)
    response_cache_ttl_s: float = Field(60.0, gt=0)

    max_body_bytes: int = 1_000_000
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    max_cost: int = Field(50_000, ge=1)
    introspection: bool | None = None

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        if len(self.jwt_secret) < 32:
            raise ValueError("JWT_SECRET must be at least 32 characters")
        if self.env == "production" and self.jwt_secret == DEFAULT_JWT_SECRET:
            raise ValueError("RDFLOW_ENV=production refuses the default JWT secret: set JWT_SECRET")
        if self.env == "production" and not self.fernet_key:
            raise ValueError("RDFLOW_ENV=production needs RDFLOW_FERNET_KEY to encrypt stored API keys")
        if self.fernet_key:
            try:
                Fernet(self.fernet_key)
            except ValueError as exc:
                raise ValueError(
                    "RDFLOW_FERNET_KEY must be 32 url-safe base64-encoded bytes "
                    "(make one with: python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())')"
                ) from exc
        return self

    @model_validator(mode="after")
    def _heartbeats_beat_staleness(self) -> Settings:
        if self.job_stale_after_s <= 2 * self.job_heartbeat_s:
            raise ValueError(
                "RDFLOW_JOB_STALE_AFTER_S must exceed twice RDFLOW_JOB_HEARTBEAT_S, or the reconciler "
                "re-queues jobs that are still running"
            )
        return self

    @model_validator(mode="after")
    def _deploy_image_is_a_template(self) -> Settings:
        try:
            self.deploy_image.format(project="p", version="v", environment="e")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"RDFLOW_DEPLOY_IMAGE may use {{project}}, {{version}} and {{environment}} only ({exc!r})"
            ) from exc
        return self

    @property
    def effective_rollout_timeout_s(self) -> float:
        """The rollout's wait, kept inside the job's own limit so the job can still settle the deployment."""
        return min(self.rollout_timeout_s, self.job_timeout_s * 0.8)

    @property
    def effective_test_timeout_s(self) -> float:
        """The test run's wall-clock limit, kept inside the job's own deadline so the run ends with a TestResult."""
        return min(self.test_timeout_s, 0.9 * self.job_timeout_s)

    @property
    def job_module_names(self) -> list[str]:
        """Extra job-kind modules from RDFLOW_JOB_MODULES (comma-separated), e.g. test kinds."""
        return [name.strip() for name in self.job_modules.split(",") if name.strip()]

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rdflow.db'}"

    @property
    def introspection_enabled(self) -> bool:
        return self.introspection if self.introspection is not None else self.env != "production"
