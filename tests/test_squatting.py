"""Rate-budget squatting: another tenant typing the owner's location id cannot spend, delay or
429 the owner's actions.

* a made-up token for the owner's location is refused when the connection is created;
* a token that worked once and was then revoked gets 401s that are refunded to the location's
  budget and quarantine the connection after a few;
* a tenant with a real connection to the same location (shared legitimately) is held to its
  share of the burst, so its flood leaves the owner's actions their slots."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import redis as sync_redis

from engine.core import keys
from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN
from tests.conftest import REDIS_URL, make_key

FIND = "/v1/actions/contacts.find_contact"


def _find(client, conn_id: str) -> httpx.Response:
    return client.post(FIND, json={"connection_id": conn_id, "input": {"email": "own@example.com"}})


def _window(r) -> int:
    return r.zcard(keys.RATE_WINDOW.format(scope=f"ghl:{DEFAULT_LOCATION}"))


def test_a_squatter_cannot_spend_delay_or_429_the_owners_actions(api, api_server, sandbox,
                                                                  connection, tenant):
    r = sync_redis.Redis.from_url(REDIS_URL)
    quiet = []
    for _ in range(5):
        started = time.perf_counter()
        assert _find(api, connection["id"]).status_code == 200
        quiet.append(time.perf_counter() - started)
    squatter = httpx.Client(base_url=api_server.url, timeout=60,
                            headers={"Authorization": f"Bearer {make_key(tenant + 'squat')}"})
    try:
        # 1. a made-up token: refused at creation, nothing spent
        before = _window(r)
        fake = squatter.post("/v1/connections", json={"token": "pit-made-up-token-1234",
                                                      "location_id": DEFAULT_LOCATION})
        assert fake.status_code == 422, fake.text
        assert _window(r) == before

        # 2. a token revoked after connecting: 401s refunded, then quarantined
        sandbox.post("/_sandbox/tokens", json={"token": "pit-squat-revoked"}).raise_for_status()
        revoked = squatter.post("/v1/connections", json={"token": "pit-squat-revoked",
                                                         "location_id": DEFAULT_LOCATION}).json()
        sandbox.delete("/_sandbox/tokens/pit-squat-revoked")
        sent_before = sandbox.get("/_sandbox/stats").json()["requests"].get("401", 0)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: _find(squatter, revoked["id"]), range(60)))
        assert {a.status_code for a in answers} == {401}
        assert any("quarantined" in a.text for a in answers)
        reached = sandbox.get("/_sandbox/stats").json()["requests"].get("401", 0) - sent_before
        assert reached <= 5 + 8, reached  # the strikes, plus those already in flight
        assert _window(r) == before, "401 answers spent the location's budget"

        # 3. a legitimate second tenant on the same location floods it
        shared = squatter.post("/v1/connections", json={"token": DEFAULT_TOKEN,
                                                        "location_id": DEFAULT_LOCATION}).json()
        owner_times, owner_status = [], []

        def flood(_):
            return _find(squatter, shared["id"]).status_code

        with ThreadPoolExecutor(12) as pool:
            flooding = [pool.submit(flood, i) for i in range(160)]
            time.sleep(1.0)  # the flood has filled its share by now
            for _ in range(8):
                started = time.perf_counter()
                owner_status.append(_find(api, connection["id"]).status_code)
                owner_times.append(time.perf_counter() - started)
            flooded = [f.result() for f in flooding]
        assert owner_status == [200] * 8, owner_status
        assert 429 in flooded or max(owner_times) < 1.0
        assert statistics.median(owner_times) <= max(2 * statistics.median(quiet), 0.25), \
            (quiet, owner_times)
        assert max(owner_times) < 1.0, owner_times
    finally:
        squatter.close()
        r.close()
