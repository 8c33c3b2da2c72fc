"""Settings, read from the environment (and a ``.env`` file) by pydantic-settings.

Every setting is listed in the README with its default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasGenerator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    # a setting is read from ENGINE_<ITS NAME>, unless it names another variable (REDIS_URL,
    # GHL_..., SMSGLOBAL_...); Settings(ENGINE_...=...) takes the same names
    """The engine's settings, each read from the environment variable named by its
    ``validation_alias``. Durations carry their unit in the name (``_seconds``, ``_ms``); a
    limit says its period beside it (``key_rate_limit``: per key per minute)."""
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore",
        alias_generator=AliasGenerator(validation_alias=lambda name: "ENGINE_" + name.upper()))

    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    redis_timeout_seconds: float = Field(
        10.0, gt=0,
        description="Seconds to wait for Redis to connect or answer a command; a Redis that "
                    "stops answering (a stalled primary, a network partition) then fails the "
                    "request with 503 store_unavailable instead of holding it. Above the "
                    "engine's longest blocking read (1 s).")
    ghl_base_url: str = Field("https://services.leadconnectorhq.com", validation_alias="GHL_BASE_URL")
    smsglobal_base_url: str = Field("https://api.smsglobal.com", validation_alias="SMSGLOBAL_BASE_URL")
    secret_keys: str = ""
    secret_keys_file: Path | None = None

    # "full": the curated specs and the ones generated from GHL's official documents;
    # "curated": the curated specs only (a smaller catalog, fewer OAuth scopes)
    catalog: Literal["full", "curated"] = "full"

    http_timeout_seconds: float = 30.0
    max_attempts: int = Field(4, ge=1)
    backoff_base_seconds: float = 0.5
    backoff_max_seconds: float = 30.0
    max_retry_after_seconds: float = 60.0

    rate_burst: int = 100
    rate_window_ms: int = 10_000
    rate_margin_ms: int = 500
    rate_daily: int = 200_000
    rate_reserve: int = 20
    auth_quarantine_strikes: int = Field(
        5, ge=1,
        description="Refusals of a connection's credentials (401/403) within 10 minutes after "
                    "which it is quarantined: its calls fail at once without reaching upstream.")
    auth_quarantine_seconds: int = Field(300, ge=1)
    rate_max_wait_seconds: float = 15.0

    idempotency_ttl_seconds: int = 24 * 3600
    idempotency_lease_seconds: int = Field(
        180, ge=1,
        description="How long a claimed Idempotency-Key stays 'in progress' at most: longer than "
                    "an action's longest call (rate wait plus every attempt). Past it (a crash "
                    "mid-call), the key is free again.")
    max_connections_per_tenant: int = Field(50, ge=1)
    max_subscriptions_per_tenant: int = Field(
        200, ge=1,
        description="Subscriptions per tenant, a flow's own subscription included.")
    max_flows_per_tenant: int = Field(100, ge=1)
    secret_rotation_overlap_seconds: int = Field(
        86400, ge=0,
        description="After a subscription's signing secret is rotated, how long deliveries "
                    "still carry a signature with the old secret beside the new one.")
    min_interval_seconds: int = Field(60, ge=1)
    allow_private_targets: bool = False
    allow_http_targets: bool = False
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = Field(
        "json",
        description="json: one JSON object per line (production); console: readable lines "
                    "(make dev).")

    # GHL OAuth 2.0 (authorization-code flow): the marketplace app's credentials
    ghl_client_id: str = Field("", validation_alias="GHL_CLIENT_ID")
    ghl_client_secret: SecretStr = Field(SecretStr(""), validation_alias="GHL_CLIENT_SECRET")
    ghl_redirect_url: str = Field("", validation_alias="GHL_REDIRECT_URL")
    ghl_oauth_scopes: str = Field("", validation_alias="GHL_OAUTH_SCOPES")  # "": what the catalog needs
    ghl_authorize_url: str = Field("https://marketplace.gohighlevel.com/oauth/chooselocation",
                                   validation_alias="GHL_AUTHORIZE_URL")
    oauth_state_ttl_seconds: int = Field(600, ge=30)
    oauth_refresh_margin_seconds: int = Field(300, ge=0)
    oauth_lock_seconds: float = Field(30.0, gt=0)

    # the API's own limits
    key_rate_limit: int = Field(1200, ge=0)  # per key per minute; 0: off
    max_body_bytes: int = Field(1024 * 1024, ge=1024)

    delivery_retry_schedule: str = Field(
        "5,300,1800,7200,18000,36000,36000",
        description="Seconds to wait after each failed delivery try, comma-separated; after the "
                    "last one the delivery goes to the dead-letter list.")
    delivery_timeout_seconds: float = 10.0
    delivery_lease_seconds: float = 60.0
    delivery_max_response_bytes: int = 65536
    poll_lease_seconds: float = 60.0
    poll_concurrency: int = Field(
        96, ge=1, le=1000,
        description="Polls one worker process runs at once. Each waits for upstream most of its "
                    "time, so a worker serves at most this many ÷ upstream latency (s) polls a "
                    "second (96 at 0.2 s: 480/s) whatever its CPU. Kept under the upstream "
                    "client's 100 kept-alive connections, so polls do not open new ones.")
    deep_read_every_seconds: float = Field(
        900.0, ge=0,
        description="How often a watch's poll reads the whole overlap window (catching items "
                    "later than its lateness margin); 0: on every poll.")
    interval_unit_seconds: float = Field(
        60.0, gt=0,
        description="Length of one 'minute' of a subscription's interval_minutes; shorten it only "
                    "for demos and tests.")

    # pushed events (engine.inbound): GHL's webhook keys, replay window, queue, pokes
    public_url: str = Field(
        "",
        description="The engine's public base URL (https://engine.example.com); when set, SMS sends "
                    "carry notifyUrl and incomingUrl so SMSGlobal pushes receipts and replies.")
    ghl_webhook_public_key: str = Field(
        "", validation_alias="GHL_WEBHOOK_PUBLIC_KEY",
        description="GHL's Ed25519 webhook public key: PEM, or the 32 raw bytes as hex or base64.")
    ghl_webhook_legacy_key: str = Field(
        "", validation_alias="GHL_WEBHOOK_LEGACY_PUBLIC_KEY",
        description="GHL's RSA public key (PEM) for the legacy x-wh-signature, tried last.")
    inbound_max_age_seconds: float = Field(300.0, gt=0)
    inbound_seen_ttl_seconds: int = Field(3600, ge=60)
    inbound_queue_max: int = Field(100_000, ge=1)
    event_debounce_ms: int = Field(1000, ge=0)
    reconcile_interval_seconds: float = Field(
        900.0, gt=0,
        description="How often a watch that receives events still polls, to catch missed events.")
    event_fallback_seconds: float = Field(
        3600.0, gt=0,
        description="A watch with no event for this long polls at its own interval again.")
    # SMSGlobal as GHL's conversation provider (engine/provider)
    provider_sms_burst: int = Field(30, ge=1,
                                    description="SMS a provider may send per SMSGlobal account in "
                                                "one ENGINE_PROVIDER_SMS_WINDOW_MS window.")
    provider_sms_window_ms: int = Field(1000, ge=1)
    provider_sms_daily: int = Field(100_000, ge=1)
    provider_lease_seconds: float = Field(60.0, gt=0,
                                          description="How long one worker holds a provider "
                                                      "message before another may take it over.")
    provider_status_retry_seconds: float = Field(
        600.0, gt=0,
        description="How long a refused GHL status call (401/403 right after a send) is retried.")

    def retry_schedule(self) -> list[float]:
        """``delivery_retry_schedule`` parsed: the waits in seconds after each failed delivery
        try, in order (blank entries skipped); raises ValueError on a non-number."""
        return [float(s) for s in self.delivery_retry_schedule.split(",") if s.strip()]

    def fernet_keys(self) -> list[str]:
        """The Fernet keys (urlsafe base64 strings; the first encrypts, all decrypt): those of
        ``ENGINE_SECRET_KEYS``, else of the file ``ENGINE_SECRET_KEYS_FILE`` names, separated by
        commas or newlines; ``[]`` when neither is set."""
        raw = self.secret_keys
        if not raw and self.secret_keys_file and self.secret_keys_file.exists():
            raw = self.secret_keys_file.read_text()
        return [k.strip() for k in raw.replace("\n", ",").split(",") if k.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once and cached (``get_settings.cache_clear()`` reads them
    again); raises pydantic's ValidationError on a malformed variable."""
    return Settings()
