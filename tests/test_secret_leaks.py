"""Secrets with characters no HTTP header can carry.

A pasted credential with a control character, a NUL or a lone surrogate is refused when the
connection is created (422 naming the field, nothing stored). A credential that reaches an
upstream call anyway (a record stored before that check, here written straight to Redis) fails
with an engine error that quotes no header: the secret appears in no API answer, no log line
(tracebacks and uvicorn's loggers included) and no Redis value (flow runs and delivery records
included).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets

import pytest

from engine.accounts import connections
from engine.core import keys
from engine.core.settings import Settings
from engine.wiring import open_runtime
from sandbox.ghl import DEFAULT_LOCATION
from tests.test_flows import drive, new_contact, runs
from tests.e2e_helpers import contact_copy_flow
from tests.test_secrets import Capture, _redis_dump


@pytest.fixture
def every_log():
    handler = Capture()
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access"]
    old = {n: logging.getLogger(n).level for n in names}
    for name in names:
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(old[name])


def _stored_connection_count(tenant: str) -> int:
    import redis

    from tests.conftest import REDIS_URL
    r = redis.Redis.from_url(REDIS_URL)
    try:
        return r.scard(keys.TENANT_CONNECTIONS.format(tenant=tenant))
    finally:
        r.close()


BAD_CHARACTERS = {"newline": "\n", "carriage return": "\r", "NUL": "\x00", "tab": "\t",
                  "surrogate": "\ud800", "non-ASCII": "\u00e9", "escape": "\x1b"}


@pytest.mark.parametrize("name", sorted(BAD_CHARACTERS))
def test_a_credential_with_a_bad_character_is_refused_at_creation(api, sandbox, tenant, name):
    bad = BAD_CHARACTERS[name]
    secret = "pit-" + secrets.token_hex(8) + bad + secrets.token_hex(4)
    bodies = {"token": {"token": secret, "location_id": DEFAULT_LOCATION},
              "api_key": {"app": "smsglobal", "api_key": secret, "api_secret": "s" * 32},
              "api_secret": {"app": "smsglobal", "api_key": "k" * 32, "api_secret": secret}}
    for field, body in bodies.items():
        resp = api.post("/v1/connections", content=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json"})
        assert resp.status_code == 422, (field, resp.text)
        assert field in [p["field"] for p in resp.json()["error"]["details"]], resp.text
        assert secret.encode("utf-8", "surrogatepass").hex() not in resp.content.hex()
        assert secret[4:20] not in resp.text
    assert _stored_connection_count(tenant) == 0
    assert sandbox.get("/_sandbox/stats").json()["total"] == 0  # nothing sent upstream either


def test_surrounding_whitespace_is_stripped_and_the_token_verified(api, sandbox):
    token = "pit-" + secrets.token_hex(16)
    sandbox.post("/_sandbox/tokens", json={"token": token}).raise_for_status()
    resp = api.post("/v1/connections", json={"token": f"  {token}\n", "location_id": DEFAULT_LOCATION})
    assert resp.status_code == 201, resp.text
    ok = api.post("/v1/actions/contacts.create_contact", json={
        "connection_id": resp.json()["id"], "input": {"firstName": "Trim"}})
    assert ok.status_code == 200, ok.text
    wrong = api.post("/v1/connections", json={"token": "pit-" + secrets.token_hex(16),
                                              "location_id": DEFAULT_LOCATION})
    assert wrong.status_code == 422 and wrong.json()["error"]["details"][0]["field"] == "token"
    elsewhere = api.post("/v1/connections", json={"token": token, "location_id": "someoneElse01"})
    assert elsewhere.status_code == 422
    assert elsewhere.json()["error"]["details"][0]["field"] == "location_id"
    bad_id = api.post("/v1/connections", json={"token": token, "location_id": "\u0000/../x"})
    assert bad_id.status_code == 422 and "location_id" in bad_id.text
    assert len(api.get("/v1/connections").json()["connections"]) == 1


def _plant(tenant: str, app: str, secret: dict, **fields) -> str:
    """A connection written straight to Redis, as a record from before validation would be."""
    async def go():
        rt = await open_runtime(Settings())
        try:
            conn = connections.new(tenant=tenant, app=app, name="old record",
                                   auth="private_token" if app == "ghl" else "mac",
                                   secret=secret, **fields)
            await connections.save(rt.redis, rt.vault, conn)
            return conn.id
        finally:
            await rt.close()
    return asyncio.run(go())


def test_a_stored_secret_with_a_header_breaking_character_leaks_nowhere(
        api, sandbox, tenant, connection, every_log):
    planted = {
        "ghl newline": "pit-" + secrets.token_hex(12) + "\n",
        "ghl NUL": "pit-" + secrets.token_hex(12) + "\x00x",
        "ghl surrogate": "pit-" + secrets.token_hex(12) + "\ud800",
        "sms key newline": secrets.token_hex(12) + "\n",
    }
    conn_ids = {name: _plant(tenant, "ghl", {"access_token": value}, location_id=DEFAULT_LOCATION)
                for name, value in planted.items() if name.startswith("ghl")}
    conn_ids["sms key newline"] = _plant(tenant, "smsglobal", {
        "api_key": planted["sms key newline"], "api_secret": secrets.token_hex(16)})
    answers = []
    for name, conn_id in conn_ids.items():
        action = "smsglobal.send_sms" if name.startswith("sms") else "contacts.create_contact"
        data = {"destinations": ["61400000001"], "message": "hi"} if name.startswith("sms") else \
            {"firstName": "Leak"}
        resp = api.post(f"/v1/actions/{action}", json={"connection_id": conn_id, "input": data})
        assert 400 <= resp.status_code < 500 or resp.status_code in (502, 504), resp.text
        assert resp.status_code != 500, resp.text
        assert resp.json()["error"]["code"] == "request_unsendable", resp.text
        answers.append(resp.text)
        answers.append(api.post(f"/v1/connections/{conn_id}/test").text)
        answers.append(api.post("/v1/triggers/contacts.search_contacts/items",
                                json={"connection_id": conn_id}).text)

    # the same credential as a flow step: the run records only the engine's message
    flow = contact_copy_flow(api, "leaky", connection["id"], conn_ids["ghl newline"])
    drive(flow)
    new_contact(api, connection, firstName="Fresh", email="fresh@example.com")
    drive(flow)
    (run,) = runs(api, flow)
    assert run["status"] == "failed"
    assert "may hold characters" in run["error"] or "could not be built" in run["error"], run
    answers.append(json.dumps(runs(api, flow)))
    answers.append(api.get(f"/v1/flows/{flow['id']}/runs/{run['id']}").text)
    answers.append(api.get("/v1/connections").text)
    api.delete(f"/v1/flows/{flow['id']}")

    logs = "\n".join(every_log.lines)
    assert logs, "no log captured: the capture is broken"
    dump = _redis_dump()
    for name, value in planted.items():
        core = value.rstrip("\n").split("\x00")[0].replace("\ud800", "")
        for text in answers:
            assert core not in text, f"{name} appears in an API answer"
        assert core not in logs, f"{name} appears in the logs"
        assert core.encode() not in dump, f"{name} is stored in Redis in clear"


def test_log_masking_covers_tracebacks_and_uvicorn_handlers():
    import io

    from engine.core.logs import setup_logging

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addHandler(handler)
    try:
        setup_logging("INFO")  # guards the handlers uvicorn configured
        try:
            raise ValueError("Illegal header value b'Bearer pit-0123456789abcdef\\n'")
        except ValueError:
            uvicorn_error.exception("request failed")
    finally:
        uvicorn_error.removeHandler(handler)
    shown = stream.getvalue()
    assert "ValueError" in shown and "Traceback" in shown
    assert "0123456789abcdef" not in shown and "Bearer ***" in shown
