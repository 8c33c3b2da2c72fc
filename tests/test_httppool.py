"""The lean connection pool (engine/upstream/httppool.py) against the httpcore it is pinned to
(pyproject.toml: ``httpcore>=1.0.5,<1.1``): the upstream client runs on it, and it takes the same
decisions as httpcore's own pool (connections opened, reused, kept alive, requests served).
A new httpcore whose private pool API moved fails here instead of silently losing the pool."""

from __future__ import annotations

import asyncio

import httpcore
import httpx
import pytest

from engine.core.settings import Settings
from engine.upstream.httppool import LeanConnectionPool, use_lean_pool
from engine.wiring import open_runtime
from tests.support import ServerThread

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2)


async def _app(scope, receive, send):
    """Answers every request after a short pause, with the client's port (its connection)."""
    if scope["type"] != "http":
        return
    await asyncio.sleep(0.02)
    body = str(scope["client"][1]).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def server():
    srv = ServerThread(_app).start()
    yield srv
    srv.stop()


async def _waves(client: httpx.AsyncClient, url: str) -> tuple[list[int], int]:
    """Three waves of 12 concurrent requests: the connection (client port) of each answer, and
    the connections the pool keeps at the end."""
    ports = []
    for _ in range(3):
        answers = await asyncio.gather(*(client.get(url) for _ in range(12)))
        ports += [int(a.text) for a in answers if a.status_code == 200]
        await asyncio.sleep(0.05)
    return ports, len(client._transport._pool.connections)


async def test_the_upstream_client_runs_on_the_lean_pool():
    rt = await open_runtime(Settings())
    try:
        assert type(rt.upstream.http._transport._pool) is LeanConnectionPool
    finally:
        await rt.close()


async def test_the_lean_pool_decides_as_httpcores_own(server):
    assert httpcore.__version__.startswith("1.0.")
    plain = httpx.AsyncClient(limits=LIMITS)
    lean = httpx.AsyncClient(limits=LIMITS)
    use_lean_pool(lean)
    assert type(plain._transport._pool) is httpcore.AsyncConnectionPool
    assert type(lean._transport._pool) is LeanConnectionPool
    try:
        ports_plain, kept_plain = await _waves(plain, server.url)
        ports_lean, kept_lean = await _waves(lean, server.url)
    finally:
        await plain.aclose()
        await lean.aclose()
    assert len(ports_plain) == len(ports_lean) == 36  # every request served
    # the same number of connections opened (idle ones beyond the keep-alive limit are closed
    # as requests end, so more open than the 4 at once), and the same kept alive after
    assert len(set(ports_lean)) == len(set(ports_plain))
    assert kept_lean == kept_plain <= LIMITS.max_keepalive_connections
