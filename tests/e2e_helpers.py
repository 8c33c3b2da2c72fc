"""Helpers for the calendars, opportunities, users and contacts-trigger end-to-end tests: run an
action, read a trigger's items, look into the sandbox."""

from __future__ import annotations

from typing import Any


def act(api, connection, key: str, expect: int = 200, **inputs: Any) -> Any:
    """Run action ``key`` through the API; its upstream data (asserting the status)."""
    resp = api.post(f"/v1/actions/{key}", json={"connection_id": connection["id"], "input": inputs})
    assert resp.status_code == expect, resp.text
    return resp.json()["data"] if expect == 200 else resp.json()


def items(api, connection, key: str, max_items: int = 200, **params: Any) -> list[dict[str, Any]]:
    """A trigger's items through the API, asserting the read succeeded and ids are unique."""
    resp = api.post(f"/v1/triggers/{key}/items",
                    json={"connection_id": connection["id"], "params": params, "limit": max_items})
    assert resp.status_code == 200, resp.text
    found = resp.json()["items"]
    assert len({i["id"] for i in found}) == len(found), "item ids must be unique"
    return found


def stable_items(api, connection, key: str, **params: Any) -> list[dict[str, Any]]:
    """Items read twice: the same ids both times (nothing changed in between)."""
    first = items(api, connection, key, **params)
    assert first, f"{key} returned no items"
    assert [i["id"] for i in items(api, connection, key, **params)] == [i["id"] for i in first]
    return first


def objects(sandbox, collection: str) -> list[dict[str, Any]]:
    return sandbox.get(f"/_sandbox/objects/{collection}").json()["objects"]


def sent(sandbox, key: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.get("/_sandbox/requests").json()["requests"] if r["route"] == key]


def contact_copy_flow(api, name: str, trigger_conn_id: str, step_conn_id: str) -> dict[str, Any]:
    """Create (through the API, asserting 201) a flow that copies each new contact of one
    connection into another: trigger contacts.search_contacts, one step contacts.create_contact."""
    resp = api.post("/v1/flows", json={
        "name": name, "trigger": {"key": "contacts.search_contacts", "connection_id": trigger_conn_id},
        "steps": [{"id": "copy", "action": "contacts.create_contact", "connection_id": step_conn_id,
                   "input": {"firstName": "Copy"}}]})
    assert resp.status_code == 201, resp.text
    return resp.json()
