"""No secret in logs, error messages, API responses or Redis in plain text.

Known secrets are planted (a GHL private token, OAuth access and refresh tokens and the OAuth
client secret, an SMSGlobal API secret, the API key, a webhook signing secret); then every /v1
route is exercised, including the token refresh and upstream-refusal paths, and none of them
may appear in the captured log records (all loggers, DEBUG and up), in any response (except
the one-time creation answers that must show a webhook secret), or anywhere in a dump of every
Redis key and value.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest
import redis as sync_redis

from api.app import create_app
from tests.conftest import REDIS_URL
from tests.routes import fill, v1_routes
from tests.test_isolation import NOT_OWNED_PARAMS, _body, _fill_ids


class Capture(logging.Handler):
    """Every record as logged, its traceback formatted in full (no filter of its own)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            text += record.exc_text
        self.lines.append(f"{record.name} {text}")


@pytest.fixture
def captured_logs():
    handler = Capture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old)


def _redis_dump() -> bytes:
    r = sync_redis.Redis.from_url(REDIS_URL)
    out = []
    for key in r.scan_iter(count=1000):
        out.append(key)
        kind = r.type(key)
        if kind == b"hash":
            out.extend(a + b"=" + b for a, b in r.hgetall(key).items())
        elif kind == b"string":
            out.append(r.get(key) or b"")
        elif kind == b"set":
            out.extend(r.smembers(key))
        elif kind == b"zset":
            out.extend(m for m, _ in r.zrange(key, 0, -1, withscores=True))
        elif kind == b"list":
            out.extend(r.lrange(key, 0, -1))
        elif kind == b"stream":
            for _, fields in r.xrange(key):
                out.extend(a + b"=" + b for a, b in fields.items())
    return b"\n".join(out)


def test_no_secret_is_logged_returned_or_stored_in_clear(api, sandbox, sandbox_server, captured_logs):
    planted: dict[str, str] = {"api_key": api.api_key, "oauth_client_secret": "sandbox-client-secret"}
    responses: list[tuple[str, str]] = []

    def record(label: str, resp) -> None:
        responses.append((label, resp.text + " " + " ".join(f"{k}: {v}" for k, v in resp.headers.items())))

    # a GHL private integration token
    pit = "pit-" + secrets.token_hex(16)
    sandbox.post("/_sandbox/tokens", json={"token": pit}).raise_for_status()
    planted["ghl_token"] = pit
    resp = api.post("/v1/connections", json={"token": pit, "location_id": "loc_sandbox0000000001"})
    record("create ghl connection", resp)
    ghl_conn = resp.json()["id"]

    # an SMSGlobal key pair, where that connection type exists
    sms_key, sms_secret = secrets.token_hex(16), secrets.token_hex(16)
    planted["smsglobal_secret"] = sms_secret
    sandbox.post("/_sandbox/smsglobal/credentials",
                 json={"api_key": sms_key, "api_secret": sms_secret}).raise_for_status()
    resp = api.post("/v1/connections", json={"app": "smsglobal", "api_key": sms_key,
                                             "api_secret": sms_secret})
    assert resp.status_code == 201, resp.text
    record("create smsglobal connection", resp)
    refused_secret = secrets.token_hex(16)
    planted["smsglobal_refused_secret"] = refused_secret
    record("create smsglobal connection refused", api.post("/v1/connections", json={
        "app": "smsglobal", "api_key": sms_key, "api_secret": refused_secret}))

    # OAuth: the code flow, then a refresh (the tokens are the sandbox's, read from its state)
    auth = api.get("/v1/oauth/ghl/authorize")
    record("authorize", auth)
    query = {k: v[0] for k, v in parse_qs(urlsplit(auth.headers["location"]).query).items()}
    back = sandbox.get("/oauth/chooselocation", params=query)
    params = {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}
    resp = api.get("/v1/oauth/ghl/callback", params=params)
    record("callback", resp)
    oauth_conn = resp.json()["id"]
    oauth_state = sandbox_server.server.config.app.state.sandbox_oauth
    planted["oauth_code"] = params["code"]
    sandbox.post("/_sandbox/oauth/expire", json={}).raise_for_status()
    record("action after expiry", api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": oauth_conn, "input": {"firstName": "Sec", "email": "sec@example.com"}}))
    record("action again", api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": oauth_conn, "input": {"firstName": "Sec2", "email": "sec2@example.com"}}))
    assert sandbox.get("/_sandbox/oauth").json()["refreshes"] == 1
    live_tokens = [t for t, info in sandbox_server.server.config.app.state.sandbox.tokens.items()
                   if "expires_at" in info]
    for i, tok in enumerate(live_tokens):
        planted[f"oauth_access_{i}"] = tok
    for i, tok in enumerate(oauth_state.refresh_tokens):
        planted[f"oauth_refresh_{i}"] = tok
    assert any(k.startswith("oauth_refresh") for k in planted)

    # a webhook subscription: its signing secret is shown once, on creation
    resp = api.post("/v1/subscriptions", json={"trigger": "contacts.search_contacts",
                                               "connection_id": ghl_conn,
                                               "target_url": "http://127.0.0.1:9/hook"})
    assert resp.status_code == 201, resp.text
    planted["webhook_secret"] = resp.json()["secret"]
    sub_id = resp.json()["id"]

    # upstream refusal paths: a revoked private token, an uninstalled OAuth app
    sandbox.delete(f"/_sandbox/tokens/{pit}")
    record("test revoked token", api.post(f"/v1/connections/{ghl_conn}/test"))
    record("action with revoked token", api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": ghl_conn, "input": {"firstName": "X"}}))
    sandbox.post("/_sandbox/oauth/revoke")
    sandbox.post("/_sandbox/oauth/expire", json={})
    record("action needing reauth", api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": oauth_conn, "input": {"firstName": "Y"}}))

    # every route, with this tenant's own ids
    app = create_app()
    spec = app.openapi()
    ids = {"conn_id": ghl_conn, "sub_id": sub_id, "delivery_id": "dlv_x", "flow_id": "flow_x",
           "run_id": "run_x", "location_id": "loc_sandbox0000000001",
           "hook_token": api.get(f"/v1/connections/{ghl_conn}/hook").json()["ghl_workflow_url"]
           .rsplit("/", 1)[1]}
    for route in v1_routes(app):
        if route.path == "/v1/keys/rotate" or route.method == "DELETE":
            continue  # keep the key and the objects for the checks below
        url = fill(route.path, _fill_ids(route, ids))
        body = _body(route, spec, ids) if route.has_body else None
        resp = api.request(route.method, url, json=body) if body is not None else \
            api.request(route.method, url)
        assert resp.status_code < 500, (route, resp.text)
        record(f"{route.method} {route.path}", resp)

    one_time = {"webhook_secret": {"POST /v1/subscriptions", "POST /v1/triggers/{key}/subscriptions"}}
    for label, text in responses:
        for name, value in planted.items():
            if label in one_time.get(name, ()):
                continue
            assert value not in text, f"{name} appears in the answer to {label}"
    logs = "\n".join(captured_logs.lines)
    assert logs, "no log captured: the capture is broken"
    for name, value in planted.items():
        assert value not in logs, f"{name} appears in the logs"
    dump = _redis_dump()
    for name, value in planted.items():
        assert value.encode() not in dump, f"{name} is stored in Redis in plain text"
    assert NOT_OWNED_PARAMS  # the route walk shares its id filling with the isolation test
    for listed in api.get("/v1/subscriptions").json()["subscriptions"]:
        api.delete(f"/v1/subscriptions/{listed['id']}")  # no watch left for other tests' workers


def test_log_filter_masks_token_shapes_that_slip_in():
    from engine.core.logs import RedactSecrets

    samples = ["Authorization: Bearer eyJhbGciOi.payload.sig", "refresh_token=rt-abc123def",
               '{"access_token": "eyJraw.tok.en"}', "client_secret=shh-123", "key ghle_abcDEF123",
               "token pit-1234-abcd", "secret whsec_abcd", "callback?code=7676cjcbdc6t&state=x",
               "unhandled error on POST /v1/inbound/smsglobal/hk_Zq81xYhookTok/receipt"]
    for text in samples:
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "seen: %s", (text,), None)
        RedactSecrets().filter(record)
        shown = record.getMessage()
        for secret in ("payload.sig", "rt-abc123def", "raw.tok.en", "shh-123", "abcDEF123",
                       "1234-abcd", "whsec_abcd", "7676cjcbdc6t", "Zq81xYhookTok"):
            assert secret not in shown, (text, shown)
