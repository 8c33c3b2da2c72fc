"""Idempotency-Key: a replay returns the stored response and does not reach GHL twice."""

from __future__ import annotations

import concurrent.futures


def create(api, connection, key, email):
    return api.post("/v1/actions/contacts.create_contact", headers={"Idempotency-Key": key},
                    json={"connection_id": connection["id"], "input": {"email": email}})


def creates(sandbox) -> int:
    return sandbox.get("/_sandbox/stats").json()["requests"].get("contacts.create_contact", 0)


def test_replay_does_not_reach_ghl_twice(api, connection, sandbox):
    first = create(api, connection, "order-1001", "once@example.com")
    second = create(api, connection, "order-1001", "once@example.com")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert creates(sandbox) == 1


def test_same_key_other_body_is_a_conflict(api, connection, sandbox):
    assert create(api, connection, "order-1002", "a@example.com").status_code == 200
    resp = create(api, connection, "order-1002", "b@example.com")
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "idempotency_key_reused"
    assert creates(sandbox) == 1


def test_concurrent_requests_with_one_key_call_ghl_once(api, connection, sandbox):
    sandbox.put("/_sandbox/config", json={"latency_ms": 300}).raise_for_status()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: create(api, connection, "order-1003", "c@example.com"),
                                range(4)))
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}
    assert creates(sandbox) == 1


def test_keys_are_per_tenant(api, connection, sandbox, api_server):
    import httpx

    from tests.conftest import make_key

    assert create(api, connection, "shared-key", "t1@example.com").status_code == 200
    other = httpx.Client(base_url=api_server.url,
                         headers={"Authorization": f"Bearer {make_key('other-tenant-idem')}"})
    conn = other.post("/v1/connections", json={"token": "pit-sandbox-token",
                                               "location_id": connection["location_id"]}).json()
    resp = other.post("/v1/actions/contacts.create_contact", headers={"Idempotency-Key": "shared-key"},
                      json={"connection_id": conn["id"], "input": {"email": "t2@example.com"}})
    assert resp.status_code == 200 and "Idempotent-Replayed" not in resp.headers
    assert creates(sandbox) == 2


def test_a_failed_call_can_be_retried_with_the_same_key(api, connection, sandbox):
    sandbox.post("/_sandbox/faults", json={"status": 503, "count": 1, "path_prefix": "/contacts/"})
    assert create(api, connection, "order-1004", "d@example.com").status_code == 503
    resp = create(api, connection, "order-1004", "d@example.com")
    assert resp.status_code == 200 and "Idempotent-Replayed" not in resp.headers


def _start_api(port: int, lease_s: int):
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = {**os.environ, "ENGINE_IDEMPOTENCY_LEASE_SECONDS": str(lease_s)}
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:app_factory", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_up(url: str, proc) -> None:
    import time

    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the API process exited"
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the API process did not start")


def test_a_process_killed_mid_call_leaves_a_key_free_within_the_lease(api, connection, sandbox):
    """A real API process is killed (SIGKILL) while a keyed call waits on upstream; the claim
    it leaves expires within the lease (its TTL in Redis), a second process answers the retry
    409 while the lease runs, then runs it (200) once it ends."""
    import signal
    import threading
    import time

    import httpx

    from tests.support import free_port

    import redis

    from tests.conftest import REDIS_URL

    lease_s = 4  # the second process is up before the first is killed, so only the calls count
    urls = [f"http://127.0.0.1:{port}" for port in (free_port(), free_port())]
    headers = {"Authorization": api.headers["Authorization"], "Idempotency-Key": "crash-1"}
    body = {"connection_id": connection["id"], "input": {"email": "crash@example.com"}}
    sandbox.put("/_sandbox/config", json={"latency_ms": 20_000}).raise_for_status()
    first, second = [_start_api(int(url.rsplit(":", 1)[1]), lease_s) for url in urls]
    r = redis.Redis.from_url(REDIS_URL)
    try:
        _wait_up(urls[0], first)
        _wait_up(urls[1], second)
        call = threading.Thread(target=lambda: _quietly(httpx.post, urls[0] + "/v1/actions/contacts."
                                                        "create_contact", json=body,
                                                        headers=headers, timeout=30), daemon=True)
        call.start()
        deadline = time.monotonic() + 20
        while not (claimed := list(r.scan_iter(match="ghle:idem:*:crash-1"))):  # waiting upstream
            assert time.monotonic() < deadline, "the call never claimed its key"
            time.sleep(0.05)
        time.sleep(0.3)  # on its way upstream (the sandbox logs a request only once it answers)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        # the claim the killed process left ends by itself within the lease
        assert 0 < r.pttl(claimed[0]) <= lease_s * 1000
        sandbox.put("/_sandbox/config", json={"latency_ms": 0}).raise_for_status()
        early = httpx.post(urls[1] + "/v1/actions/contacts.create_contact", json=body,
                           headers=headers, timeout=30)
        assert early.status_code == 409, early.text
        assert early.json()["error"]["code"] == "idempotency_in_progress"
        deadline = time.monotonic() + lease_s + 10
        while True:
            resp = httpx.post(urls[1] + "/v1/actions/contacts.create_contact", json=body,
                              headers=headers, timeout=30)
            if resp.status_code != 409:
                break
            assert time.monotonic() < deadline, "the key stayed claimed"
            time.sleep(0.1)
        assert resp.status_code == 200, resp.text
        again = httpx.post(urls[1] + "/v1/actions/contacts.create_contact", json=body,
                           headers=headers, timeout=30)
        assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    finally:
        r.close()
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def _quietly(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - the server is killed under this request on purpose
        pass

