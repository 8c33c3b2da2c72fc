"""GET /metrics: every series is exposed, and the figures move as polls, deliveries and flow
runs happen (the work runs in this process, as the API's server thread does, so one registry
holds both; across processes the same series travel through PROMETHEUS_MULTIPROC_DIR, which the
dev-stack test reads)."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.core import keys
from engine.polling import delivery, poller
from tests.polling_support import deliver_all, poll, receiver, rt, subscribe, watch_of  # noqa: F401

SERIES = ["ghl_engine_polls", "ghl_engine_upstream_requests", "ghl_engine_upstream_rate_limited",
          "ghl_engine_rate_budget_remaining", "ghl_engine_schedule_lag_seconds",
          "ghl_engine_deliveries", "ghl_engine_delivery_latency_seconds",
          "ghl_engine_outbox_depth", "ghl_engine_dead_letters", "ghl_engine_token_refreshes",
          "ghl_engine_flow_runs"]


def scrape(api_server) -> dict[str, dict[tuple, float]]:
    """Each family's samples as {(sample name, sorted labels): value}; no API key needed."""
    resp = httpx.get(api_server.url + "/metrics", timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(resp.text):
        samples = out.setdefault(family.name, {})
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(m, family: str, sample: str, **labels) -> float:
    return m.get(family, {}).get((sample, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.covers("contacts.search_contacts")
async def test_metrics_expose_every_series_and_move_with_polls_and_deliveries(
        api, api_server, connection, receiver, rt, tenant):  # noqa: F811
    before = scrape(api_server)
    for name in SERIES:
        assert name in before, f"/metrics lacks {name}"

    sub = subscribe(api, connection, receiver)
    due = [w for w, _slot in await poller.claim_due(rt)]  # the new watch is due now (lag observed)
    assert await watch_of(rt, sub["id"]) in due
    assert (await poll(rt, sub["id"])).outcome == "primed"
    api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": connection["id"], "input": {"firstName": "Mo", "email": "mo@example.com"}}
             ).raise_for_status()
    result = await poll(rt, sub["id"])
    assert result.outcome == "polled" and result.deliveries == 1
    queued = scrape(api_server)
    assert value(queued, "ghl_engine_outbox_depth", "ghl_engine_outbox_depth") >= 1
    await deliver_all(rt, [sub["id"]])
    after = scrape(api_server)

    trigger = "contacts.search_contacts"
    for outcome in ("primed", "polled"):
        assert (value(after, "ghl_engine_polls", "ghl_engine_polls_total", trigger=trigger,
                      outcome=outcome)
                > value(before, "ghl_engine_polls", "ghl_engine_polls_total", trigger=trigger,
                        outcome=outcome)), outcome
    ok = dict(app="ghl", status="200")
    assert (value(after, "ghl_engine_upstream_requests", "ghl_engine_upstream_requests_total", **ok)
            >= value(before, "ghl_engine_upstream_requests", "ghl_engine_upstream_requests_total",
                     **ok) + 2)  # the priming read and the poll
    scope = f"ghl:{connection['location_id']}"
    assert value(after, "ghl_engine_rate_budget_remaining", "ghl_engine_rate_budget_remaining",
                 scope=scope, window="burst") > 0
    lag = ("ghl_engine_schedule_lag_seconds", "ghl_engine_schedule_lag_seconds_count")
    assert value(after, *lag) > value(before, *lag)
    delivered = ("ghl_engine_deliveries", "ghl_engine_deliveries_total")
    assert (value(after, *delivered, outcome="delivered", kind="webhook")
            == value(before, *delivered, outcome="delivered", kind="webhook") + 1)
    latency = ("ghl_engine_delivery_latency_seconds", "ghl_engine_delivery_latency_seconds_count")
    assert value(after, *latency) == value(before, *latency) + 1
    assert len(receiver.accepted()) == 1

    # a target that keeps failing: retries, then a dead letter the gauge counts until replayed
    receiver.status = 500
    api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": connection["id"], "input": {"firstName": "Di", "email": "di@example.com"}}
             ).raise_for_status()
    assert (await poll(rt, sub["id"])).deliveries == 1
    await deliver_all(rt, [sub["id"]], timeout=30)
    dead = scrape(api_server)
    assert (value(dead, *delivered, outcome="retrying", kind="webhook")
            >= value(after, *delivered, outcome="retrying", kind="webhook") + 3)
    assert (value(dead, *delivered, outcome="dead", kind="webhook")
            == value(after, *delivered, outcome="dead", kind="webhook") + 1)
    gauge = ("ghl_engine_dead_letters", "ghl_engine_dead_letters")
    assert value(dead, *gauge) == value(after, *gauge) + 1
    (letter,) = await rt.redis.lrange(keys.SUB_DEAD.format(sub_id=sub["id"]), 0, -1)
    receiver.status = 200
    await delivery.replay(rt, tenant, sub["id"], letter.decode())
    await deliver_all(rt, [sub["id"]])
    assert value(scrape(api_server), *gauge) == value(after, *gauge)


async def test_a_429_from_upstream_is_counted(api, api_server, connection, sandbox):
    from sandbox.ghl import DEFAULT_TOKEN

    before = scrape(api_server)
    sandbox.put("/_sandbox/config", json={"rate_limit": 2, "window_ms": 1000}).raise_for_status()
    for _ in range(2):  # another app on the same location spends the window
        sandbox.get("/contacts/", params={"locationId": connection["location_id"]},
                    headers={"Authorization": f"Bearer {DEFAULT_TOKEN}", "Version": "2021-07-28"})
    resp = api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": connection["id"], "input": {"firstName": "Rl"}})
    assert resp.status_code == 200, resp.text  # the 429 was waited out and the call retried
    after = scrape(api_server)
    name = ("ghl_engine_upstream_rate_limited", "ghl_engine_upstream_rate_limited_total")
    assert value(after, *name, app="ghl") > value(before, *name, app="ghl")
    statuses = ("ghl_engine_upstream_requests", "ghl_engine_upstream_requests_total")
    assert (value(after, *statuses, app="ghl", status="429")
            > value(before, *statuses, app="ghl", status="429"))


@pytest.mark.covers("contacts.search_contacts")
async def test_a_skipped_poll_is_counted_under_its_trigger(api, api_server, connection, receiver,
                                                           rt):  # noqa: F811
    sub = subscribe(api, connection, receiver)
    watch_id = await watch_of(rt, sub["id"])
    trigger = "contacts.search_contacts"
    before = scrape(api_server)
    # another poll of the watch holds its lock: this one is skipped
    await rt.redis.set(keys.WATCH_LOCK.format(watch_id=watch_id), "another-poll", px=30_000)
    try:
        assert (await poll(rt, sub["id"])).outcome == "skipped"
    finally:
        await rt.redis.delete(keys.WATCH_LOCK.format(watch_id=watch_id))
    after = scrape(api_server)
    skipped = ("ghl_engine_polls", "ghl_engine_polls_total")
    assert (value(after, *skipped, trigger=trigger, outcome="skipped")
            == value(before, *skipped, trigger=trigger, outcome="skipped") + 1)
    assert (value(after, *skipped, trigger="", outcome="skipped")
            == value(before, *skipped, trigger="", outcome="skipped"))
