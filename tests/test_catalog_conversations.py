"""Conversations & Messages end to end: API → engine → sandbox over HTTP, and back."""

from __future__ import annotations

import base64
import io
import wave

import pytest

from tests.catalog_helpers import act, items, objects, read, run, sent
from tests.polling_support import (deliver_all, poll, receiver, rt, subscribe,  # noqa: F401
                                   verified)


def _seeded(sandbox):
    conversations = objects(sandbox, "conversations")
    messages = objects(sandbox, "conversations/messages")
    call = next(m for m in messages if m["messageType"] == "TYPE_CALL")
    return conversations, messages, call


@pytest.mark.covers("conversations.search_conversations")
def test_search_conversations_pages_newest_first_with_sort_cursor(api, connection, sandbox):
    conversations, _, _ = _seeded(sandbox)
    found = items(api, connection, "conversations.search_conversations", limit=2)
    assert {i["object_id"] for i in found} == {c["id"] for c in conversations}
    dates = [i["lastMessageDate"] for i in found]
    assert dates == sorted(dates, reverse=True)
    calls = sent(sandbox, "conversations.search_conversations")
    # 3 conversations, 2 per page: each next page starts after the sort value of the last item
    assert calls[0]["query"]["locationId"] == connection["location_id"]
    assert "startAfterDate" not in calls[0]["query"]
    assert calls[1]["query"]["startAfterDate"] == str(found[1]["lastMessageDate"])
    assert len(calls) == 2  # the second page came back short (1 of 2): it was the last

    unread = items(api, connection, "conversations.search_conversations", status="unread")
    assert unread and all(i["unreadCount"] > 0 for i in unread)
    # every seeded conversation ends with a reply from the clinic: none awaits an answer
    assert items(api, connection, "conversations.search_conversations",
                 lastMessageDirection="inbound") == []
    assert sent(sandbox, "conversations.search_conversations")[-1]["query"][
        "lastMessageDirection"] == "inbound"


@pytest.mark.covers("conversations.search_conversations")
def test_search_conversations_ids_are_stable_and_new_activity_comes_first(api, connection, sandbox):
    first = items(api, connection, "conversations.search_conversations")
    assert [i["id"] for i in items(api, connection, "conversations.search_conversations")] == \
        [i["id"] for i in first]  # nothing changed, nothing fires again
    latest = max(i["lastMessageDate"] for i in first) + 60_000
    sandbox.post("/_sandbox/seed/conversations", json={"fields": {
        "contactId": "c-new", "lastMessageBody": "Hello?", "lastMessageType": "TYPE_SMS",
        "lastMessageDirection": "inbound", "unreadCount": 1, "lastMessageDate": latest,
        "dateAdded": latest}}).raise_for_status()
    again = items(api, connection, "conversations.search_conversations")
    assert again[0]["lastMessageBody"] == "Hello?"
    assert [i["id"] for i in again[1:]] == [i["id"] for i in first]


@pytest.mark.covers("conversations.get_conversation")
def test_get_conversation(api, connection, sandbox):
    conversations, _, _ = _seeded(sandbox)
    target = conversations[0]
    found = items(api, connection, "conversations.get_conversation",
                  conversationId=target["id"])
    assert len(found) == 1 and found[0]["object_id"] == target["id"]
    assert found[0]["contactId"] == target["contactId"]
    missing = read(api, connection, "conversations.get_conversation")
    assert missing.status_code == 422 and "conversationId" in missing.text


@pytest.mark.covers("conversations.get_messages_by_conversation", "conversations.get_message_by_id")
def test_messages_of_a_conversation_page_by_last_message_id(api, connection, sandbox):
    conversations, messages, call = _seeded(sandbox)
    conversation_id = call["conversationId"]
    mine = [m for m in messages if m["conversationId"] == conversation_id]
    found = items(api, connection, "conversations.get_messages_by_conversation",
                  conversationId=conversation_id, limit=3)
    assert [i["id"] for i in found] == [m["id"] for m in sorted(
        mine, key=lambda m: m["dateAdded"], reverse=True)]
    calls = sent(sandbox, "conversations.get_messages_by_conversation")
    assert [c["query"].get("lastMessageId") for c in calls] == [None, found[2]["id"]]
    # nextPage false on the second page ends the read: no request for an empty third page
    assert len(calls) == 2

    one = items(api, connection, "conversations.get_message_by_id", id=call["id"])
    assert one[0]["object_id"] == call["id"] and one[0]["messageType"] == "TYPE_CALL"


@pytest.mark.covers("conversations.get_email_by_id")
def test_get_email_by_id(api, connection, sandbox):
    email = objects(sandbox, "conversations/messages/email")[0]
    found = items(api, connection, "conversations.get_email_by_id", id=email["id"])
    assert found[0]["object_id"] == email["id"]
    assert found[0]["subject"] == email["subject"]


@pytest.mark.covers("conversations.get_message_recording")
def test_recording_is_the_wav_attachment(api, connection, sandbox):
    _, messages, call = _seeded(sandbox)
    raw = sandbox.get(f"/conversations/messages/{call['id']}/locations/{connection['location_id']}"
                      "/recording", headers={"Authorization": "Bearer pit-sandbox-token",
                                             "Version": "2021-04-15"})
    assert raw.headers["content-type"] == "audio/x-wav"
    assert raw.headers["content-disposition"] == "attachment; filename=audio.wav"

    found = items(api, connection, "conversations.get_message_recording", messageId=call["id"],
                  locationId=connection["location_id"])
    assert len(found) == 1
    item = found[0]
    assert item["content_type"] == "audio/x-wav"
    audio = base64.b64decode(item["content_base64"])
    assert audio == raw.content and item["size"] == len(audio)
    with wave.open(io.BytesIO(audio)) as wav:  # a real, readable WAV file
        assert wav.getnframes() > 0

    # no recording (yet): GHL answers 404, which for this trigger means no item, not an error
    sms = next(m for m in messages if m["messageType"] == "TYPE_SMS")
    assert items(api, connection, "conversations.get_message_recording", messageId=sms["id"],
                 locationId=connection["location_id"]) == []
    assert sent(sandbox, "conversations.get_message_recording")[-1]["path"].startswith(
        f"/conversations/messages/{sms['id']}/")


@pytest.mark.covers("conversations.get_message_transcription", "conversations.download_transcription")
def test_transcription_as_json_and_as_text(api, connection, sandbox):
    _, _, call = _seeded(sandbox)
    where = {"messageId": call["id"], "locationId": connection["location_id"]}
    sentences = items(api, connection, "conversations.get_message_transcription", **where)
    assert [s["sentenceIndex"] for s in sentences] == [1, 2]
    assert all(s["transcript"] for s in sentences)

    text = items(api, connection, "conversations.download_transcription", **where)
    assert len(text) == 1
    assert text[0]["content_type"].startswith("text/plain")
    for sentence in sentences:
        assert sentence["transcript"] in text[0]["text"]
    raw = sandbox.get(f"/conversations/locations/{connection['location_id']}/messages/"
                      f"{call['id']}/transcription/download",
                      headers={"Authorization": "Bearer pit-sandbox-token", "Version": "2021-04-15"})
    assert raw.headers["content-disposition"] == 'attachment; filename="transcription.txt"'

    sms = next(m for m in objects(sandbox, "conversations/messages") if m["messageType"] == "TYPE_SMS")
    assert items(api, connection, "conversations.get_message_transcription", messageId=sms["id"],
                 locationId=connection["location_id"]) == []  # not transcribed (yet): no item


@pytest.mark.covers("conversations.update_message_status")
def test_update_message_status(api, connection, sandbox):
    _, messages, _ = _seeded(sandbox)
    message = messages[0]
    data = act(api, connection, "conversations.update_message_status", messageId=message["id"],
               status="read")
    assert data["status"] == "read" and data["messageId"] == message["id"]
    stored = next(m for m in objects(sandbox, "conversations/messages") if m["id"] == message["id"])
    assert stored["status"] == "read"
    bad = run(api, connection, "conversations.update_message_status", messageId=message["id"],
              status="lost")
    assert bad.status_code == 422 and "status" in bad.text


@pytest.mark.covers("conversations.agent_typing_indicator")
def test_agent_typing_indicator(api, connection, sandbox):
    conversations, _, _ = _seeded(sandbox)
    data = act(api, connection, "conversations.agent_typing_indicator",
               conversationId=conversations[0]["id"], visitorId="visitor-1", isTyping="true")
    assert data == {"success": True}
    body = sent(sandbox, "conversations.agent_typing_indicator")[-1]["body"]
    assert body["locationId"] == connection["location_id"]  # filled from the connection
    stored = next(c for c in objects(sandbox, "conversations") if c["id"] == conversations[0]["id"])
    assert stored["agentTyping"] == {"isTyping": True, "visitorId": "visitor-1"}


@pytest.mark.covers("conversations.get_message_recording")
async def test_recording_subscription_waits_for_the_recording(api, connection, sandbox, rt,
                                                              receiver):
    """Subscribed before the call is recorded: polls see no item (GHL's 404) and keep the
    watch active; once the recording exists it is delivered once."""
    _, messages, _ = _seeded(sandbox)
    sms = next(m for m in messages if m["messageType"] == "TYPE_SMS")
    sub = subscribe(api, connection, receiver, trigger="conversations.get_message_recording",
                    params={"messageId": sms["id"], "locationId": connection["location_id"]})
    assert (await poll(rt, sub["id"])).outcome == "primed"
    assert (await poll(rt, sub["id"])).new == 0
    assert api.get(f"/v1/subscriptions/{sub['id']}").json()["status"] == "active"

    sandbox.post("/_sandbox/seed/conversations/messages",  # the call is now recorded
                 json={"fields": {**sms, "messageType": "TYPE_CALL"}}).raise_for_status()
    assert (await poll(rt, sub["id"])).new == 1
    await deliver_all(rt, [sub["id"]])
    bodies = verified(receiver, sub["secret"])
    assert len(bodies) == 1 and bodies[0]["data"]["content_type"] == "audio/x-wav"
    assert base64.b64decode(bodies[0]["data"]["content_base64"]).startswith(b"RIFF")
    assert (await poll(rt, sub["id"])).new == 0  # the same recording is not sent again
