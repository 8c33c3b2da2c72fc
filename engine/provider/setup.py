"""The provider set-up of one GHL location: which connections carry its SMS, and how.

One location has at most one provider set-up, whichever tenant made it (GHL's events name the
location, not the tenant). It is kept in Redis at ``keys.PROVIDER`` as a hash. SMSGlobal pushes
receipts and replies to the SMSGlobal connection's hook URLs (:mod:`engine.accounts.hooks`).

GHL facts (ghl-openapi docs, marketplace-modules/ConversationProviders.md): a provider of the
``default`` kind replaces the location's SMS provider and adds inbound messages without a
conversationProviderId; the ``extra`` kind is a custom provider whose inbound messages must
carry its conversationProviderId.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from redis.asyncio import Redis

from engine.accounts import connections
from engine.core import keys
from engine.core.errors import Conflict, InputInvalid, NotFound
from engine.core.settings import Settings
from engine.core import phones

DEFAULT_STOP_KEYWORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
DEFAULT_START_KEYWORDS = ("START", "UNSTOP", "SUBSCRIBE")
ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
GHL_EVENT_PATH = "/v1/inbound/ghl"


def _region(value: str) -> str:
    try:
        return phones.region_code(value) or ""
    except phones.PhoneError as exc:
        raise ValueError(exc.message) from None


def _keywords(values: list[str]) -> list[str]:
    out = []
    for v in values:
        word = v.strip().upper()
        if not word or len(word) > 30 or any(ch.isspace() for ch in word):
            raise ValueError(f"'{v}' is not a keyword: one word of at most 30 characters")
        out.append(word)
    return out


class ProviderPatch(BaseModel):
    """Fields of a provider set-up that may change (each left out keeps its value)."""

    model_config = ConfigDict(extra="forbid",
                              json_schema_extra={"examples": [{"sender": "AcmeDental"}]})

    ghl_connection_id: str | None = Field(None, min_length=1, max_length=100)
    smsglobal_connection_id: str | None = Field(None, min_length=1, max_length=100)
    sender: str | None = Field(None, min_length=1, max_length=20, description=(
        "What the phone shows as sender: one of the SMSGlobal account's numbers (E.164 or "
        "digits) or an approved alphanumeric sender id of up to 11 letters and digits."))
    default_region: str | None = Field(None, description=(
        "ISO 3166 alpha-2 region for numbers written without a country code (e.g. AU)."))
    kind: Literal["default", "extra"] | None = Field(None, description=(
        "'default': the provider replaces the location's SMS provider; 'extra': an additional "
        "custom provider, which needs conversation_provider_id."))
    conversation_provider_id: str | None = Field(None, min_length=1, max_length=100, description=(
        "The provider's id from the marketplace app (Conversation Providers); required for kind "
        "'extra'."))
    stop_keywords: list[str] | None = Field(None, max_length=50, description=(
        "A reply that is one of these words opts the number out (SMS DND in GHL and an "
        "SMSGlobal opt-out). Case does not matter."))
    start_keywords: list[str] | None = Field(None, max_length=50, description=(
        "A reply that is one of these words opts the number back in."))

    _region = field_validator("default_region")(lambda cls, v: v if v is None else _region(v))
    _stop = field_validator("stop_keywords", "start_keywords")(
        lambda cls, v: v if v is None else _keywords(v))


class ProviderIn(ProviderPatch):
    """A new provider set-up (POST /v1/sms-provider)."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"ghl_connection_id": "conn_3f9c2a1b7d4e5f60a1b2", "smsglobal_connection_id": "conn_8a7b6c5d4e3f2a1b0c9d", "sender": "61400000999"}]})

    ghl_connection_id: str = Field(min_length=1, max_length=100, description=(
        "The GHL connection of the location (its token needs conversations/message.write, "
        "conversations.readonly, conversations.write, contacts.readonly, contacts.write)."))
    smsglobal_connection_id: str = Field(min_length=1, max_length=100)
    sender: str = Field(min_length=1, max_length=20)
    default_region: str = "AU"
    kind: Literal["default", "extra"] = "default"
    stop_keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_STOP_KEYWORDS), max_length=50)
    start_keywords: list[str] = Field(default_factory=lambda: list(DEFAULT_START_KEYWORDS), max_length=50)

    @model_validator(mode="after")
    def _extra_needs_id(self) -> "ProviderIn":
        if self.kind == "extra" and not self.conversation_provider_id:
            raise ValueError("conversation_provider_id is required for kind 'extra' (the ID "
                             "shown for the provider in the marketplace app)")
        return self


FIELDS = ("tenant", "location_id", "ghl_connection_id", "smsglobal_connection_id", "sender",
          "default_region", "kind", "conversation_provider_id", "stop_keywords",
          "start_keywords", "created_at", "updated_at")


def normalize_sender(sender: str, region: str) -> str:
    """A sender number in SMSGlobal's digits form, or an alphanumeric sender id as given.

    Raises ValueError naming the problem."""
    text = sender.strip()
    if ALPHANUMERIC_SENDER.match(text):
        return text
    try:
        return phones.msisdn(text, region)
    except phones.PhoneError as exc:
        raise ValueError(f"sender must be a phone number or an alphanumeric id of up to 11 "
                         f"letters and digits: {exc}") from None


def _problem(field: str, message: str) -> InputInvalid:
    return InputInvalid([{"field": field, "location": "body", "message": message}])


def decode(raw: dict[bytes, bytes]) -> dict[str, Any]:
    """A provider set-up as stored (keywords as lists, times as ints)."""
    out: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    for name in ("stop_keywords", "start_keywords"):
        out[name] = json.loads(out.get(name) or "[]")
    for name in ("created_at", "updated_at"):
        out[name] = int(out.get(name) or 0)
    out["conversation_provider_id"] = out.get("conversation_provider_id") or None
    return out


def public(settings: Settings, provider: dict[str, Any]) -> dict[str, Any]:
    """A provider set-up as the API shows it (no tenant), with the Delivery URL to give GHL;
    while ENGINE_PUBLIC_URL is unset that is None and ``delivery_url_hint`` says what to do
    (None once the URL is known)."""
    base = settings.public_url.rstrip("/")
    hint = None if base else (
        "delivery_url is null because ENGINE_PUBLIC_URL is not set: set it to the engine's "
        f"public https:// base URL and restart; GHL's Delivery URL is then that URL + {GHL_EVENT_PATH}")
    return {**{k: provider.get(k) for k in FIELDS if k != "tenant"},
            "delivery_url": base + GHL_EVENT_PATH if base else None, "delivery_url_hint": hint}


async def _check_connections(redis: Redis, tenant: str, values: dict[str, Any]) -> str:
    """The location id of the GHL connection, after checking both connections' apps."""
    problems = []
    location_id = ""
    for field, app in (("ghl_connection_id", "ghl"), ("smsglobal_connection_id", "smsglobal")):
        try:
            conn = await connections.get(redis, tenant, values[field])
        except NotFound:
            problems.append({"field": field, "location": "body",
                             "message": f"connection {values[field]!r} not found; list yours "
                                        "with GET /v1/connections"})
            continue
        if conn.app != app:
            problems.append({"field": field, "location": "body",
                             "message": f"{values[field]} is a {conn.app} connection; a {app} "
                                        "connection is needed here"})
        elif app == "ghl":
            if not conn.location_id:
                problems.append({"field": field, "location": "body",
                                 "message": f"{values[field]} is an agency connection; the "
                                            "provider needs a connection of one location"})
            location_id = conn.location_id or ""
    if problems:
        raise InputInvalid(problems)
    return location_id


async def create(redis: Redis, tenant: str, data: ProviderIn) -> dict[str, Any]:
    """Store a new provider set-up; 409 when the location has one already."""
    values = data.model_dump()
    try:
        values["sender"] = normalize_sender(values["sender"], values["default_region"])
    except ValueError as exc:
        raise _problem("sender", str(exc)) from None
    location_id = await _check_connections(redis, tenant, values)
    now = int(time.time())
    provider = {**values, "tenant": tenant, "location_id": location_id,
                "created_at": now, "updated_at": now}
    key = keys.PROVIDER.format(location_id=location_id)
    mapping = _encode(provider)
    created = await redis.hsetnx(key, "tenant", tenant)
    if not created:
        raise Conflict(f"location {location_id} already has a provider set-up; change it with "
                       f"PATCH /v1/sms-provider/{location_id} or delete it first",
                       code="provider_exists")
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=mapping)
        pipe.sadd(keys.TENANT_PROVIDERS.format(tenant=tenant), location_id)
        await pipe.execute()
    return provider


def _encode(provider: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k in FIELDS:
        v = provider.get(k)
        out[k] = json.dumps(v) if isinstance(v, list) else ("" if v is None else str(v))
    return out


async def load(redis: Redis, location_id: str) -> dict[str, Any] | None:
    """The provider set-up of a location, whoever owns it (None when there is none)."""
    raw = await redis.hgetall(keys.PROVIDER.format(location_id=location_id))
    return decode(raw) if raw and raw.get(b"created_at") else None


async def get(redis: Redis, tenant: str, location_id: str) -> dict[str, Any]:
    """The tenant's provider set-up of a location; another tenant's is not found."""
    provider = await load(redis, location_id)
    if provider is None or provider["tenant"] != tenant:
        raise NotFound(f"no provider set-up for location {location_id!r}; list yours with GET "
                       "/v1/sms-provider", code="provider_not_found")
    return provider


async def list_for(redis: Redis, tenant: str) -> list[dict[str, Any]]:
    """The tenant's provider set-ups (one per GHL location), by location id."""
    ids = sorted(m.decode() for m in await redis.smembers(keys.TENANT_PROVIDERS.format(tenant=tenant)))
    found = [await load(redis, i) for i in ids]
    return [p for p in found if p is not None and p["tenant"] == tenant]


async def update(redis: Redis, tenant: str, location_id: str, patch: ProviderPatch) -> dict[str, Any]:
    """Change some fields; the result is checked as a whole (422 naming the field)."""
    provider = await get(redis, tenant, location_id)
    changes = patch.model_dump(exclude_unset=True)
    nulls = [k for k, v in changes.items() if v is None and k != "conversation_provider_id"]
    if nulls:
        raise _problem(nulls[0], f"{nulls[0]} cannot be null; leave it out to keep its value")
    merged = {**provider, **changes}
    try:
        checked = ProviderIn.model_validate({k: merged[k] for k in ProviderIn.model_fields})
    except ValueError as exc:
        errors = getattr(exc, "errors", lambda: [])()
        raise InputInvalid([{"field": ".".join(map(str, e.get("loc") or ())) or "body",
                             "location": "body", "message": e.get("msg", str(exc))}
                            for e in errors] or [{"field": "body", "location": "body",
                                                  "message": str(exc)}]) from None
    values = checked.model_dump()
    if "sender" in changes or "default_region" in changes:
        try:
            values["sender"] = normalize_sender(values["sender"], values["default_region"])
        except ValueError as exc:
            raise _problem("sender", str(exc)) from None
    new_location = await _check_connections(redis, tenant, values)
    if new_location != location_id:
        raise _problem("ghl_connection_id", f"that connection is for location {new_location}; a "
                                            f"provider set-up stays with its location "
                                            f"({location_id}): create one for the other location")
    updated = {**provider, **values, "updated_at": int(time.time())}
    await redis.hset(keys.PROVIDER.format(location_id=location_id), mapping=_encode(updated))
    return updated


async def delete(redis: Redis, tenant: str, location_id: str) -> None:
    """Remove the tenant's provider set-up of a location; raises NotFound (404) when the tenant has
    none there."""
    await get(redis, tenant, location_id)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.PROVIDER.format(location_id=location_id))
        pipe.srem(keys.TENANT_PROVIDERS.format(tenant=tenant), location_id)
        await pipe.execute()
