"""Settings, read from the environment (and a ``.env`` file) by pydantic-settings.

Every setting is listed in the README with its default.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    ghl_base_url: str = Field("https://services.leadconnectorhq.com", validation_alias="GHL_BASE_URL")
    smsglobal_base_url: str = Field("https://api.smsglobal.com", validation_alias="SMSGLOBAL_BASE_URL")
    secret_keys: str = Field("", validation_alias="ENGINE_SECRET_KEYS")
    secret_keys_file: Path | None = Field(None, validation_alias="ENGINE_SECRET_KEYS_FILE")

    # "full": the curated specs and the ones generated from GHL's official documents;
    # "curated": the curated specs only (a smaller catalog, fewer OAuth scopes)
    catalog: Literal["full", "curated"] = Field("full", validation_alias="ENGINE_CATALOG")

    http_timeout_seconds: float = Field(30.0, validation_alias="ENGINE_HTTP_TIMEOUT_SECONDS")
    max_attempts: int = Field(4, ge=1, validation_alias="ENGINE_MAX_ATTEMPTS")
    backoff_base_seconds: float = Field(0.5, validation_alias="ENGINE_BACKOFF_BASE_SECONDS")
    backoff_max_seconds: float = Field(30.0, validation_alias="ENGINE_BACKOFF_MAX_SECONDS")
    max_retry_after_seconds: float = Field(
        60.0, validation_alias=AliasChoices("ENGINE_MAX_RETRY_AFTER_SECONDS"))

    rate_burst: int = Field(100, validation_alias="ENGINE_RATE_BURST")
    rate_window_ms: int = Field(10_000, validation_alias="ENGINE_RATE_WINDOW_MS")
    rate_margin_ms: int = Field(500, validation_alias="ENGINE_RATE_MARGIN_MS")
    rate_daily: int = Field(200_000, validation_alias="ENGINE_RATE_DAILY")
    rate_reserve: int = Field(20, validation_alias="ENGINE_RATE_RESERVE")
    auth_quarantine_strikes: int = Field(
        5, ge=1, validation_alias="ENGINE_AUTH_QUARANTINE_STRIKES",
        description="Refusals of a connection's credentials (401/403) within 10 minutes after "
                    "which it is quarantined: its calls fail at once without reaching upstream.")
    auth_quarantine_seconds: int = Field(300, ge=1, validation_alias="ENGINE_AUTH_QUARANTINE_SECONDS")
    rate_max_wait_seconds: float = Field(15.0, validation_alias="ENGINE_RATE_MAX_WAIT_SECONDS")

    idempotency_ttl_seconds: int = Field(24 * 3600, validation_alias="ENGINE_IDEMPOTENCY_TTL_SECONDS")
    idempotency_lease_seconds: int = Field(
        180, ge=1, validation_alias="ENGINE_IDEMPOTENCY_LEASE_SECONDS",
        description="How long a claimed Idempotency-Key stays 'in progress' at most: longer than "
                    "an action's longest call (rate wait plus every attempt). Past it (a crash "
                    "mid-call), the key is free again.")
    max_connections_per_tenant: int = Field(50, ge=1, validation_alias="ENGINE_MAX_CONNECTIONS_PER_TENANT")
    max_subscriptions_per_tenant: int = Field(
        200, ge=1, validation_alias="ENGINE_MAX_SUBSCRIPTIONS_PER_TENANT",
        description="Subscriptions per tenant, a flow's own subscription included.")
    max_flows_per_tenant: int = Field(100, ge=1, validation_alias="ENGINE_MAX_FLOWS_PER_TENANT")
    secret_rotation_overlap_seconds: int = Field(
        86400, ge=0, validation_alias="ENGINE_SECRET_ROTATION_OVERLAP_SECONDS",
        description="After a subscription's signing secret is rotated, how long deliveries "
                    "still carry a signature with the old secret beside the new one.")
    min_interval_seconds: int = Field(60, ge=1, validation_alias="ENGINE_MIN_INTERVAL_SECONDS")
    allow_private_targets: bool = Field(False, validation_alias="ENGINE_ALLOW_PRIVATE_TARGETS")
    allow_http_targets: bool = Field(False, validation_alias="ENGINE_ALLOW_HTTP_TARGETS")
    log_level: str = Field("INFO", validation_alias="ENGINE_LOG_LEVEL")
    log_format: Literal["json", "console"] = Field(
        "json", validation_alias="ENGINE_LOG_FORMAT",
        description="json: one JSON object per line (production); console: readable lines "
                    "(make dev).")

    # GHL OAuth 2.0 (authorization-code flow): the marketplace app's credentials
    ghl_client_id: str = Field("", validation_alias="GHL_CLIENT_ID")
    ghl_client_secret: SecretStr = Field(SecretStr(""), validation_alias="GHL_CLIENT_SECRET")
    ghl_redirect_url: str = Field("", validation_alias="GHL_REDIRECT_URL")
    ghl_oauth_scopes: str = Field("", validation_alias="GHL_OAUTH_SCOPES")  # "": what the catalog needs
    ghl_authorize_url: str = Field("https://marketplace.gohighlevel.com/oauth/chooselocation",
                                   validation_alias="GHL_AUTHORIZE_URL")
    oauth_state_ttl_seconds: int = Field(600, ge=30, validation_alias="ENGINE_OAUTH_STATE_TTL_SECONDS")
    oauth_refresh_margin_seconds: int = Field(300, ge=0,
                                              validation_alias="ENGINE_OAUTH_REFRESH_MARGIN_SECONDS")
    oauth_lock_seconds: float = Field(30.0, gt=0, validation_alias="ENGINE_OAUTH_LOCK_SECONDS")

    # the API's own limits
    key_rate_limit: int = Field(1200, ge=0, validation_alias="ENGINE_KEY_RATE_LIMIT")  # per key per minute; 0: off
    max_body_bytes: int = Field(1024 * 1024, ge=1024, validation_alias="ENGINE_MAX_BODY_BYTES")

    delivery_retry_schedule: str = Field(
        "5,300,1800,7200,18000,36000,36000", validation_alias="ENGINE_DELIVERY_RETRY_SCHEDULE",
        description="Seconds to wait after each failed delivery try, comma-separated; after the "
                    "last one the delivery goes to the dead-letter list.")
    delivery_timeout_seconds: float = Field(10.0, validation_alias="ENGINE_DELIVERY_TIMEOUT_SECONDS")
    delivery_lease_seconds: float = Field(60.0, validation_alias="ENGINE_DELIVERY_LEASE_SECONDS")
    delivery_max_response_bytes: int = Field(65536, validation_alias="ENGINE_DELIVERY_MAX_RESPONSE_BYTES")
    poll_lease_seconds: float = Field(60.0, validation_alias="ENGINE_POLL_LEASE_SECONDS")
    poll_concurrency: int = Field(
        96, ge=1, le=1000, validation_alias="ENGINE_POLL_CONCURRENCY",
        description="Polls one worker process runs at once. Each waits for upstream most of its "
                    "time, so a worker serves at most this many ÷ upstream latency (s) polls a "
                    "second (96 at 0.2 s: 480/s) whatever its CPU. Kept under the upstream "
                    "client's 100 kept-alive connections, so polls do not open new ones.")
    deep_read_every_seconds: float = Field(
        900.0, ge=0, validation_alias="ENGINE_DEEP_READ_EVERY_SECONDS",
        description="How often a watch's poll reads the whole overlap window (catching items "
                    "later than its lateness margin); 0: on every poll.")
    interval_unit_seconds: float = Field(
        60.0, gt=0, validation_alias="ENGINE_INTERVAL_UNIT_SECONDS",
        description="Length of one 'minute' of a subscription's interval_minutes; shorten it only "
                    "for demos and tests.")

    # pushed events (engine.inbound): GHL's webhook keys, replay window, queue, pokes
    public_url: str = Field(
        "", validation_alias="ENGINE_PUBLIC_URL",
        description="The engine's public base URL (https://engine.example.com); when set, SMS sends "
                    "carry notifyUrl and incomingUrl so SMSGlobal pushes receipts and replies.")
    ghl_webhook_public_key: str = Field(
        "", validation_alias="GHL_WEBHOOK_PUBLIC_KEY",
        description="GHL's Ed25519 webhook public key: PEM, or the 32 raw bytes as hex or base64.")
    ghl_webhook_legacy_key: str = Field(
        "", validation_alias="GHL_WEBHOOK_LEGACY_PUBLIC_KEY",
        description="GHL's RSA public key (PEM) for the legacy x-wh-signature, tried last.")
    inbound_max_age_seconds: float = Field(300.0, gt=0, validation_alias="ENGINE_INBOUND_MAX_AGE_SECONDS")
    inbound_seen_ttl_seconds: int = Field(3600, ge=60, validation_alias="ENGINE_INBOUND_SEEN_TTL_SECONDS")
    inbound_queue_max: int = Field(100_000, ge=1, validation_alias="ENGINE_INBOUND_QUEUE_MAX")
    event_debounce_ms: int = Field(1000, ge=0, validation_alias="ENGINE_EVENT_DEBOUNCE_MS")
    reconcile_interval_seconds: float = Field(
        900.0, gt=0, validation_alias="ENGINE_RECONCILE_INTERVAL_SECONDS",
        description="How often a watch that receives events still polls, to catch missed events.")
    event_fallback_seconds: float = Field(
        3600.0, gt=0, validation_alias="ENGINE_EVENT_FALLBACK_SECONDS",
        description="A watch with no event for this long polls at its own interval again.")
    # SMSGlobal as GHL's conversation provider (engine/provider)
    provider_sms_burst: int = Field(30, ge=1, validation_alias="ENGINE_PROVIDER_SMS_BURST",
                                    description="SMS a provider may send per SMSGlobal account in "
                                                "one ENGINE_PROVIDER_SMS_WINDOW_MS window.")
    provider_sms_window_ms: int = Field(1000, ge=1, validation_alias="ENGINE_PROVIDER_SMS_WINDOW_MS")
    provider_sms_daily: int = Field(100_000, ge=1, validation_alias="ENGINE_PROVIDER_SMS_DAILY")
    provider_lease_seconds: float = Field(60.0, gt=0, validation_alias="ENGINE_PROVIDER_LEASE_SECONDS",
                                          description="How long one worker holds a provider "
                                                      "message before another may take it over.")
    provider_status_retry_seconds: float = Field(
        600.0, gt=0, validation_alias="ENGINE_PROVIDER_STATUS_RETRY_SECONDS",
        description="How long a refused GHL status call (401/403 right after a send) is retried.")

    def retry_schedule(self) -> list[float]:
        return [float(s) for s in self.delivery_retry_schedule.split(",") if s.strip()]

    def fernet_keys(self) -> list[str]:
        raw = self.secret_keys
        if not raw and self.secret_keys_file and self.secret_keys_file.exists():
            raw = self.secret_keys_file.read_text()
        return [k.strip() for k in raw.replace("\n", ",").split(",") if k.strip()]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
