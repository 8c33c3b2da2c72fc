"""The console's login cookie: a random session id, never the API key; it ends at logout and
when its key is revoked; HttpOnly, SameSite=Strict, scoped to /console."""

from __future__ import annotations

import httpx


def _login(url: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    resp = client.post("/console/login", data={"api_key": key})
    assert resp.status_code == 303, resp.text
    return client


def _cookie(resp: httpx.Response) -> str:
    return resp.headers["set-cookie"]


def test_the_cookie_is_a_session_not_the_key(api, api_server):
    key = api.api_key
    with httpx.Client(base_url=api_server.url, timeout=30) as client:
        resp = client.post("/console/login", data={"api_key": key})
        assert resp.status_code == 303
        header = _cookie(resp)
        value = client.cookies["ghle_console"]
        assert value and value != key and key not in value and key[5:] not in value
        assert key not in header
        assert "HttpOnly" in header and "samesite=strict" in header.lower()
        assert "Path=/console" in header and "Max-Age=43200" in header
        assert client.get("/console").status_code == 200
        # the key itself is no longer a console cookie
        client.cookies.set("ghle_console", key, path="/console")
        assert client.get("/console").status_code == 303
        client.cookies.set("ghle_console", value, path="/console")
        assert client.get("/console").status_code == 200

        # logout ends the session on the server, not only in this browser
        assert client.post("/console/logout").status_code == 303
        with httpx.Client(base_url=api_server.url, timeout=30,
                          cookies={"ghle_console": value}) as stolen:
            assert stolen.get("/console").headers["location"] == "/console/login"


def test_revoking_the_key_ends_its_console_sessions(api, api_server):
    client = _login(api_server.url, api.api_key)
    try:
        assert client.get("/console").status_code == 200
        # rotating the key revokes the old one: the session opened with it ends too
        assert api.post("/v1/keys/rotate").status_code == 201
        resp = client.get("/console")
        assert resp.status_code == 303 and resp.headers["location"] == "/console/login"
    finally:
        client.close()


def test_the_cookie_is_secure_over_https(api, api_server):
    # the test server trusts X-Forwarded-Proto from 127.0.0.1, as behind a TLS proxy
    with httpx.Client(base_url=api_server.url, timeout=30,
                      headers={"X-Forwarded-Proto": "https"}) as client:
        resp = client.post("/console/login", data={"api_key": api.api_key})
    assert resp.status_code == 303
    assert "; Secure" in _cookie(resp) or "; secure" in _cookie(resp)
    with httpx.Client(base_url=api_server.url, timeout=30) as client:
        plain = client.post("/console/login", data={"api_key": api.api_key})
    assert "secure" not in _cookie(plain).lower()
