"""No credential in plain text in Redis or in the logs."""

from __future__ import annotations

import logging

import redis

from tests.conftest import REDIS_URL

TOKEN = "pit-sandbox-token"


def dump_redis() -> bytes:
    r = redis.Redis.from_url(REDIS_URL)
    out = []
    for key in r.scan_iter("*"):
        out.append(key)
        kind = r.type(key)
        if kind == b"string":
            out.append(r.get(key) or b"")
        elif kind == b"hash":
            for k, v in r.hgetall(key).items():
                out += [k, v]
        elif kind == b"set":
            out += list(r.smembers(key))
        elif kind == b"zset":
            out += [m for m, _ in r.zrange(key, 0, -1, withscores=True)]
        elif kind == b"list":
            out += r.lrange(key, 0, -1)
        elif kind == b"stream":
            out += [repr(e).encode() for e in r.xrange(key)]
    return b"\n".join(out)


def test_no_plaintext_credentials_in_redis_or_logs(api, connection, sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    resp = api.post("/v1/actions/contacts.create_contact",
                    json={"connection_id": connection["id"], "input": {"email": "s@example.com"}})
    assert resp.status_code == 200
    api.post(f"/v1/connections/{connection['id']}/test")
    api.post("/v1/actions/contacts.create_contact", headers={"Idempotency-Key": "k1"},
             json={"connection_id": connection["id"], "input": {"email": "s2@example.com"}})
    sandbox.post("/_sandbox/tokens", json={"token": "pit-not-valid"}).raise_for_status()
    bad = api.post("/v1/connections", json={"token": "pit-not-valid",
                                            "location_id": "loc_sandbox0000000001"}).json()
    sandbox.delete("/_sandbox/tokens/pit-not-valid")
    api.post("/v1/actions/contacts.create_contact",
             json={"connection_id": bad["id"], "input": {"email": "s3@example.com"}})
    refused = api.post("/v1/connections", json={"token": "pit-never-valid", "location_id": "loc"})
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["field"] == "token"

    dump = dump_redis()
    for secret in (TOKEN, "pit-not-valid", "pit-never-valid", api.api_key):
        assert secret.encode() not in dump, f"{secret[:8]}… found in Redis"
        assert secret not in caplog.text, f"{secret[:8]}… found in the logs"
    for listing in (api.get("/v1/connections").text, api.get(f"/v1/connections/{connection['id']}").text):
        assert TOKEN not in listing


def test_connection_test_makes_one_cheap_real_call(api, connection, sandbox):
    resp = api.post(f"/v1/connections/{connection['id']}/test")
    assert resp.status_code == 200 and resp.json()["ok"] is True
    assert sandbox.get("/_sandbox/stats").json()["total"] == 1
    sandbox.post("/_sandbox/tokens", json={"token": "pit-wrong"}).raise_for_status()
    bad = api.post("/v1/connections", json={"token": "pit-wrong",
                                            "location_id": "loc_sandbox0000000001"}).json()
    sandbox.delete("/_sandbox/tokens/pit-wrong")  # revoked after it was connected
    result = api.post(f"/v1/connections/{bad['id']}/test").json()
    assert result["ok"] is False and result["error"]["code"] == "upstream_unauthorized"
