"""GHL answers in more than one shape: a trigger reads its page from the first of its
``page_paths`` that holds an object, items and cursor alike."""

from __future__ import annotations

from engine.polling import items, reader
from engine.spec.registry import get
from tests.polling_support import (deliver_all, poll, receiver, rt, subscribe,  # noqa: F401
                                   verified)

MESSAGES = "conversations.get_messages_by_conversation"
PAGE = [{"id": "m3", "dateAdded": "2026-01-03T00:00:00.000Z"},
        {"id": "m2", "dateAdded": "2026-01-02T00:00:00.000Z"}]
# the live answer nests the page (GoHighLevel/highlevel-api-docs#54); the document shows it flat
LIVE = {"messages": {"lastMessageId": "m2", "nextPage": True, "messages": PAGE}}
DOCUMENTED = {"lastMessageId": "m2", "nextPage": True, "messages": PAGE}


def test_both_shapes_give_the_same_items_and_the_same_next_page():
    op = get(MESSAGES)
    values = {"conversationId": "c1", "limit": 2}
    for answer in (LIVE, DOCUMENTED):
        assert [i["id"] for i in items.extract(op, answer)] == ["m3", "m2"]
        page = items.extract(op, answer)
        assert reader._next_page(op, values, answer, page) == {**values, "lastMessageId": "m2"}
    for last in ({"messages": {**LIVE["messages"], "nextPage": False}},
                 {**DOCUMENTED, "nextPage": False}):
        assert reader._next_page(op, values, last, items.extract(op, last)) is None


def message_ids(sandbox, conversation_id: str) -> list[str]:
    found = sandbox.get("/_sandbox/objects/conversations/messages").json()["objects"]
    return [m["id"] for m in found if m["conversationId"] == conversation_id]


async def test_a_subscription_over_the_live_nested_shape_delivers_each_new_message_once(
        api, connection, sandbox, rt, receiver):
    conversation = sandbox.get("/_sandbox/objects/conversations").json()["objects"][0]
    before = set(message_ids(sandbox, conversation["id"]))
    sub = subscribe(api, connection, receiver, trigger=MESSAGES,
                    params={"conversationId": conversation["id"], "limit": 2})
    await poll(rt, sub["id"])  # primes: what is there already is not new
    resp = sandbox.post("/_sandbox/seed/conversations/messages", json={
        "count": 5, "spread_seconds": 5, "fields": {
            "conversationId": conversation["id"], "contactId": conversation["contactId"],
            "messageType": "TYPE_SMS", "direction": "inbound", "body": "new"}})
    resp.raise_for_status()
    new = set(message_ids(sandbox, conversation["id"])) - before
    assert len(new) == 5
    calls = len(sandbox.get("/_sandbox/requests").json()["requests"])
    result = await poll(rt, sub["id"])
    assert result.new == 5
    pages = [r for r in sandbox.get("/_sandbox/requests").json()["requests"][calls:]
             if r["route"] == MESSAGES]
    assert len(pages) >= 3 and pages[1]["query"].get("lastMessageId")  # read over three pages
    assert (await poll(rt, sub["id"])).new == 0
    await deliver_all(rt, [sub["id"]])
    bodies = [w for w in verified(receiver, sub["secret"])]
    assert sorted(b["item_id"] for b in bodies) == sorted(new)  # one webhook per message
    assert sorted(b["data"]["id"] for b in bodies) == sorted(new)
    assert all(b["data"]["body"] == "new" for b in bodies)
