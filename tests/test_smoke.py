def test_create_contact_through_engine(api, connection, sandbox):
    resp = api.post("/v1/actions/contacts.create_contact",
                    json={"connection_id": connection["id"],
                          "input": {"firstName": "Ada", "email": "ada.smoke@example.com"}})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    contact = body["data"]["contact"]
    assert contact["firstName"] == "Ada"
    assert body["meta"]["upstream_status"] == 201
    stored = sandbox.get("/_sandbox/objects/contacts").json()["objects"]
    assert any(c["id"] == contact["id"] for c in stored)


def test_trigger_items_search_contacts_pages(api, connection, sandbox):
    sandbox.post("/_sandbox/seed/contacts", json={"count": 250}).raise_for_status()
    resp = api.post("/v1/triggers/contacts.search_contacts/items",
                    json={"connection_id": connection["id"], "params": {"pageLimit": 100},
                          "limit": 500})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["items"]) == 255
    assert len({i["id"] for i in body["items"]}) == 255
    assert body["meta"]["pages"] == 3
    sent = [r for r in sandbox.get("/_sandbox/requests").json()["requests"]
            if r["route"] == "contacts.search_contacts"]
    # pages after the first continue from the last contact's searchAfter position
    assert [len(r["body"].get("searchAfter") or []) for r in sent] == [0, 2, 2]
    assert "page" not in sent[0]["body"]
    assert all(r["body"]["locationId"] for r in sent)
