"""SMSGlobal as the location's SMS provider, end to end: the sandbox's GHL posts signed
ProviderOutboundMessage events to the engine's API, a real worker process sends through the
SMSGlobal stand-in and reports each status back; SMSGlobal pushes receipts and replies to the
API. Real Redis, real HTTP, real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from engine.core import keys
from sandbox.ghl import DEFAULT_LOCATION
from tests.conftest import REDIS_URL
from tests.provider_support import no_provider  # noqa: F401
from tests.test_worker_processes import stop

ROOT = Path(__file__).resolve().parent.parent
NUMBER = "+61400000555"
MSISDN = "61400000555"


LEASE_S = 3  # the worker's provider lease


def start_worker(api_url: str, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "ENGINE_PUBLIC_URL": api_url, "ENGINE_PROVIDER_LEASE_SECONDS": str(LEASE_S),
           "ENGINE_LOG_LEVEL": "WARNING"}
    return subprocess.Popen([sys.executable, "-m", "engine.cli.main", "worker"], cwd=ROOT, env=env,
                            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)


def wait_for(check, timeout: float = 30.0, what: str = "it"):
    deadline = time.time() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def settled(work_id: str) -> bool:
    """The worker has handled every pushed event (a handled event leaves the stream), has
    nothing left to do for ``work_id`` (off the due set: finished, or waiting for a receipt)
    and no provider work due or in hand (a claim leases it LEASE_S ahead): whatever a repeat
    would have made it do twice, it has done by now."""
    r = redis.Redis.from_url(REDIS_URL)
    try:
        in_hand_by_ms = int((time.time() + LEASE_S) * 1000)
        return (r.xlen(keys.INBOUND_STREAM) == 0
                and r.exists(keys.PROVIDER_WORK.format(work_id=work_id)) == 1
                and r.zscore(keys.PROVIDER_DUE, work_id) is None
                and r.zcount(keys.PROVIDER_DUE, "-inf", in_hand_by_ms) == 0)
    finally:
        r.close()


@pytest.fixture
def provider(api, api_server, sandbox, connection, smsglobal_connection) -> dict:
    made = api.post("/v1/sms-provider", json={
        "ghl_connection_id": connection["id"], "smsglobal_connection_id": smsglobal_connection["id"],
        "sender": "SandboxCo", "default_region": "AU"})
    assert made.status_code == 201, made.text
    sandbox.put("/_sandbox/provider", json={"delivery_url": api_server.url + "/v1/inbound/ghl",
                                            "refuse_401_seconds": 0, "refuse_403_seconds": 0})
    sandbox.put("/_sandbox/smsglobal/config", json={"delivery_seconds": 0.3})
    return made.json()


@pytest.fixture
def worker(api_server, tmp_path):
    proc = start_worker(api_server.url, tmp_path / "worker.log")
    yield proc
    stop(proc)


def conversation_with(sandbox, phone: str = NUMBER) -> dict:
    return sandbox.post("/_sandbox/provider/contacts", json={"phone": phone}).json()["conversation"]


def thread(sandbox, conversation_id: str) -> list[dict]:
    return sandbox.get(f"/_sandbox/provider/conversations/{conversation_id}/messages").json()["messages"]


def message_in(sandbox, conversation_id: str, message_id: str) -> dict:
    return next(m for m in thread(sandbox, conversation_id) if m["id"] == message_id)


def sms_sent(sandbox) -> list[dict]:
    return sandbox.get("/_sandbox/smsglobal/messages").json()["messages"]


def staff_send(sandbox, conversation_id: str, text: str, **extra) -> dict:
    sent = sandbox.post(f"/_sandbox/provider/conversations/{conversation_id}/send",
                        json={"message": text, **extra}).json()
    assert sent["delivery_status"] == 200, sent
    return sent


def test_a_staff_message_goes_out_once_and_is_delivered_through_the_refusal_window(
        sandbox, provider, worker):
    conversation = conversation_with(sandbox)
    staff_send(sandbox, conversation["id"], "Warming up")  # the worker is up once it is sent
    wait_for(lambda: sms_sent(sandbox), timeout=60, what="the first SMS")
    sandbox.put("/_sandbox/provider", json={"refuse_401_seconds": 4, "refuse_403_seconds": 4})
    sent = staff_send(sandbox, conversation["id"], "Your appointment is tomorrow at 10am")
    message_id = sent["message"]["id"]
    assert sent["message"]["status"] == "pending"

    [sms] = wait_for(lambda: sms_sent(sandbox)[1:], what="the SMS at SMSGlobal")
    assert (sms["destination"], sms["origin"]) == (MSISDN, "SandboxCo")  # SMSGlobal's form
    assert sms["message"] == "Your appointment is tomorrow at 10am"

    done = wait_for(lambda: (m := message_in(sandbox, conversation["id"], message_id))
                    ["status"] == "delivered" and m, timeout=40, what="status delivered")
    refused = [c["answer"] for c in done["statusCalls"] if c["answer"] != 200]
    assert 401 in refused and 403 in refused  # the early window was there, and was waited out
    assert done["statusCalls"][-1] == {"status": "delivered", "answer": 200}
    assert len(sms_sent(sandbox)) == 2


def test_replies_land_in_the_contacts_conversation_once_and_unknown_numbers_become_contacts(
        sandbox, provider, worker):
    conversation = conversation_with(sandbox)
    staff_send(sandbox, conversation["id"], "Can you make Tuesday?")
    wait_for(lambda: sms_sent(sandbox), what="the SMS")
    reply = sandbox.post("/_sandbox/smsglobal/incoming", json={
        "origin": MSISDN, "message": "Yes, Tuesday works"}).json()
    inbound = wait_for(lambda: [m for m in thread(sandbox, conversation["id"])
                                if m["direction"] == "inbound"], what="the reply in GHL")
    assert [(m["body"], m["altId"]) for m in inbound] == [("Yes, Tuesday works", str(reply["id"]))]
    sandbox.post(f"/_sandbox/smsglobal/incoming/{reply['id']}/push").raise_for_status()  # again
    wait_for(lambda: len(sandbox.get("/_sandbox/smsglobal/pushes").json()["pushes"]) >= 3,
             what="the second push")
    wait_for(lambda: settled(f"in:{DEFAULT_LOCATION}:{reply['id']}"), what="the worker to settle")
    assert len([m for m in thread(sandbox, conversation["id"]) if m["direction"] == "inbound"]) == 1

    # a number GHL has never seen: the reply comes to the account's incoming URL
    sandbox.put("/_sandbox/smsglobal/config", json={"incoming_url": provider_incoming_url(sandbox)})
    sandbox.post("/_sandbox/smsglobal/incoming", json={"origin": "61400000777",
                                                       "message": "Who is this?"})
    contacts = wait_for(lambda: [c for c in sandbox.get("/_sandbox/objects/contacts").json()["objects"]
                                 if c.get("phone") == "+61400000777"], what="the new contact")
    [new_conversation] = wait_for(lambda: [
        c for c in sandbox.get("/_sandbox/objects/conversations").json()["objects"]
        if c["contactId"] == contacts[0]["id"]], what="its conversation")
    [message] = wait_for(lambda: thread(sandbox, new_conversation["id"]), what="the message")
    assert (message["direction"], message["body"]) == ("inbound", "Who is this?")


def provider_incoming_url(sandbox) -> str:
    """The incomingUrl the engine gave SMSGlobal with its last send."""
    sends = [r for r in sandbox.get("/_sandbox/requests").json()["requests"]
             if r.get("app") == "smsglobal" and r["path"] == "/v2/sms" and r["method"] == "POST"]
    return sends[-1]["body"]["incomingUrl"]


def dnd_of(sandbox, phone: str) -> str | None:
    for c in sandbox.get("/_sandbox/objects/contacts").json()["objects"]:
        if c.get("phone") == phone:
            return ((c.get("dndSettings") or {}).get("SMS") or {}).get("status")
    return None


def opted_out(sandbox) -> set[str]:
    return {o["number"] for o in sandbox.get("/_sandbox/smsglobal/optouts").json()["optouts"]}


def test_stop_sets_dnd_and_an_opt_out_and_start_clears_both(sandbox, provider, worker):
    conversation = conversation_with(sandbox)
    staff_send(sandbox, conversation["id"], "Reply STOP to opt out")
    wait_for(lambda: sms_sent(sandbox), what="the SMS")
    sandbox.post("/_sandbox/smsglobal/incoming", json={"origin": MSISDN, "message": "Stop"})
    wait_for(lambda: dnd_of(sandbox, NUMBER) == "active", what="SMS DND in GHL")
    assert MSISDN in opted_out(sandbox)
    engine_opt_outs = [r for r in sandbox.get("/_sandbox/requests").json()["requests"]
                       if r.get("app") == "smsglobal" and r["path"] == "/v2/opt-outs"]
    assert engine_opt_outs and engine_opt_outs[0]["body"] == {"optouts": [{"number": MSISDN}]}

    sandbox.post("/_sandbox/smsglobal/incoming", json={"origin": MSISDN, "message": "start"})
    wait_for(lambda: dnd_of(sandbox, NUMBER) == "inactive", what="SMS DND cleared")
    wait_for(lambda: MSISDN not in opted_out(sandbox), what="the opt-out removed")
    bodies = wait_for(lambda: [m["body"] for m in thread(sandbox, conversation["id"])
                               if m["direction"] == "inbound"][1:] and
                      [m["body"] for m in thread(sandbox, conversation["id"])
                       if m["direction"] == "inbound"], what="both replies in the conversation")
    assert bodies == ["Stop", "start"]  # the keywords show in the conversation too


def test_the_same_event_three_times_sends_one_sms(sandbox, provider, worker):
    conversation = conversation_with(sandbox)
    sent = staff_send(sandbox, conversation["id"], "Only once, please")
    again = sandbox.post("/_sandbox/provider/events", json=sent["event"]).json()
    assert again["delivery_status"] == 409  # the receiver knows these exact bytes
    retried = sandbox.post("/_sandbox/provider/events", json={**sent["event"], "userId": "usr_other"})
    assert retried.json()["delivery_status"] == 200  # other bytes: only the messageId is the same
    wait_for(lambda: message_in(sandbox, conversation["id"], sent["message"]["id"])["status"]
             == "delivered", what="delivered")
    wait_for(lambda: settled(f"out:{sent['message']['id']}"), what="the worker to settle")
    assert len(sms_sent(sandbox)) == 1


def test_a_worker_killed_between_send_and_status_reports_on_restart_without_a_second_sms(
        sandbox, provider, api_server, tmp_path):
    sandbox.put("/_sandbox/provider", json={"refuse_401_seconds": 600})  # the status cannot land
    conversation = conversation_with(sandbox)
    first = start_worker(api_server.url, tmp_path / "w1.log")
    try:
        sent = staff_send(sandbox, conversation["id"], "Survive a crash")
        message_id = sent["message"]["id"]
        wait_for(lambda: sms_sent(sandbox), what="the SMS")
        wait_for(lambda: any(c["answer"] == 401 for c in message_in(
            sandbox, conversation["id"], message_id)["statusCalls"]), what="a refused status call")
    finally:
        stop(first, signal.SIGKILL)
    sandbox.put("/_sandbox/provider", json={"refuse_401_seconds": 0})
    second = start_worker(api_server.url, tmp_path / "w2.log")
    try:
        wait_for(lambda: message_in(sandbox, conversation["id"], message_id)["status"]
                 == "delivered", timeout=40, what="the status after the restart")
    finally:
        stop(second)
    assert len(sms_sent(sandbox)) == 1


def test_a_send_interrupted_in_flight_is_found_at_smsglobal_not_sent_again(
        sandbox, provider, worker, api):
    """The worker died after SMSGlobal took the SMS but before the engine wrote it down."""
    import json

    conversation = conversation_with(sandbox)
    contact_id = conversation["contactId"]
    sms = api.post("/v1/actions/smsglobal.send_sms", json={
        "connection_id": provider["smsglobal_connection_id"],
        "input": {"destinations": [MSISDN], "message": "In flight"}})
    assert sms.status_code == 200
    message = sandbox.post(f"/_sandbox/provider/conversations/{conversation['id']}/send",
                           json={"message": "In flight", "silent": True}).json()["message"]
    r = redis.Redis.from_url(REDIS_URL)
    now_ms = int(time.time() * 1000)
    work_id = f"out:{message['id']}"
    r.hset(keys.PROVIDER_WORK.format(work_id=work_id), mapping={
        "kind": "outbound", "state": "sending", "location_id": DEFAULT_LOCATION,
        "message_id": message["id"], "contact_id": contact_id, "phone": NUMBER,
        "message": "In flight", "attachments": json.dumps([]), "report": "", "reported": "",
        "destination": MSISDN, "sending_at": now_ms - 1000, "created_at": now_ms - 1000})
    r.zadd(keys.PROVIDER_DUE, {work_id: now_ms})
    outgoing_id = str(sms.json()["data"]["messages"][0]["outgoing_id"])
    try:
        wait_for(lambda: r.hget(keys.PROVIDER_WORK.format(work_id=work_id), "outgoing_id")
                 == outgoing_id.encode(), what="the send found at SMSGlobal")
        assert r.hget(keys.PROVIDER_WORK.format(work_id=work_id), "state") == b"sent"
    finally:
        r.close()
    wait_for(lambda: settled(work_id), what="the worker to settle")
    assert len(sms_sent(sandbox)) == 1


@pytest.mark.parametrize("case", ["no_credit", "invalid_number", "attachments"])
def test_a_failed_send_shows_failed_in_ghl_with_the_reason(sandbox, provider, worker, case):
    phone = "+61 12" if case == "invalid_number" else NUMBER
    if case == "no_credit":
        sandbox.put("/_sandbox/smsglobal/config", json={"balance": 0})
    conversation = conversation_with(sandbox, phone)
    extra = {"attachments": ["https://example.com/x.png"]} if case == "attachments" else {}
    sent = staff_send(sandbox, conversation["id"], "This will not arrive", **extra)
    failed = wait_for(lambda: (m := message_in(sandbox, conversation["id"], sent["message"]["id"]))
                      ["status"] == "failed" and m, what="status failed")
    expected = {"no_credit": "no_credit", "invalid_number": "invalid_number",
                "attachments": "attachments_unsupported"}[case]
    assert failed["error"]["code"] == expected and failed["error"]["message"]
    assert sms_sent(sandbox) == []
