"""SMSGlobal through the engine: every operation over real HTTP against the sandbox stand-in,
which checks each request's MAC signature."""

import time

import httpx
import pytest

from tests.support import smsglobal_connection_with_a_replaced_secret

from engine.upstream import smsglobal as mac_auth
from sandbox.smsglobal import DEFAULT_KEY, DEFAULT_SECRET


def act(api, conn, key, **inputs):
    return api.post(f"/v1/actions/{key}", json={"connection_id": conn["id"], "input": inputs})


def items(api, conn, key, **params):
    resp = api.post(f"/v1/triggers/{key}/items", json={"connection_id": conn["id"],
                                                       "params": params})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def sent(sandbox):
    return sandbox.get("/_sandbox/smsglobal/messages").json()["messages"]


@pytest.mark.covers("smsglobal.get_credit_balance")
def test_connection_is_stored_sealed_and_tested_with_the_credit_balance(api, sandbox,
                                                                        smsglobal_connection,
                                                                        caplog):
    caplog.set_level("DEBUG")
    conn = smsglobal_connection
    assert conn["app"] == "smsglobal" and conn["auth"] == "mac"
    listed = api.get("/v1/connections").text + api.get(f"/v1/connections/{conn['id']}").text
    assert DEFAULT_SECRET not in listed and DEFAULT_KEY not in listed
    test = api.post(f"/v1/connections/{conn['id']}/test").json()
    assert test["ok"] is True
    balance = act(api, conn, "smsglobal.get_credit_balance")
    assert balance.status_code == 200, balance.text
    assert balance.json()["data"] == {"balance": 100.0, "currency": "AUD"}
    calls = [r for r in sandbox.get("/_sandbox/requests").json()["requests"]
             if r["route"] == "smsglobal.get_credit_balance"]
    assert len(calls) == 3  # the creation's test, the test route, the action
    assert DEFAULT_SECRET not in caplog.text and 'mac="' not in caplog.text


def test_bad_connection_bodies_name_the_field(api, sandbox):
    resp = api.post("/v1/connections", json={"app": "smsglobal", "name": "x", "api_key": DEFAULT_KEY})
    assert resp.status_code == 422
    assert "api_secret" in resp.text
    resp = api.post("/v1/connections", json={"app": "twilio", "name": "x"})
    assert resp.status_code == 422 and "app" in resp.text
    # SMSGlobal's fields without app: the answer asks for app, not for a GHL token
    for body in ({"name": "x", "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET},
                 {"name": "x", "api_key": DEFAULT_KEY}):
        resp = api.post("/v1/connections", json=body)
        assert resp.status_code == 422, resp.text
        fields = {p["field"]: p["message"] for p in resp.json()["error"]["details"]}
        assert fields["app"] == ('set "app": "smsglobal" for SMSGlobal credentials (api_key and '
                                 'api_secret)'), resp.text
        assert "token" not in fields and "api_key" not in fields
    assert api.get("/v1/connections").json()["connections"] == []
    # a GHL token without its location: the 422 names location_id, in words of its own
    resp = api.post("/v1/connections", json={"token": "pit-sandbox-token"})
    assert resp.status_code == 422, resp.text
    [problem] = resp.json()["error"]["details"]
    assert problem["field"] == "location_id", problem
    assert problem["message"].startswith("required: the GHL sub-account (location) id")
    assert "Value error" not in resp.text
    # a body without app is still a GHL connection
    resp = api.post("/v1/connections", json={"token": "pit-sandbox-token",
                                             "location_id": "loc_sandbox0000000001"})
    assert resp.status_code == 201 and resp.json()["app"] == "ghl"


def test_refused_credentials_are_a_422_at_creation_and_nothing_is_stored(api, sandbox):
    for body in ({"api_key": DEFAULT_KEY, "api_secret": "wrong-secret-123"},
                 {"api_key": "wrongkey", "api_secret": "wrongsecret"}):
        resp = api.post("/v1/connections", json={"app": "smsglobal", "name": "Bad", **body})
        assert resp.status_code == 422, resp.text
        [problem] = resp.json()["error"]["details"]
        assert problem["field"] == "api_secret"
        assert "SMSGlobal refused this API key and secret" in problem["message"]
        assert "wrong" not in resp.text
    assert api.get("/v1/connections").json()["connections"] == []
    good = api.post("/v1/connections", json={"app": "smsglobal", "name": "Good",
                                             "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET})
    assert good.status_code == 201 and good.json()["status"] == "active", good.text
    assert [c["id"] for c in api.get("/v1/connections").json()["connections"]] == [good.json()["id"]]


@pytest.mark.covers("smsglobal.get_credit_balance", "smsglobal.send_sms")
def test_wrong_secret_is_a_clear_error_not_a_500(api, sandbox):
    conn = smsglobal_connection_with_a_replaced_secret(api, sandbox)
    test = api.post(f"/v1/connections/{conn['id']}/test").json()
    assert test["ok"] is False and test["error"]["code"] == "upstream_unauthorized"
    resp = act(api, conn, "smsglobal.send_sms", destinations=["61400000001"], message="hi")
    assert resp.status_code == 401, resp.text
    error = resp.json()["error"]
    assert error["code"] == "upstream_unauthorized"
    assert "API key and secret" in error["message"] and "wrong-secret" not in resp.text
    assert error["details"]["upstream_status"] == 403
    assert sent(sandbox) == []


@pytest.mark.covers("smsglobal.send_sms", "smsglobal.sent_message_status_changed")
def test_send_sms_to_many_and_follow_the_status(api, sandbox, smsglobal_connection):
    conn = smsglobal_connection
    resp = act(api, conn, "smsglobal.send_sms", destinations=["61400000001", "61400000002"],
               message="Your table is ready", origin="SandboxCo")
    assert resp.status_code == 200, resp.text
    out = resp.json()["data"]["messages"]
    assert [m["destination"] for m in out] == ["61400000001", "61400000002"]
    stored = sent(sandbox)
    assert {(m["destination"], m["origin"], m["message"]) for m in stored} == {
        ("61400000001", "SandboxCo", "Your table is ready"),
        ("61400000002", "SandboxCo", "Your table is ready")}
    scheduled = act(api, conn, "smsglobal.send_sms", destinations=["61400000003"],
                    message="Reminder", scheduledDateTime="2030-01-01 09:00:00")
    assert scheduled.json()["data"]["messages"][0]["status"] == "scheduled"

    before = items(api, conn, "smsglobal.sent_message_status_changed")
    assert len(before) == 3
    first = next(m for m in stored if m["destination"] == "61400000001")
    sandbox.post(f"/_sandbox/smsglobal/messages/{first['outgoing_id']}/status",
                 json={"status": "undelivered"}).raise_for_status()
    after = items(api, conn, "smsglobal.sent_message_status_changed")
    changed = {i["id"] for i in after} - {i["id"] for i in before}
    assert len(changed) == 1
    (item,) = [i for i in after if i["id"] in changed]
    assert item["status"] == "undelivered" and item["object_id"] == first["id"]
    only = items(api, conn, "smsglobal.sent_message_status_changed", status="undelivered")
    assert [i["destination"] for i in only] == ["61400000001"]
    # as time passes, a sent message is delivered: the trigger fires for it again
    sandbox.put("/_sandbox/smsglobal/config", json={"delivery_seconds": 0}).raise_for_status()
    delivered = items(api, conn, "smsglobal.sent_message_status_changed", status="delivered")
    assert [i["destination"] for i in delivered] == ["61400000002"]
    # the poll window went out as SMSGlobal's date-time query params, signed as sent
    query = [r for r in sandbox.get("/_sandbox/requests").json()["requests"]
             if r["route"] == "smsglobal.sent_message_status_changed"][-1]["query"]
    assert time.strptime(query["startDate"], "%Y-%m-%d %H:%M:%S") and query["offset"] == "1"


def test_send_sms_refuses_bad_input_before_calling(api, sandbox, smsglobal_connection):
    resp = act(api, smsglobal_connection, "smsglobal.send_sms", message="no destination")
    assert resp.status_code == 422 and "destinations" in resp.text
    assert sent(sandbox) == []
    resp = act(api, smsglobal_connection, "smsglobal.send_sms", destinations=["+61 400"],
               message="bad number")
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["details"][0]["field"] == "input.destinations.0"
    assert "+61 400" in resp.json()["error"]["details"][0]["message"]
    assert sent(sandbox) == []


def test_send_sms_takes_the_number_as_ghl_stores_it(api, sandbox, smsglobal_connection):
    resp = act(api, smsglobal_connection, "smsglobal.send_sms",
               destinations=["+61 400 000 001", "61400000002"], message="hello")
    assert resp.status_code == 200, resp.text
    assert sorted(m["destination"] for m in sent(sandbox)) == ["61400000001", "61400000002"]


@pytest.mark.covers("smsglobal.send_otp", "smsglobal.validate_otp", "smsglobal.cancel_otp")
def test_otp_send_validate_and_cancel(api, sandbox, smsglobal_connection):
    conn = smsglobal_connection
    resp = act(api, conn, "smsglobal.send_otp", destination="61400000001",
               message="Your code is {*code*}", length=6)
    assert resp.status_code == 200, resp.text
    otp = resp.json()["data"]
    assert otp["status"] == "Sent"
    (text,) = [m["message"] for m in sent(sandbox)]
    code = text.rsplit(" ", 1)[1]
    assert len(code) == 6 and code.isdigit()
    wrong = act(api, conn, "smsglobal.validate_otp", requestId=otp["requestId"],
                code="000000" if code != "000000" else "111111")
    assert wrong.status_code == 400 and "does not match" in wrong.json()["error"]["message"]
    right = act(api, conn, "smsglobal.validate_otp", requestId=otp["requestId"], code=code)
    assert right.status_code == 200 and right.json()["data"]["status"] == "Verified"

    second = act(api, conn, "smsglobal.send_otp", destination="61400000002",
                 message="Code {*code*}").json()["data"]
    cancel = act(api, conn, "smsglobal.cancel_otp", requestId=second["requestId"])
    assert cancel.status_code == 200 and cancel.json()["data"]["status"] == "Cancelled"
    code2 = [m["message"] for m in sent(sandbox) if m["destination"] == "61400000002"][0].split()[-1]
    late = act(api, conn, "smsglobal.validate_otp", requestId=second["requestId"], code=code2)
    assert late.status_code == 400
    bad = act(api, conn, "smsglobal.send_otp", destination="61400000001", message="no placeholder")
    assert bad.status_code == 400 and "placeholder" in bad.text


@pytest.mark.covers("smsglobal.add_opt_outs", "smsglobal.remove_opt_out", "smsglobal.new_opt_out")
def test_opt_outs_add_list_remove(api, sandbox, smsglobal_connection):
    conn = smsglobal_connection
    resp = act(api, conn, "smsglobal.add_opt_outs",
               optouts=[{"number": "61400000005"}, {"number": "61400000006"}])
    assert resp.status_code == 200, resp.text
    sandbox.post("/_sandbox/smsglobal/incoming", json={"origin": "61400000007", "message": "STOP"})
    found = items(api, conn, "smsglobal.new_opt_out")
    assert {i["id"] for i in found} == {"61400000005", "61400000006", "61400000007"}
    # an opted-out number is not delivered to
    act(api, conn, "smsglobal.send_sms", destinations=["61400000005"], message="promo")
    assert sent(sandbox)[0]["status"] == "undelivered"
    removed = act(api, conn, "smsglobal.remove_opt_out", number="61400000005")
    assert removed.status_code == 200 and removed.json()["meta"]["upstream_status"] == 204
    assert {i["id"] for i in items(api, conn, "smsglobal.new_opt_out")} == {"61400000006", "61400000007"}
    again = act(api, conn, "smsglobal.remove_opt_out", number="61400000005")
    assert again.status_code == 404


@pytest.mark.covers("smsglobal.add_contact_to_group")
def test_add_contact_to_group_once(api, sandbox, smsglobal_connection):
    conn = smsglobal_connection
    for name in ("Rosan", "Rosa"):
        resp = act(api, conn, "smsglobal.add_contact_to_group", groupId="4501",
                   msisdn="61400000001", givenName=name, familyName="Deo")
        assert resp.status_code == 200, resp.text
    (group,) = sandbox.get("/_sandbox/smsglobal/groups").json()["groups"]
    assert [(c["msisdn"], c["givenName"]) for c in group["contacts"]] == [("61400000001", "Rosa")]
    missing = act(api, conn, "smsglobal.add_contact_to_group", groupId="999", msisdn="61400000001")
    assert missing.status_code == 404


@pytest.mark.covers("smsglobal.new_incoming_sms")
def test_new_incoming_sms(api, sandbox, smsglobal_connection):
    conn = smsglobal_connection
    for n, text in enumerate(("Yes please", "What time?")):
        sandbox.post("/_sandbox/smsglobal/incoming", json={
            "origin": f"6140000001{n}", "destination": "61400000999", "message": text}).raise_for_status()
    found = items(api, conn, "smsglobal.new_incoming_sms")
    assert [i["message"] for i in found] == ["What time?", "Yes please"]
    assert found[0]["origin"] == "61400000011"
    only = items(api, conn, "smsglobal.new_incoming_sms", origin="61400000010")
    assert [i["message"] for i in only] == ["Yes please"]


def _signed(method, url, key=DEFAULT_KEY, secret=DEFAULT_SECRET, **kw):
    request = httpx.Request(method, url)
    mac_auth.sign_request(request, key, secret, **kw)
    return request


def test_sandbox_checks_the_signature_nonce_and_clock(sandbox):
    url = str(sandbox.base_url).rstrip("/") + "/v2/user/credit-balance"
    with httpx.Client() as client:
        ok = _signed("GET", url, nonce="n1")
        assert client.send(ok).status_code == 200
        replay = client.send(ok)
        assert replay.status_code == 403 and replay.text == "Unknown Authentication Error"
        stale = _signed("GET", url, ts=str(int(time.time()) - 3600))
        assert client.send(stale).status_code == 403
        wrong = _signed("GET", url, secret="not-the-secret")
        assert client.send(wrong).status_code == 403
        tampered = _signed("GET", url)
        tampered.url = tampered.url.copy_with(query=b"limit=5")
        assert client.send(tampered).status_code == 403
        assert client.get(url).status_code == 403


@pytest.mark.covers("smsglobal.new_group_contact", "smsglobal.add_contact_to_group")
def test_new_group_contact(api, sandbox, smsglobal_connection):
    conn = smsglobal_connection
    for n in (1, 2):
        act(api, conn, "smsglobal.add_contact_to_group", groupId="4501", msisdn=f"6140000009{n}",
            givenName=f"Member{n}").raise_for_status()
    found = items(api, conn, "smsglobal.new_group_contact", groupId="4501")
    assert sorted(i["msisdn"] for i in found) == ["61400000091", "61400000092"]
    assert all(i["groupId"] == 4501 for i in found)
    missing = api.post("/v1/triggers/smsglobal.new_group_contact/items",
                       json={"connection_id": conn["id"], "params": {}})
    assert missing.status_code == 422 and "groupId" in missing.text


def test_the_sandbox_credentials_route_refuses_an_empty_body_clearly(sandbox):
    for body in ({}, {"api_key": "k" * 10}, {"api_key": "", "api_secret": "s" * 10}):
        resp = sandbox.post("/_sandbox/smsglobal/credentials", json=body)
        assert resp.status_code == 422 and "api_" in resp.json()["message"], resp.text
    ok = sandbox.post("/_sandbox/smsglobal/credentials",
                      json={"api_key": "k" * 32, "api_secret": "s" * 32})
    assert ok.status_code == 200 and ok.json() == {"api_key": "k" * 32}
