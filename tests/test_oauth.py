"""GHL OAuth: authorization-code flow, signed single-use state, refresh under a lock,
invalid_grant, and agency-minted location tokens; against the sandbox's OAuth endpoints."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import make_key
from tests.support import ServerThread

CONTACT = "/v1/actions/contacts.create_contact"


def _authorize(api, sandbox, **consent) -> dict:
    """Walk the browser's path: our authorize redirect, GHL's consent page, back to callback."""
    resp = api.get("/v1/oauth/ghl/authorize")
    assert resp.status_code == 302, resp.text
    url = urlsplit(resp.headers["location"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    query.update(consent)
    consent_page = sandbox.get("/oauth/chooselocation", params=query)  # GHL's page, stood in
    assert consent_page.status_code == 302, consent_page.text
    back = urlsplit(consent_page.headers["location"])
    assert back.path == "/v1/oauth/ghl/callback"
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def _connect(api, sandbox, **consent) -> dict:
    params = _authorize(api, sandbox, **consent)
    resp = api.get("/v1/oauth/ghl/callback", params=params)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _oauth_stats(sandbox) -> dict:
    return sandbox.get("/_sandbox/oauth").json()


def _create_contact(client, conn_id: str, n: int = 0):
    return client.post(CONTACT, json={"connection_id": conn_id,
                                      "input": {"firstName": f"Oauth{n}",
                                                "email": f"oauth{n}.{time.time_ns()}@example.com"}})


def test_authorize_redirects_to_chooselocation_with_scopes_and_state(api):
    from engine.oauth.tokens import catalog_scopes

    resp = api.get("/v1/oauth/ghl/authorize")
    assert resp.status_code == 302
    url = urlsplit(resp.headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == \
        "https://marketplace.gohighlevel.com/oauth/chooselocation"
    q = parse_qs(url.query)
    assert q["response_type"] == ["code"]
    assert q["client_id"] == ["sandbox-client-id"]
    assert q["redirect_uri"] == ["https://engine.example/v1/oauth/ghl/callback"]
    scopes = q["scope"][0].split(" ")
    assert scopes == catalog_scopes() and "contacts.write" in scopes
    assert len(q["state"][0]) > 40 and "client_secret" not in url.query
    as_json = api.get("/v1/oauth/ghl/authorize", params={"redirect": "false"})
    assert as_json.status_code == 200 and as_json.json()["authorize_url"].startswith("https://")


def test_authorize_needs_a_read_write_key(api_server, tenant):
    ro = make_key(tenant, read_only=True)
    resp = httpx.get(api_server.url + "/v1/oauth/ghl/authorize",
                     headers={"Authorization": f"Bearer {ro}"})
    assert resp.status_code == 403 and "read-only" in resp.json()["error"]["message"]
    assert httpx.get(api_server.url + "/v1/oauth/ghl/authorize").status_code == 401


def test_code_flow_stores_an_oauth_connection_that_works(api, sandbox):
    conn = _connect(api, sandbox)
    assert conn["auth"] == "oauth" and conn["location_id"] == "loc_sandbox0000000001"
    assert "access_token" not in json.dumps(conn) and "secret" not in conn
    assert _create_contact(api, conn["id"]).status_code == 200
    assert _oauth_stats(sandbox)["codes_exchanged"] == 1
    listed = api.get("/v1/connections").json()["connections"]
    assert [c["id"] for c in listed] == [conn["id"]]


def test_state_is_single_use_and_bound_to_its_tenant(api, sandbox, api_server, tenant):
    params = _authorize(api, sandbox)
    assert api.get("/v1/oauth/ghl/callback", params=params).status_code == 201
    again = api.get("/v1/oauth/ghl/callback", params=params)
    assert again.status_code == 422
    assert again.json()["error"]["details"][0]["field"] == "state"
    assert "already completed" in again.json()["error"]["details"][0]["message"]
    # the callback needs no API key: the state alone names the tenant that asked
    other = make_key(tenant + "b")
    with httpx.Client(base_url=api_server.url, headers={"Authorization": f"Bearer {other}"}) as b:
        assert b.get("/v1/connections").json()["connections"] == []


def test_forged_tampered_or_expired_state_is_refused(api, sandbox):
    from engine.core.settings import Settings
    from engine.oauth.tokens import _state_fernet

    params = _authorize(api, sandbox)
    tampered = dict(params, state=params["state"][:-6] + "AAAAAA")
    resp = api.get("/v1/oauth/ghl/callback", params=tampered)
    assert resp.status_code == 422 and resp.json()["error"]["details"][0]["field"] == "state"
    forged = dict(params, state="x" * 80)
    assert api.get("/v1/oauth/ghl/callback", params=forged).status_code == 422
    old = _state_fernet(Settings()).encrypt_at_time(
        json.dumps({"t": "someone", "n": "abc"}).encode(), int(time.time()) - 3600).decode()
    resp = api.get("/v1/oauth/ghl/callback", params={"code": params["code"], "state": old})
    assert resp.status_code == 422 and "expired" in resp.json()["error"]["message"] + \
        resp.json()["error"]["details"][0]["message"]
    missing = api.get("/v1/oauth/ghl/callback", params={"code": "abc"})
    assert missing.status_code == 422 and missing.json()["error"]["details"][0]["field"] == "query.state"
    assert _oauth_stats(sandbox)["codes_exchanged"] == 0


def test_bad_code_is_a_422_naming_code(api, sandbox):
    params = _authorize(api, sandbox)
    resp = api.get("/v1/oauth/ghl/callback", params=dict(params, code="not-a-code"))
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["details"][0]["field"] == "code" and "invalid_grant" in err["details"][0]["message"]


def test_token_close_to_expiry_is_refreshed_before_the_call(api, sandbox):
    sandbox.put("/_sandbox/oauth", json={"access_ttl": 120})  # inside the 300 s refresh margin
    conn = _connect(api, sandbox)
    before = len(sandbox.get("/_sandbox/requests").json()["requests"])
    assert _create_contact(api, conn["id"]).status_code == 200
    assert _oauth_stats(sandbox)["refreshes"] == 1
    sent = sandbox.get("/_sandbox/requests").json()["requests"][before:]
    assert len(sent) == 1  # refreshed first: no request went out with the old token


def test_401_refreshes_once_and_retries(api, sandbox):
    conn = _connect(api, sandbox)
    sandbox.post("/_sandbox/oauth/expire", json={}).raise_for_status()
    resp = _create_contact(api, conn["id"])
    assert resp.status_code == 200, resp.text
    assert _oauth_stats(sandbox)["refreshes"] == 1
    # the rotated pair was stored: the next call uses it without refreshing again
    assert _create_contact(api, conn["id"], 1).status_code == 200
    assert _oauth_stats(sandbox)["refreshes"] == 1


def test_concurrent_calls_in_two_processes_refresh_exactly_once(api, sandbox):
    from api.app import create_app

    conn = _connect(api, sandbox)
    sandbox.put("/_sandbox/oauth", json={"refresh_latency_ms": 300})
    sandbox.post("/_sandbox/oauth/expire", json={}).raise_for_status()
    second = ServerThread(create_app()).start()  # another API process: its own runtime
    try:
        urls = [api.base_url, httpx.URL(second.url)] * 6

        def call(i: int) -> int:
            with httpx.Client(base_url=urls[i], timeout=60,
                              headers={"Authorization": f"Bearer {api.api_key}"}) as c:
                return _create_contact(c, conn["id"], i).status_code

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(call, range(12)))
    finally:
        second.stop()
    assert statuses == [200] * 12
    stats = _oauth_stats(sandbox)
    assert stats["refreshes"] == 1 and stats["refresh_refused"] == 0


def test_invalid_grant_marks_connection_needs_reauth(api, sandbox):
    conn = _connect(api, sandbox)
    sub = api.post("/v1/subscriptions", json={"trigger": "contacts.search_contacts",
                                              "connection_id": conn["id"],
                                              "target_url": "http://127.0.0.1:9/hook"})
    assert sub.status_code == 201, sub.text
    sandbox.post("/_sandbox/oauth/revoke").raise_for_status()  # the app was uninstalled
    sandbox.post("/_sandbox/oauth/expire", json={}).raise_for_status()
    resp = _create_contact(api, conn["id"])
    assert resp.status_code == 401
    err = resp.json()["error"]
    assert err["code"] == "connection_needs_reauth" and "/v1/oauth/ghl/authorize" in err["message"]
    shown = api.get(f"/v1/connections/{conn['id']}").json()
    assert shown["status"] == "needs_reauth" and "invalid_grant" in shown["status_reason"]
    # its watches are paused, with the reason on the subscriptions
    paused = api.get(f"/v1/subscriptions/{sub.json()['id']}").json()
    assert paused["status"] == "paused" and "re-authorization" in paused["status_reason"]
    # no further refresh attempts: the connection is refused before any upstream call
    before = len(sandbox.get("/_sandbox/requests").json()["requests"])
    assert _create_contact(api, conn["id"], 1).json()["error"]["code"] == "connection_needs_reauth"
    assert _oauth_stats(sandbox)["refresh_refused"] == 1
    assert len(sandbox.get("/_sandbox/requests").json()["requests"]) == before
    # consent again for the same location: the same connection is renewed, its watches resume
    again = _connect(api, sandbox)
    assert again["id"] == conn["id"] and again["status"] == "active"
    assert _create_contact(api, conn["id"], 2).status_code == 200
    assert api.get(f"/v1/subscriptions/{sub.json()['id']}").json()["status"] == "active"
    assert len(api.get("/v1/connections").json()["connections"]) == 1
    api.delete(f"/v1/subscriptions/{sub.json()['id']}")  # no watch left for other tests' workers


def test_agency_connection_mints_location_connections(api, sandbox):
    agency = _connect(api, sandbox, user_type="Company")
    assert agency["company_id"] == "cmp_sandbox0000000001" and agency["location_id"] is None
    resp = api.post(f"/v1/connections/{agency['id']}/location-token",
                    json={"location_id": "loc_sandbox0000000001"})
    assert resp.status_code == 201, resp.text
    loc = resp.json()
    assert loc["auth"] == "oauth" and loc["location_id"] == "loc_sandbox0000000001"
    assert loc["company_id"] == agency["company_id"]
    assert _create_contact(api, loc["id"]).status_code == 200
    # the minted token has no refresh token: it is minted again from the agency when it expires
    sandbox.post("/_sandbox/oauth/expire", json={}).raise_for_status()
    assert _create_contact(api, loc["id"], 1).status_code == 200
    stats = _oauth_stats(sandbox)
    assert stats["location_tokens"] == 2 and stats["refreshes"] == 1  # the agency's own token too
    # a location connection cannot mint; bad bodies are 422s naming the field
    bad = api.post(f"/v1/connections/{loc['id']}/location-token", json={"location_id": "x"})
    assert bad.status_code == 422 and "agency" in bad.text
    assert api.post(f"/v1/connections/{agency['id']}/location-token",
                    json={"locationId": "x"}).json()["error"]["details"][0]["field"] in (
        "location_id", "locationId")


@pytest.mark.parametrize("body", [{"location_id": ""}, {"location_id": "a/b"}, {}])
def test_location_token_body_is_validated(api, body):
    resp = api.post("/v1/connections/conn_nope/location-token", json=body)
    assert resp.status_code == 422
    assert resp.json()["error"]["details"][0]["field"] == "location_id"


def test_a_forwarded_consent_cannot_be_completed_in_another_browser(api, sandbox, api_server):
    """The state is bound to a cookie set at /authorize: a consent link forwarded to someone
    else (another browser, no cookie or another one) is refused at the callback."""
    resp = api.get("/v1/oauth/ghl/authorize")
    cookie = resp.cookies.get("ghle_oauth_browser")
    assert cookie and len(cookie) >= 40
    set_cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert "path=/v1/oauth/ghl/" in set_cookie
    params = _authorize(api, sandbox)  # a second consent, started by this browser
    for jar in ({}, {"ghle_oauth_browser": cookie}):  # none, or the cookie of another consent
        with httpx.Client(base_url=api_server.url, cookies=jar) as victim:
            forwarded = victim.get("/v1/oauth/ghl/callback", params=params)
        assert forwarded.status_code == 422, forwarded.text
        problem = forwarded.json()["error"]["details"][0]
        assert problem["field"] == "ghle_oauth_browser", problem
        params = _authorize(api, sandbox)
    assert api.get("/v1/connections").json()["connections"] == []
    assert api.get("/v1/oauth/ghl/callback", params=params).status_code == 201  # its own browser
