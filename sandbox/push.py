"""The sandbox pushes events the way GHL does: JSON bodies signed with Ed25519.

The sandbox's signing key is fixed (derived from a constant), so an engine pointed at the
sandbox can be configured with :data:`PUBLIC_KEY_B64` (``make dev`` does it). It is a key for
local development only and signs nothing but sandbox events.

The signature goes in ``x-ghl-signature``: base64 of the 64-byte Ed25519 signature over the raw
body bytes, as GHL sends it (GHL's webhook authentication guide).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sandbox.store import now_iso

_PRIVATE = Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"ghl-engine sandbox webhook signing key").digest())
PUBLIC_KEY_B64 = base64.b64encode(_PRIVATE.public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
PUBLIC_KEY_PEM = _PRIVATE.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def sign(raw: bytes) -> str:
    """The ``x-ghl-signature`` value for a body: base64 of its Ed25519 signature."""
    return base64.b64encode(_PRIVATE.sign(raw)).decode()


# ----------------------------------------------------------------------------- pushing

# the event a successful write fires, by operation key (GHL's webhook event types)
WRITE_EVENTS = {
    "contacts.create_contact": "ContactCreate",
    "contacts.upsert_contact": "ContactUpdate",
    "contacts.update_contact": "ContactUpdate",
    "contacts.delete_contact": "ContactDelete",
    "contacts.add_tags_to_contact": "ContactTagUpdate",
    "contacts.remove_tags_from_contact": "ContactTagUpdate",
    "contacts.create_contact_note": "NoteCreate",
    "contacts.update_contact_note": "NoteUpdate",
    "contacts.delete_contact_note": "NoteDelete",
    "contacts.create_contact_task": "TaskCreate",
    "contacts.complete_contact_task": "TaskComplete",
    "contacts.delete_contact_task": "TaskDelete",
    "opportunities.create_opportunity": "OpportunityCreate",
    "opportunities.upsert_opportunity": "OpportunityUpdate",
    "opportunities.update_opportunity": "OpportunityUpdate",
    "opportunities.update_opportunity_status": "OpportunityStatusUpdate",
    "opportunities.delete_opportunity": "OpportunityDelete",
    "calendars.create_appointment": "AppointmentCreate",
    "calendars.update_appointment": "AppointmentUpdate",
    "calendars.delete_event": "AppointmentDelete",
}
# the event a seeded object fires, by sandbox collection
SEED_EVENTS = {
    "contacts": "ContactCreate", "contacts/notes": "NoteCreate", "contacts/tasks": "TaskCreate",
    "opportunities": "OpportunityCreate", "calendars/events": "AppointmentCreate",
    "conversations/messages": "InboundMessage",
}


def event_body(event_type: str, location_id: str, obj: dict[str, Any]) -> dict[str, Any]:
    """An event body shaped like GHL's documents: appointment events nest the appointment,
    message events name the message ``messageId``, the others carry the object's fields."""
    if event_type.startswith("Appointment"):
        body: dict[str, Any] = {"appointment": obj}
    elif event_type.endswith("Message"):
        body = {**obj, "messageId": obj.get("id")}
        if event_type == "InboundMessage" and obj.get("direction") == "outbound":
            event_type = "OutboundMessage"
    else:
        body = dict(obj)
    body.update(type=event_type, locationId=location_id)
    return body


@dataclass
class Pusher:
    """Posts signed events to ``url`` (``PUT /_sandbox/config`` sets ``webhook_url``,
    ``drop_rate``, ``duplicate_rate`` and ``event_seed``). A dropped event is never sent, as
    when GHL gives up; a duplicated one is sent twice, byte for byte."""

    url: str | None = None
    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    counts: Counter = field(default_factory=Counter)
    log: deque = field(default_factory=lambda: deque(maxlen=5000))
    tasks: set = field(default_factory=set)
    client: httpx.AsyncClient | None = None
    slots: asyncio.Semaphore | None = None

    def configure(self, body: dict[str, Any]) -> None:
        if "webhook_url" in body:
            self.url = body["webhook_url"] or None
        for name in ("drop_rate", "duplicate_rate"):
            if name in body:
                setattr(self, name, float(body[name]))
        if "event_seed" in body:
            self.rng.seed(body["event_seed"])

    def reset(self) -> None:
        self.url, self.drop_rate, self.duplicate_rate = None, 0.0, 0.0
        self.counts.clear()
        self.log.clear()

    def config(self) -> dict[str, Any]:
        return {"webhook_url": self.url, "drop_rate": self.drop_rate,
                "duplicate_rate": self.duplicate_rate}

    def emit(self, event_type: str, location_id: str, obj: dict[str, Any]) -> None:
        """Fire one event for a change (called from a request of the sandbox's own loop)."""
        if self.url:
            self.send(event_body(event_type, location_id, obj))

    def send(self, body: dict[str, Any], delay_s: float = 0.0) -> None:
        """Sign and post one event body (given ``webhookId`` and ``timestamp`` if it lacks
        them), subject to the drop and duplicate rates; ``delay_s`` holds it back a while."""
        if not self.url:
            return
        body = {"webhookId": str(uuid.uuid4()), "timestamp": now_iso(), **body}
        obj = body.get("appointment") if isinstance(body.get("appointment"), dict) else body
        raw = json.dumps(body, separators=(",", ":")).encode()
        self.counts["emitted"] += 1
        fate = "sent"
        if self.rng.random() < self.drop_rate:
            fate = "dropped"
        elif self.rng.random() < self.duplicate_rate:
            fate = "duplicated"
        self.counts[fate] += 1
        self.log.append({"type": body["type"], "id": obj.get("id"), "webhookId": body["webhookId"],
                         "fate": fate})
        if fate == "dropped":
            return
        self._post_soon(self.url, raw, {"x-ghl-signature": sign(raw)},
                        copies=2 if fate == "duplicated" else 1, delay_s=delay_s)

    def _post_soon(self, url: str, content: bytes, headers: dict[str, str], copies: int = 1,
                   delay_s: float = 0.0) -> None:
        task = asyncio.get_running_loop().create_task(
            self._post(url, content, headers, copies, delay_s))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post(self, url: str, content: bytes, headers: dict[str, str], copies: int,
                    delay_s: float = 0.0) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=10)
            self.slots = asyncio.Semaphore(32)
        for _ in range(copies):
            async with self.slots:
                try:
                    resp = await self.client.post(url, content=content, headers={
                        "content-type": "application/json", **headers})
                    self.counts[f"answered_{resp.status_code}"] += 1
                except httpx.HTTPError as exc:
                    self.counts["failed"] += 1
                    self.counts[f"failed_{type(exc).__name__}"] += 1
