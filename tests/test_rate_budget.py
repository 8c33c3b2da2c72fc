"""The per-location rate budget holds across processes; upstream's Retry-After is honoured;
a request that may have reached GHL is not repeated."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

BURST, WINDOW_MS = 20, 2000


def test_budget_holds_across_two_processes(api, connection, sandbox, sandbox_server):
    sandbox.put("/_sandbox/config", json={"rate_limit": BURST, "window_ms": WINDOW_MS}).raise_for_status()
    env = {**os.environ, "GHL_BASE_URL": sandbox_server.url, "ENGINE_RATE_BURST": str(BURST),
           "ENGINE_RATE_WINDOW_MS": str(WINDOW_MS), "ENGINE_RATE_MARGIN_MS": "200",
           "ENGINE_RATE_RESERVE": "0", "ENGINE_RATE_MAX_WAIT_SECONDS": "30"}
    # each process alone wants the whole burst at once: together, twice the budget
    procs = [subprocess.Popen([sys.executable, "-m", "tests.budget_client", connection["id"],
                               str(BURST * 2)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [json.loads(p.communicate(timeout=120)[0].strip().splitlines()[-1]) for p in procs]
    # from the first process's first request to the last one's answer (process start-up aside)
    elapsed = max(o["finished_s"] for o in outputs) - min(o["started_s"] for o in outputs)
    stats = sandbox.get("/_sandbox/stats").json()
    assert stats["rate_limited"] == 0, stats
    assert [o["ok"] for o in outputs] == [BURST * 2, BURST * 2], outputs
    # find_contact shares its endpoint with the get_duplicate_contact trigger
    lookups = sum(n for key, n in stats["requests"].items()
                  if key in ("contacts.find_contact", "contacts.get_duplicate_contact"))
    assert lookups == BURST * 4
    # 4 bursts of demand need at least 3 further windows; the budget is used, not wasted
    assert elapsed >= 3 * WINDOW_MS / 1000
    assert elapsed < 3 * (WINDOW_MS + 200) / 1000 + 6


def test_retry_after_is_honoured(api, connection, sandbox):
    sandbox.post("/_sandbox/faults", json={"status": 429, "count": 1, "retry_after": 1,
                                           "path_prefix": "/contacts/search/duplicate"})
    resp = api.post("/v1/actions/contacts.find_contact",
                    json={"connection_id": connection["id"], "input": {"email": "x@example.com"}})
    assert resp.status_code == 200, resp.text
    assert resp.json()["meta"]["attempts"] == 2
    times = [r["t"] for r in sandbox.get("/_sandbox/requests").json()["requests"]
             if r["path"] == "/contacts/search/duplicate"]
    assert len(times) == 2 and times[1] - times[0] >= 1.0


def test_a_long_retry_after_is_passed_to_the_caller(api, connection, sandbox):
    sandbox.post("/_sandbox/faults", json={"status": 429, "count": 1, "retry_after": 3600,
                                           "path_prefix": "/contacts/search/duplicate"})
    resp = api.post("/v1/actions/contacts.find_contact",
                    json={"connection_id": connection["id"], "input": {"email": "x@example.com"}})
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) >= 3600


def test_idempotent_calls_retry_5xx(api, connection, sandbox):
    sandbox.post("/_sandbox/faults", json={"status": 503, "count": 2,
                                           "path_prefix": "/contacts/search/duplicate"})
    resp = api.post("/v1/actions/contacts.find_contact",
                    json={"connection_id": connection["id"], "input": {"email": "x@example.com"}})
    assert resp.status_code == 200 and resp.json()["meta"]["attempts"] == 3


def test_a_create_is_not_repeated_after_a_5xx(api, connection, sandbox):
    sandbox.post("/_sandbox/faults", json={"status": 502, "count": 1, "path_prefix": "/contacts/"})
    resp = api.post("/v1/actions/contacts.create_contact",
                    json={"connection_id": connection["id"], "input": {"email": "once@example.com"}})
    assert resp.status_code == 502
    assert "not retried" in resp.json()["error"]["message"]
    posts = [r for r in sandbox.get("/_sandbox/requests").json()["requests"] if r["method"] == "POST"]
    assert len(posts) == 1


def test_upstream_headers_correct_the_local_count(api, connection, sandbox):
    """Another app spending the same location's budget shows in X-RateLimit-Remaining: the
    engine follows that lower figure instead of running into 429s."""
    sandbox.put("/_sandbox/config", json={"rate_limit": 10, "window_ms": WINDOW_MS}).raise_for_status()
    from sandbox.ghl import DEFAULT_TOKEN

    for _ in range(8):  # someone else uses 8 of the 10
        sandbox.get("/contacts/search/duplicate", params={"locationId": connection["location_id"]},
                    headers={"Authorization": f"Bearer {DEFAULT_TOKEN}", "Version": "2021-07-28"})
    for i in range(6):
        resp = api.post("/v1/actions/contacts.find_contact",
                        json={"connection_id": connection["id"], "input": {"email": f"{i}@example.com"}})
        assert resp.status_code == 200, resp.text
    assert sandbox.get("/_sandbox/stats").json()["rate_limited"] == 0
