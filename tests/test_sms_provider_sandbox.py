"""The sandbox as a conversation provider meets it: GHL conversations that take inbound
messages, and an SMSGlobal that pushes delivery receipts and replies to the URLs of a send."""

from __future__ import annotations

import time

from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN
from tests.polling_support import receiver  # noqa: F401


def _wait(check, timeout: float = 10.0):
    deadline = time.time() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def test_a_contact_gets_one_conversation_and_inbound_messages_land_in_it(api, connection, sandbox):
    contact = api.post("/v1/actions/contacts.upsert_contact", json={
        "connection_id": connection["id"], "input": {"phone": "+61400000123"}}).json()["data"]["contact"]
    ghl = {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Version": "2021-04-15"}
    made = sandbox.post("/conversations/", headers=ghl,
                        json={"locationId": DEFAULT_LOCATION, "contactId": contact["id"]})
    assert made.status_code == 201, made.text
    conversation_id = made.json()["conversation"]["id"]
    again = sandbox.post("/conversations/", headers=ghl,
                         json={"locationId": DEFAULT_LOCATION, "contactId": contact["id"]})
    assert again.status_code == 400 and again.json()["conversationId"] == conversation_id

    added = sandbox.post("/conversations/messages/inbound", headers=ghl, json={
        "type": "SMS", "contactId": contact["id"], "conversationId": conversation_id,
        "message": "Yes, Tuesday works", "altId": "2022271961"})
    assert added.status_code == 200, added.text
    assert added.json()["conversationId"] == conversation_id
    [message] = sandbox.get(f"/_sandbox/provider/conversations/{conversation_id}/messages").json()["messages"]
    assert (message["direction"], message["body"], message["altId"]) == (
        "inbound", "Yes, Tuesday works", "2022271961")
    assert message["id"] == added.json()["messageId"]

    assert sandbox.post("/conversations/messages/inbound", headers=ghl,
                        json={"type": "SMS"}).status_code == 422
    assert sandbox.post("/conversations/messages/inbound", json={
        "type": "SMS", "contactId": contact["id"]}).status_code == 401  # GHL's auth applies


def test_smsglobal_pushes_receipts_and_replies_to_the_urls_of_the_send(
        api, smsglobal_connection, sandbox, receiver):  # noqa: F811
    sandbox.put("/_sandbox/smsglobal/config", json={"delivery_seconds": 0.2}).raise_for_status()
    sent = api.post("/v1/actions/smsglobal.send_sms", json={
        "connection_id": smsglobal_connection["id"],
        "input": {"destinations": ["61400000321"], "message": "Your table is ready",
                  "notifyUrl": receiver.url, "incomingUrl": receiver.url}})
    assert sent.status_code == 200, sent.text
    outgoing_id = sent.json()["data"]["messages"][0]["outgoing_id"]
    [receipt] = _wait(lambda: receiver.accepted())
    assert receipt["body"]["outgoing_id"] == outgoing_id
    assert receipt["body"]["status"] == "Delivered" and receipt["body"]["update_time"]

    reply = sandbox.post("/_sandbox/smsglobal/incoming", json={
        "origin": "61400000321", "message": "Thanks!"}).json()
    pushed = _wait(lambda: receiver.accepted()[1:])
    assert pushed[0]["body"]["id"] == reply["id"] and pushed[0]["body"]["message"] == "Thanks!"
    sandbox.post(f"/_sandbox/smsglobal/incoming/{reply['id']}/push").raise_for_status()
    assert _wait(lambda: receiver.accepted()[2:])[0]["body"]["id"] == reply["id"]  # pushed twice

    sandbox.put("/_sandbox/smsglobal/config", json={"failure_share": 1.0}).raise_for_status()
    api.post("/v1/actions/smsglobal.send_sms", json={
        "connection_id": smsglobal_connection["id"],
        "input": {"destinations": ["61400000321"], "message": "Second", "notifyUrl": receiver.url}})
    assert _wait(lambda: receiver.accepted()[3:])[0]["body"]["status"] == "Undelivered"
    # the sandbox logs each push once its answer is in
    assert len(_wait(lambda: sandbox.get("/_sandbox/smsglobal/pushes").json()["pushes"][3:])) == 1
