"""API keys: hashed at rest, revocable, rotatable (CLI and API), read-only keys refused on
every write route, per-key rate limit answered with 429 and Retry-After."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest
import redis as sync_redis

from tests.conftest import REDIS_URL, ROOT, make_key
from tests.routes import fill, v1_routes
from tests.support import ServerThread

# POST routes that only read (a read-only key may call them)
READS_BY_POST = {"/v1/triggers/{key}/items", "/v1/keys/rotate"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli.main", *args], cwd=ROOT, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=60)


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_keys_are_stored_only_as_digests(api, tenant):
    r = sync_redis.Redis.from_url(REDIS_URL)
    dump = b""
    for k in r.scan_iter("ghle:*"):
        t = r.type(k)
        dump += k
        if t == b"hash":
            dump += b"".join(a + b for a, b in r.hgetall(k).items())
        elif t == b"string":
            dump += r.get(k) or b""
    assert api.api_key.encode() not in dump
    import hashlib

    assert hashlib.sha256(api.api_key.encode()).hexdigest().encode() in dump


def test_cli_lists_keys_without_showing_them(api_server, tenant):
    made = [_cli("keys", "create", "--tenant", tenant),
            _cli("keys", "create", "--tenant", tenant, "--read-only")]
    assert all(m.returncode == 0 for m in made), [m.stderr for m in made]
    ids = [re.search(r"key id:\s+(\S+)", m.stdout).group(1) for m in made]
    secrets = [re.search(r"api key:\s+(\S+)", m.stdout).group(1) for m in made]
    listed = subprocess.run([sys.executable, "-m", "engine.cli.main", "keys", "list", "--tenant",
                             tenant], cwd=ROOT, env={**os.environ, "COLUMNS": "250"},
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("│")[1].strip(): line for line in listed.stdout.splitlines()
            if line.count("│") >= 4 and "key_" in line}
    assert set(rows) == set(ids)
    assert tenant in rows[ids[0]] and "read-write" in rows[ids[0]]
    assert "read-only" in rows[ids[1]]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", rows[ids[0]])
    for key in secrets:
        assert key not in listed.stdout and key[5:15] not in listed.stdout
    # every tenant's keys without --tenant; a revoked key is gone from the list
    assert ids[0] in _cli("keys", "list").stdout
    assert _cli("keys", "revoke", ids[0]).returncode == 0
    after = _cli("keys", "list", "--tenant", tenant).stdout
    assert ids[0] not in after and ids[1] in after


def test_cli_create_rotate_and_revoke(api_server, tenant):
    made = _cli("keys", "create", "--tenant", tenant)
    assert made.returncode == 0, made.stderr
    key_id = re.search(r"key id:\s+(\S+)", made.stdout).group(1)
    key = re.search(r"api key:\s+(\S+)", made.stdout).group(1)
    with _client(api_server.url, key) as c:
        assert c.get("/v1/connections").status_code == 200
        c.post("/v1/connections", json={"token": "pit-sandbox-token",
                                        "location_id": "loc_sandbox0000000001"}).raise_for_status()
    rotated = _cli("keys", "rotate", key_id)
    assert rotated.returncode == 0, rotated.stderr
    new_id = re.search(r"key id:\s+(\S+)", rotated.stdout).group(1)
    new_key = re.search(r"api key:\s+(\S+)", rotated.stdout).group(1)
    with _client(api_server.url, key) as old:
        resp = old.get("/v1/connections")
        assert resp.status_code == 401 and "revoked" in resp.json()["error"]["message"]
    with _client(api_server.url, new_key) as new:
        assert len(new.get("/v1/connections").json()["connections"]) == 1  # same tenant
    assert _cli("keys", "revoke", new_id).returncode == 0
    with _client(api_server.url, new_key) as new:
        assert new.get("/v1/connections").status_code == 401
    assert _cli("keys", "rotate", new_id).returncode == 1  # a revoked key cannot be rotated


def test_api_rotates_the_calling_key_keeping_read_only(api_server, tenant):
    ro = make_key(tenant, read_only=True)
    with _client(api_server.url, ro) as c:
        resp = c.post("/v1/keys/rotate")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["read_only"] is True and body["api_key"].startswith("ghle_")
    with _client(api_server.url, ro) as c:
        assert c.get("/v1/connections").status_code == 401
    with _client(api_server.url, body["api_key"]) as c:
        assert c.get("/v1/connections").status_code == 200
        refused = c.post("/v1/connections", json={"token": "pit-x", "location_id": "l"})
        assert refused.status_code == 403


def test_read_only_key_is_refused_on_every_write_route(api_server, tenant):
    from api.app import create_app

    ro = make_key(tenant, read_only=True)
    checked = []
    with _client(api_server.url, ro) as c:
        for route in v1_routes(create_app()):
            writes = route.method != "GET" and route.path not in READS_BY_POST
            writes = writes or route.path == "/v1/oauth/ghl/authorize"
            # pushed events carry no API key: a signature or a hook token authenticates them
            writes = writes and not route.path.startswith("/v1/inbound/")
            if not writes:
                continue
            url = fill(route.path, {p: "x_missing" for p in route.params})
            resp = c.request(route.method, url, json={})
            assert resp.status_code == 403, (route, resp.text)
            err = resp.json()["error"]
            assert err["code"] == "read_only_key" and "read-only" in err["message"]
            checked.append(route.path)
    assert "/v1/connections" in checked and "/v1/actions/{key}" in checked


def test_per_key_rate_limit_answers_429_with_retry_after(sandbox_server, tenant):
    from api.app import create_app
    from engine.core.settings import get_settings

    server = ServerThread(create_app(get_settings().model_copy(update={"key_rate_limit": 5}))).start()
    try:
        key, other = make_key(tenant), make_key(tenant)
        with _client(server.url, key) as c:
            statuses = [c.get("/v1/connections").status_code for _ in range(5)]
            limited = c.get("/v1/connections")
        assert statuses == [200] * 5
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        err = limited.json()["error"]
        assert err["code"] == "rate_limited" and "ENGINE_KEY_RATE_LIMIT" in err["message"]
        with _client(server.url, other) as c:  # limits are per key
            assert c.get("/v1/connections").status_code == 200
    finally:
        server.stop()


@pytest.mark.parametrize("header", [{}, {"Authorization": "Bearer ghle_nope"},
                                    {"X-API-Key": "nope"}, {"Authorization": "Basic abc"}])
def test_missing_or_unknown_key_is_401(api_server, header):
    resp = httpx.get(api_server.url + "/v1/connections", headers=header)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"
