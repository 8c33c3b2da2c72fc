"""The GHL event receiver: POST /v1/inbound/ghl verifies Ed25519 (and legacy RSA) signatures over
the raw bytes, refuses stale and replayed events, queues durably in a Redis stream, answers 429
only when it cannot queue, and workers dispatch each event by type."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from engine.core import keys
from engine.core.errors import RateLimited, Unauthorized
from engine.core.settings import Settings
from engine.inbound import queue, receiver, signature
from engine.wiring import open_runtime
from sandbox import push


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def event(kind: str = "ContactCreate", **fields) -> dict:
    body = {"type": kind, "locationId": "loc_elsewhere", "id": "c_" + uuid.uuid4().hex[:12],
            "webhookId": str(uuid.uuid4()), "timestamp": iso(datetime.now(timezone.utc))}
    body.update(fields)
    return body


def signed(body: dict, header: str = "x-ghl-signature") -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    return raw, {header: push.sign(raw), "content-type": "application/json"}


@pytest.fixture
async def rt(redis_url):
    runtime = await open_runtime(Settings())
    yield runtime
    await runtime.close()


def stream_len(redis_url) -> int:
    import redis

    r = redis.Redis.from_url(redis_url)
    try:
        return r.xlen(keys.INBOUND_STREAM)
    finally:
        r.close()


# ----------------------------------------------------------------------------- signatures


def test_public_key_accepted_as_pem_hex_or_base64():
    raw = b'{"type":"ContactCreate"}'
    sig = push.sign(raw)
    as_hex = base64.b64decode(push.PUBLIC_KEY_B64).hex()
    for text in (push.PUBLIC_KEY_PEM, as_hex, push.PUBLIC_KEY_B64):
        assert signature.verify(raw, {"x-ghl-signature": sig}, ed25519=text) == "ed25519"
        assert signature.verify(raw + b" ", {"x-ghl-signature": sig}, ed25519=text) is None
    # Ed25519 under the legacy header name is accepted too
    assert signature.verify(raw, {"x-wh-signature": sig}, ed25519=push.PUBLIC_KEY_B64) == "ed25519"
    with pytest.raises(signature.BadKey, match="GHL_WEBHOOK_PUBLIC_KEY"):
        signature.verify(raw, {"x-ghl-signature": sig}, ed25519="not a key")


def test_legacy_rsa_signature_is_tried_last():
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    raw = b'{"type":"NoteCreate"}'
    sig = base64.b64encode(private.sign(raw, padding.PKCS1v15(), hashes.SHA256())).decode()
    assert signature.verify(raw, {"x-wh-signature": sig}, ed25519=push.PUBLIC_KEY_B64,
                            legacy_rsa=pem) == "rsa-sha256"
    assert signature.verify(raw + b"x", {"x-wh-signature": sig}, ed25519=push.PUBLIC_KEY_B64,
                            legacy_rsa=pem) is None
    # without the legacy key configured, an RSA signature is refused
    assert signature.verify(raw, {"x-wh-signature": sig}, ed25519=push.PUBLIC_KEY_B64) is None


# ----------------------------------------------------------------------------- the endpoint


def test_signed_event_is_queued_and_answered_fast(api, redis_url):
    body = event()
    raw, headers = signed(body)
    before = stream_len(redis_url)
    started = time.perf_counter()
    resp = api.post("/v1/inbound/ghl", content=raw, headers=headers)
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "ContactCreate"
    assert stream_len(redis_url) == before + 1
    assert elapsed_ms < 200, f"answered in {elapsed_ms:.0f} ms"


@pytest.mark.parametrize("case", ["unsigned", "forged", "other_key", "body_changed"])
def test_bad_signature_gets_401_and_nothing_is_queued(api, redis_url, case):
    body = event()
    raw, headers = signed(body)
    if case == "unsigned":
        headers.pop("x-ghl-signature")
    elif case == "forged":
        headers["x-ghl-signature"] = base64.b64encode(b"\x01" * 64).decode()
    elif case == "other_key":
        other = ed25519.Ed25519PrivateKey.generate()
        headers["x-ghl-signature"] = base64.b64encode(other.sign(raw)).decode()
    else:
        raw = json.dumps({**body, "locationId": "loc_victim"}).encode()
    before = stream_len(redis_url)
    resp = api.post("/v1/inbound/ghl", content=raw, headers=headers)
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] == "bad_signature"
    assert stream_len(redis_url) == before


def test_stale_and_replayed_events_get_409(api, redis_url):
    old = event(timestamp=iso(datetime.now(timezone.utc) - timedelta(minutes=6)))
    raw, headers = signed(old)
    before = stream_len(redis_url)
    resp = api.post("/v1/inbound/ghl", content=raw, headers=headers)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "stale_event", resp.text
    assert stream_len(redis_url) == before

    fresh = event()
    raw, headers = signed(fresh)
    assert api.post("/v1/inbound/ghl", content=raw, headers=headers).status_code == 200
    again = api.post("/v1/inbound/ghl", content=raw, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "duplicate_event"
    # the same webhookId in a re-signed body is still a replay
    raw2, headers2 = signed({**fresh, "id": "c_other"})
    assert api.post("/v1/inbound/ghl", content=raw2, headers=headers2).status_code == 409
    assert stream_len(redis_url) == before + 1


def test_signed_body_that_is_not_an_object_gets_422(api, redis_url):
    raw = b"[1, 2]"
    before = stream_len(redis_url)
    resp = api.post("/v1/inbound/ghl", content=raw, headers={"x-ghl-signature": push.sign(raw)})
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "body"
    assert stream_len(redis_url) == before


async def test_429_only_when_the_queue_cannot_take_the_event(redis_url):
    runtime = await open_runtime(Settings(ENGINE_INBOUND_QUEUE_MAX="1"))
    try:
        await runtime.redis.delete(keys.INBOUND_STREAM)
        first = event()
        raw, headers = signed(first)
        await receiver.accept_ghl(runtime, raw, headers)
        second = event()
        raw, headers = signed(second)
        with pytest.raises(RateLimited):
            await receiver.accept_ghl(runtime, raw, headers)
        # refused, so not recorded as seen: GHL's retry of it is accepted once there is room
        await runtime.redis.delete(keys.INBOUND_STREAM)
        await receiver.accept_ghl(runtime, raw, headers)
        assert await runtime.redis.xlen(keys.INBOUND_STREAM) == 1
    finally:
        await runtime.redis.delete(keys.INBOUND_STREAM)
        await runtime.close()


async def test_missing_key_configuration_refuses_every_event(redis_url):
    runtime = await open_runtime(Settings(GHL_WEBHOOK_PUBLIC_KEY=""))
    try:
        raw, headers = signed(event())
        with pytest.raises(Unauthorized, match="GHL_WEBHOOK_PUBLIC_KEY"):
            await receiver.accept_ghl(runtime, raw, headers)
    finally:
        await runtime.close()


# ----------------------------------------------------------------------------- dispatch


async def test_events_are_dispatched_by_type_and_failures_retried(api, rt):
    seen: list[tuple[str, str]] = []
    failures = {"left": 1}

    async def on_note(_rt, ev: queue.Event) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("handler failed once")
        seen.append(("note", ev.body["id"]))

    async def on_any(_rt, ev: queue.Event) -> None:
        seen.append(("any", ev.type))

    dispatcher = queue.Dispatcher().on("NoteCreate", on_note).on(None, on_any)
    consumer = queue.Consumer(rt, dispatcher, name="test-" + uuid.uuid4().hex[:6],
                              retry_idle_ms=200)
    await consumer.step(block_ms=None, count=10_000)  # what earlier tests left
    seen.clear()
    note = event("NoteCreate", id="n_1")
    raw, headers = signed(note)
    assert api.post("/v1/inbound/ghl", content=raw, headers=headers).status_code == 200
    done = await consumer.step(block_ms=500)
    assert done == [] and seen == []  # the note handler failed: the event stays pending
    deadline = time.time() + 5
    while not seen and time.time() < deadline:
        await consumer.step(block_ms=100)
    assert ("note", "n_1") in seen and ("any", "NoteCreate") in seen
    assert await rt.redis.xpending(keys.INBOUND_STREAM, queue.GROUP) == {
        "pending": 0, "min": None, "max": None, "consumers": []}

