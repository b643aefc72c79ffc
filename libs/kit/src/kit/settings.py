"""Configuration common to every deployable, read from MOTCUA_* environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    """Adapters and endpoints; each service extends this with its own fields."""

    model_config = SettingsConfigDict(env_prefix="MOTCUA_", extra="ignore")

    service_name: str = "motcua"
    host: str = "127.0.0.1"
    port: int = 8000

    bus: Literal["kafka", "memory"] = "memory"
    store: Literal["mongodb", "sqlite"] = "sqlite"
    cache: Literal["redis", "memory"] = "memory"

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Prefixes keep several platforms (or test runs) apart on one shared broker/server.
    topic_prefix: str = ""
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    database_prefix: str = "motcua_"
    sqlite_dir: Path = Path("var/data")
    redis_url: str = "redis://127.0.0.1:6379/0"
    cache_prefix: str = ""

    # Consumer retry policy before a message is parked on <topic>.dlq.
    consumer_retries: int = Field(default=5, ge=0)
    consumer_backoff_seconds: float = Field(default=0.2, ge=0)
    consumer_max_backoff_seconds: float = Field(default=5.0, ge=0)

    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    # The relay's scan for events another process (or a crash) left in an outbox; this process's own
    # writes are published at once, without a scan.
    outbox_sweep_seconds: float = Field(default=10.0, gt=0)
    # /health/ready waits this long for each dependency (the Kubernetes readiness probe allows 3 s).
    readiness_timeout_seconds: float = Field(default=2.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # When set, bodies other than multipart/form-data (JSON) are held to this smaller limit: a service
    # that raises max_body_bytes for file uploads keeps its JSON routes small.
    max_non_multipart_body_bytes: int | None = Field(default=None, gt=0)

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_endpoint: str = "http://127.0.0.1:4318"
    otel_metrics_export_seconds: float = Field(default=15.0, gt=0)
    # Share of the traces started here that are recorded and exported (children follow their parent's
    # choice): 1 records every request; a busy lookup path can do with 0.05.
    otel_traces_sample_ratio: float = Field(default=1.0, ge=0, le=1)
    metrics_refresh_seconds: float = Field(default=15.0, gt=0)  # gauges read from the store (outbox, dossiers)
    # When set, `/metrics` answers only `Authorization: Bearer <token>` (a deployable reachable from outside).
    metrics_token: SecretStr | None = None

    @property
    def database_name(self) -> str:
        return f"{self.database_prefix}{self.service_name}"
