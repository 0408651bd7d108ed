"""Settings every service shares, read from the environment with a prefix per service."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.calendar import local_today
from libs.common.events import DEFAULT_SCHEMA_BASE_URL

#: Where `make run` keeps its files when no database URL is given.
DATA_DIR = Path(".data")

#: Where Kubernetes mounts the secret settings as files, one per setting named as its environment
#: variable (`PB_AUTH_SECRET`, `PB_REGISTRY_DATABASE_URL`, `NATS_URL`); read when it exists. The
#: environment wins over a file.
SECRETS_DIR = Path("/run/secrets/pb")

#: Used only when no secret is configured; `make run` and tests rely on it, production must not.
DEVELOPMENT_AUTH_SECRET = "development-only-secret-change-me-0123456789"

#: Likewise for the key of the keyed hashes of personal identifiers (`libs.common.identity`).
DEVELOPMENT_IDENTITY_KEY = "development-only-identity-key-change-me-0123456789"

#: Likewise for the key that seals webhook secrets at rest (`libs.common.webhooks.signing`).
DEVELOPMENT_WEBHOOK_KEY = "development-only-webhook-key-change-me-0123456789"


def identity_key_field(service_name: str, description: str) -> Any:
    """The `identity_key` setting of a service that keeps personal identifiers as keyed hashes.

    Read from `PB_IDENTITY_KEY`, the one key all services share (a worker's phone hashed by
    stations must equal the registry's hash of the same phone, or nothing ever matches), or
    from `PB_<SERVICE>_IDENTITY_KEY`, which wins where both are set."""
    return Field(
        default=SecretStr(DEVELOPMENT_IDENTITY_KEY),
        validation_alias=AliasChoices(
            f"PB_{service_name.upper()}_IDENTITY_KEY", "PB_IDENTITY_KEY", "identity_key"
        ),
        description=description,
    )


class ServiceSettings(BaseSettings):
    """The settings of one service. A subclass sets the default of `service_name`; its
    environment prefix follows from it (`registry` reads `PB_REGISTRY_*`)."""

    model_config = SettingsConfigDict(
        extra="ignore",
        populate_by_name=True,
        secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None,
    )

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        name = cls.model_fields["service_name"].default
        cls.model_config["env_prefix"] = f"PB_{str(name).upper()}_"

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = Field(
        default="",
        description="The URL clients reach the service at (e.g. https://pb.example.org/registry): "
        "listed in its OpenAPI servers after the relative /; empty: only /",
    )
    database_url: str = ""
    role: Literal["all", "api", "worker", "relay"] = Field(
        default="all",
        description="What this process runs: all (HTTP, outbox relay, consumers, background "
        "workers), api (HTTP only), worker (relay, consumers and workers, with only "
        "/healthz, /readyz and /metrics over HTTP) or relay (the outbox relay alone, with the "
        "same three); `python -m services.<name> worker` (or `relay`) is one whatever this says",
    )
    relay_process: bool = Field(
        default=False,
        description="The outbox is relayed by a process of its own (`python -m "
        "services.<name> relay`), not by the roles all and worker: a bulk import's relaying "
        "then takes none of the importing process's interpreter",
    )
    migrate_on_start: bool = Field(
        default=True, description="Run the Alembic migrations to head when the service starts."
    )

    # Shared by all services, so read without the per-service prefix.
    nats_url: str = Field(
        default="nats://127.0.0.1:4222",
        validation_alias=AliasChoices("NATS_URL", "nats_url"),
        description="NATS server URL(s), comma-separated",
    )
    events_schema_base_url: str = Field(
        default=DEFAULT_SCHEMA_BASE_URL,
        validation_alias=AliasChoices("PB_EVENTS_SCHEMA_BASE_URL", "events_schema_base_url"),
        description="Where the event JSON Schemas are published: each event's `ce-dataschema` "
        "is this plus `<type>.json` (docs/events/schemas/ served there)",
    )
    stream_replicas: int = Field(default=1, ge=1, le=5)
    stream_storage: Literal["file", "memory"] = "file"
    stream_max_age_days: float = Field(default=30.0, gt=0)
    stream_max_bytes: int = Field(
        default=1 << 30,
        ge=1 << 20,
        description="Byte limit of the service's event stream (the oldest events go first at "
        "it, as at the age limit); the limits of all streams must sum well below the NATS file "
        "store (docs: deploy/README.md, 'Stream sizes')",
    )
    dead_letter_max_bytes: int = Field(
        default=128 << 20, ge=1 << 20, description="Byte limit of the dead-letter stream"
    )
    duplicate_window_seconds: float = Field(default=120.0, gt=0)

    outbox_batch_size: int = Field(default=1000, ge=1)
    outbox_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="How often an idle relay looks for new events while no commit of its own "
        "process woke it",
    )
    outbox_process_poll_seconds: float = Field(
        default=0.02,
        gt=0,
        description="The same for a relay in a process of its own (role relay), which no "
        "commit wakes: what it adds to an event's way from the commit to the stream",
    )
    outbox_ack_timeout_seconds: float = Field(default=10.0, gt=0)
    outbox_retention_days: float = Field(default=7.0, ge=0)

    inbox_batch_size: int = Field(default=256, ge=1)
    inbox_max_deliveries: int = Field(default=5, ge=1)
    inbox_backoff_seconds: list[float] = Field(default=[1.0, 5.0, 30.0, 120.0])
    inbox_ack_wait_seconds: float = Field(
        default=10.0,
        ge=1,
        description="How long the server waits for a delivered event's ack before it hands the "
        "event to another consumer: what a killed consumer's events wait. A consumer working on a "
        "batch tells the server so every third of this (in progress), so a slow batch is never "
        "redelivered while it is worked on; a durable made with another value is updated on start",
    )
    inbox_fetch_seconds: float = Field(
        default=1.0,
        gt=0,
        le=30,
        validation_alias=AliasChoices("PB_INBOX_FETCH_SECONDS", "inbox_fetch_seconds"),
        description="How long one pull waits for messages when the stream is idle; also how "
        "long a stop may wait for the pull under way (it is not cancelled)",
    )
    inbox_retention_days: float = Field(
        default=30.0,
        gt=0,
        description="How long applied event ids are remembered; longer than any producer's "
        "outbox retention, so a re-published event is still recognised",
    )

    auth_secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_AUTH_SECRET),
        validation_alias=AliasChoices("PB_AUTH_SECRET", "auth_secret"),
        description="HMAC key that signs and verifies bearer tokens",
    )
    auth_issuer: str = Field(
        default="pb-dev", validation_alias=AliasChoices("PB_AUTH_ISSUER", "auth_issuer")
    )
    auth_token_max_hours: float = Field(
        default=12.0,
        gt=0,
        validation_alias=AliasChoices("PB_AUTH_TOKEN_MAX_HOURS", "auth_token_max_hours"),
        description="The longest a bearer token may live (its exp - iat, and exp - now): a "
        "token issued for longer is refused",
    )
    tracing_exporter: Literal["none", "console", "otlp"] = Field(
        default="none",
        validation_alias=AliasChoices("PB_TRACING_EXPORTER", "tracing_exporter"),
        description="Where spans go (the OTLP endpoint comes from OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    tracing_sample_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        validation_alias=AliasChoices("PB_TRACING_SAMPLE_RATIO", "tracing_sample_ratio"),
    )
    tracing_export_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        le=30,
        validation_alias=AliasChoices(
            "PB_TRACING_EXPORT_TIMEOUT_SECONDS", "tracing_export_timeout_seconds"
        ),
        description="How long one export may wait on the collector, retries included: with the "
        "collector down, spans are dropped after it and shutdown waits no longer",
    )
    webhook_secret_key: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_WEBHOOK_KEY),
        validation_alias=AliasChoices("PB_WEBHOOK_SECRET_KEY", "webhook_secret_key"),
        description="Key that seals the webhook subscriptions' signing secrets in the store",
    )
    webhook_allow_local_targets: bool = Field(
        default=False,
        validation_alias=AliasChoices(
            "PB_WEBHOOK_ALLOW_LOCAL_TARGETS", "webhook_allow_local_targets"
        ),
        description="Development and tests only: webhook targets may be loopback or private "
        "addresses, and http:// on loopback. Off (production): https:// to public addresses",
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, description="Attempts at one webhook delivery before it is a failure"
    )
    webhook_backoff_seconds: list[float] = Field(
        default=[5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 7200.0],
        description="Delay before each retry of a webhook delivery (the last one repeats)",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long one webhook POST may take"
    )
    webhook_refresh_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the delivery worker reads the subscriptions (a change, a new "
        "subscription or a replay starts delivering within this)",
    )
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("PB_LOG_LEVEL", "log_level")
    )
    log_format: Literal["json", "console"] = Field(
        default="json", validation_alias=AliasChoices("PB_LOG_FORMAT", "log_format")
    )

    @property
    def stream_name(self) -> str:
        return f"PB_{self.service_name.upper()}"

    @property
    def dead_letter_stream_name(self) -> str:
        return f"PB_DLQ_{self.service_name.upper()}"

    def development_keys(self) -> list[str]:
        """Names of the secrets still at their development-only defaults (warned about at start)."""
        if self.auth_secret.get_secret_value() == DEVELOPMENT_AUTH_SECRET:
            return ["PB_AUTH_SECRET"]
        return []

    def resolved_database_url(self) -> str:
        """The configured URL, or a SQLite file in the project's data folder."""
        if self.database_url:
            return self.database_url
        DATA_DIR.mkdir(exist_ok=True)
        return f"sqlite+aiosqlite:///{(DATA_DIR / f'{self.service_name}.db').resolve()}"


class OfficeCalendar(BaseModel):
    """A setting for services whose rules run on the offices' day (`PB_<SERVICE>_CALENDAR_DAY`):
    mixed into their settings, it fixes that day for rehearsals and tests."""

    calendar_day: date | None = Field(
        default=None,
        description="Fix the offices' day (rehearsals and tests): what is due, judged, counted "
        "or snapshotted is as of it. Default: today in the offices' time zone",
    )

    def office_today(self) -> date:
        """The offices' day: `calendar_day` when fixed, else today in Asia/Shanghai."""
        return self.calendar_day or local_today()
