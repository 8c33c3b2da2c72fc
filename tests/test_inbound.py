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


def test_signed_event_is_queued_and_answered_before_it_is_handled(api, redis_url):
    """The endpoint answers once the event is in the stream; the worker handles it later (so
    the answer never waits for a poll or an upstream call)."""
    import redis

    body = event()
    raw, headers = signed(body)
    before = stream_len(redis_url)
    resp = api.post("/v1/inbound/ghl", content=raw, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["type"] == "ContactCreate"
    assert stream_len(redis_url) == before + 1
    r = redis.Redis.from_url(redis_url)
    try:
        [(entry_id, _)] = r.xrevrange(keys.INBOUND_STREAM, count=1)
        groups = {g["name"].decode(): g for g in r.xinfo_groups(keys.INBOUND_STREAM)}
    finally:
        r.close()

    def ms_seq(stream_id: bytes) -> tuple[int, int]:
        ms, seq = stream_id.decode().split("-")
        return int(ms), int(seq)

    # answered, and no consumer has read the event yet
    if queue.GROUP in groups:
        assert ms_seq(groups[queue.GROUP]["last-delivered-id"]) < ms_seq(entry_id)


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



# ----------------------------------------------------------------------------- hook URLs


async def _drain(consumer) -> list:
    out = []
    while batch := await consumer.step(block_ms=None, count=1000):
        out += batch
    return out


async def test_workflow_hook_url_pokes_its_connections_watches_and_rotates(
        api, connection, smsglobal_connection, rt, tenant):
    from engine.inbound import pokes
    from engine.polling import subscriptions

    hook = api.get(f"/v1/connections/{connection['id']}/hook")
    assert hook.status_code == 200, hook.text
    url = hook.json()["ghl_workflow_url"]
    assert url.startswith("http") and "/v1/inbound/ghl/hk_" in url
    assert api.get(f"/v1/connections/{connection['id']}/hook").json()["ghl_workflow_url"] == url
    sms_hook = api.get(f"/v1/connections/{smsglobal_connection['id']}/hook").json()
    assert sms_hook["notify_url"].endswith("/receipt") and sms_hook["incoming_url"].endswith("/incoming")

    sub = await subscriptions.create(rt, tenant, trigger="contacts.search_contacts",
                                     connection_id=connection["id"], interval_minutes=15,
                                     target_url="http://127.0.0.1:9/hook")
    watch = (await rt.redis.hget(keys.SUBSCRIPTION.format(sub_id=sub["id"]), "watch")).decode()
    await rt.redis.zadd(keys.WATCHES_DUE, {watch: int(time.time() * 1000) + 900_000})
    consumer = queue.Consumer(rt, queue.Dispatcher().on(None, pokes.poke),
                              name="test-" + uuid.uuid4().hex[:6])
    await _drain(consumer)

    # a GHL workflow's webhook action: contact data, no event type, not signed
    resp = api.post(url, json={"contact_id": "abc", "first_name": "Ada",
                               "location": {"id": "loc_sandbox0000000001"}},
                    headers={"Authorization": ""})
    assert resp.status_code == 200, resp.text
    handled = await _drain(consumer)
    assert [(e.source, e.connection_id) for e in handled] == [("ghl-hook", connection["id"])]
    due = await rt.redis.zscore(keys.WATCHES_DUE, watch)
    assert due <= time.time() * 1000 + 50  # due now, not in 15 minutes

    # form bodies too; the SMSGlobal URL of one connection is not the GHL URL of another
    form = api.post(sms_hook["notify_url"], content=b"id=1&outgoing_id=2&status=Delivered",
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert form.status_code == 200, form.text
    handled = await _drain(consumer)
    assert handled[0].type == "SmsDeliveryReceipt" and handled[0].body["status"] == "Delivered"
    token = sms_hook["notify_url"].split("/")[-2]
    assert api.post(f"/v1/inbound/ghl/{token}", json={}).status_code == 404

    rotated = api.post(f"/v1/connections/{connection['id']}/hook/rotate")
    assert rotated.status_code == 200 and rotated.json()["ghl_workflow_url"] != url
    gone = api.post(url, json={"type": "ContactCreate"})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "hook_not_found"
    assert api.post(rotated.json()["ghl_workflow_url"], json={}).status_code == 200
    assert api.post("/v1/inbound/ghl/hk_" + "x" * 32, json={}).status_code == 404
    assert await _drain(consumer)  # only the accepted one was queued
    await subscriptions.remove(rt, sub["id"])


async def test_pokes_follow_the_specs_event_types_and_match(api, connection, rt, tenant):
    from engine.inbound import pokes
    from engine.polling import subscriptions

    contact = "c_" + uuid.uuid4().hex[:10]
    made = {}
    for name, trigger, params in (("search", "contacts.search_contacts", {}),
                                  ("notes", "contacts.get_contact_notes", {"contactId": contact}),
                                  ("opps", "opportunities.search_opportunities", {})):
        sub = await subscriptions.create(rt, tenant, trigger=trigger, params=params,
                                         connection_id=connection["id"], interval_minutes=15,
                                         target_url="http://127.0.0.1:9/hook")
        made[name] = (sub["id"], (await rt.redis.hget(
            keys.SUBSCRIPTION.format(sub_id=sub["id"]), "watch")).decode())

    def ev(kind: str, **body) -> queue.Event:
        return queue.Event(id="1-0", source="ghl", type=kind, connection_id=None,
                           body={"type": kind, "locationId": "loc_sandbox0000000001", **body},
                           received_at_ms=0)

    names = {w: n for n, (_s, w) in made.items()}

    async def hit(event) -> list[str]:
        return sorted(names[w] for w in await pokes.watches_for(rt, event) if w in names)

    assert await hit(ev("ContactCreate", id="x")) == ["search"]
    assert await hit(ev("NoteCreate", contactId=contact)) == ["notes"]
    assert await hit(ev("NoteCreate", contactId="someone_else")) == []
    assert await hit(ev("NoteCreate")) == ["notes"]  # no contactId: may be this one
    assert await hit(ev("OpportunityStageUpdate", id="o1")) == ["opps"]
    assert await hit(ev("InvoicePaid")) == []
    other = ev("ContactCreate", id="x")
    other.body["locationId"] = "loc_other"
    assert await hit(other) == []

    # debounce: one poll now, one at the window's end, none before a scheduled one
    watch = made["search"][1]
    now = int(time.time() * 1000) + 60_000
    window = rt.settings.event_debounce_ms
    await rt.redis.zadd(keys.WATCHES_DUE, {watch: now + 900_000})
    assert await pokes.poke_watches(rt, [watch], now_ms=now) == 1
    assert await rt.redis.zscore(keys.WATCHES_DUE, watch) == now
    await rt.redis.zadd(keys.WATCHES_DUE, {watch: now + 900_000})  # the claim moved it on
    assert await pokes.poke_watches(rt, [watch], now_ms=now + 10) == 1
    assert await rt.redis.zscore(keys.WATCHES_DUE, watch) == now + window
    for later in (20, 30, window - 1):
        assert await pokes.poke_watches(rt, [watch], now_ms=now + later) == 0
    assert await pokes.poke_watches(rt, [watch], now_ms=now + 2 * window + 5) == 1
    for sub_id, _w in made.values():
        await subscriptions.remove(rt, sub_id)


def test_zapier_app_and_docs_say_which_triggers_are_instant():
    from engine.export import docs, zapier
    from engine.spec.registry import registry

    ops = registry()
    instant = {k for k, op in ops.items() if op.trigger and op.trigger.events}
    assert {"contacts.search_contacts", "contacts.get_contact_notes", "contacts.get_contact_tasks",
            "opportunities.search_opportunities", "calendars.list_calendar_events",
            "contacts.get_contact_appointments", "conversations.get_messages_by_conversation",
            "smsglobal.sent_message_status_changed", "smsglobal.new_incoming_sms"} <= instant
    said = {e["operation"]: e["display"]["description"].startswith("Instant:")
            for e in zapier.build(ops)["triggers"]}
    assert said.keys() == {k for k, op in ops.items() if op.kind == "trigger"}
    assert [k for k in said if said[k] != (k in instant)] == []
    sections = docs.render().split("\n#### ")
    marked = {k for k in ops if any(sec.startswith(f"`{k}`") and "**Instant:**" in sec
                                    for sec in sections)}
    assert marked == instant


async def test_a_poke_before_a_scheduled_poll_keeps_it_after_an_earlier_claim(api, connection, rt,
                                                                           tenant):
    """The watch is due (not yet claimed) when an event schedules the window-end poll; the claim
    then moves the watch to its next regular slot. A later event before the window's end must
    put the window-end poll back, or what it signals waits for reconciliation."""
    from engine.inbound import pokes
    from engine.polling import poller, subscriptions

    sub = await subscriptions.create(rt, tenant, trigger="contacts.search_contacts",
                                     connection_id=connection["id"], interval_minutes=15,
                                     target_url="http://127.0.0.1:9/hook")
    watch = (await rt.redis.hget(keys.SUBSCRIPTION.format(sub_id=sub["id"]), "watch")).decode()
    await rt.redis.delete(keys.WATCH_POKE.format(watch_id=watch))
    window = rt.settings.event_debounce_ms
    now = int(time.time() * 1000)
    await rt.redis.zadd(keys.WATCHES_DUE, {watch: now + 900_000})
    assert await pokes.poke_watches(rt, [watch], now_ms=now) == 1  # due now
    assert await pokes.poke_watches(rt, [watch], now_ms=now + 5) == 1  # window end scheduled
    assert await rt.redis.zscore(keys.WATCHES_DUE, watch) == now  # the earlier one kept
    claimed = await poller.claim_due(rt, now_ms=now + 10)
    assert watch in [w for w, _ in claimed]
    assert await rt.redis.zscore(keys.WATCHES_DUE, watch) > now + window  # moved on
    await pokes.poke_watches(rt, [watch], now_ms=now + 20)
    assert await rt.redis.zscore(keys.WATCHES_DUE, watch) == now + window
    await subscriptions.remove(rt, sub["id"])
