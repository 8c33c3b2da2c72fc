"""Headers the engine reads from upstream answers are read tolerantly: an unreadable value is
treated as absent, never as an error. A proxy adding ``Retry-After: soon`` to every answer must
not fail a call; a 429 or 503 with an unreadable Retry-After is retried on the engine's own
backoff."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from redis.asyncio import Redis

from engine.upstream.budget import Budget, Limits
from engine.upstream.client import retry_after_seconds
from tests.conftest import REDIS_URL

JUNK = ["soon", "120junk", "NaN", "inf", "-inf", "1e999", "Wed, 99 Foo 2026 99:99:99 GMT", " ",
        "\u00e9t\u00e9", "Wed, 21 Oct 2015 07:28:00"]


def find(api, connection):
    return api.post("/v1/actions/contacts.find_contact",
                    json={"connection_id": connection["id"], "input": {"email": "x@example.com"}})


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("value", ["soon", "120junk"])
def test_an_unreadable_retry_after_falls_back_on_the_engines_backoff(api, connection, sandbox,
                                                                     status, value):
    sandbox.post("/_sandbox/faults", json={"status": status, "count": 1, "retry_after": value,
                                           "path_prefix": "/contacts/search/duplicate"})
    resp = find(api, connection)
    assert resp.status_code == 200, resp.text
    assert resp.json()["meta"]["attempts"] == 2


def test_an_unreadable_retry_after_on_a_success_is_ignored(api, connection, sandbox):
    sandbox.post("/_sandbox/faults", json={"status": 200, "count": 1, "retry_after": "soon",
                                           "path_prefix": "/contacts/search/duplicate"})
    resp = find(api, connection)
    assert resp.status_code == 200, resp.text
    assert resp.json()["meta"]["attempts"] == 1


def test_retry_after_values():
    assert retry_after_seconds(httpx.Headers({"retry-after": "7"})) == 7.0
    assert retry_after_seconds(httpx.Headers({"retry-after": "-3"})) == 0.0
    assert retry_after_seconds(httpx.Headers({})) is None
    for value in JUNK:
        assert retry_after_seconds({"retry-after": value}) is None, value


def test_unreadable_rate_limit_headers_are_ignored_by_the_budget():
    async def go():
        redis = Redis.from_url(REDIS_URL)
        try:
            budget = Budget(redis, Limits(burst=5))
            scope = "ghl:test-junk-headers"
            for value in JUNK:
                headers = {"x-ratelimit-remaining": value, "x-ratelimit-daily-remaining": value,
                           "x-ratelimit-interval-milliseconds": value}
                await budget.observe(scope, headers, 200)
            assert [await budget.try_acquire(scope, "interactive") for _ in range(5)][-1][0] == 0
            await budget.observe(scope, {"x-ratelimit-remaining": "0"}, 200)
            assert (await budget.try_acquire("ghl:other-scope", "interactive"))[0] == 0
        finally:
            await redis.aclose()
    asyncio.run(go())
