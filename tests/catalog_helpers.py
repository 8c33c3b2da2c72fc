"""Helpers for the end-to-end catalog tests: run an action or read a trigger through the API,
and look at what the sandbox received or holds."""

from __future__ import annotations

from typing import Any


def run(api, connection, key: str, /, **inputs: Any):
    return api.post(f"/v1/actions/{key}", json={"connection_id": connection["id"], "input": inputs})


def act(api, connection, key: str, /, **inputs: Any) -> Any:
    """Run an action that must succeed; its upstream data."""
    resp = run(api, connection, key, **inputs)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["meta"]["upstream_status"] in (200, 201), body
    return body["data"]


def read(api, connection, key: str, /, *, take: int = 100, **params: Any):
    """Read a trigger's items; ``take`` is how many items to ask the API for, ``params`` are
    the trigger's own inputs."""
    return api.post(f"/v1/triggers/{key}/items",
                    json={"connection_id": connection["id"], "params": params, "limit": take})


def items(api, connection, key: str, /, *, take: int = 100, **params: Any) -> list[dict[str, Any]]:
    """Read a trigger that must succeed; its items, newest first."""
    resp = read(api, connection, key, take=take, **params)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def sent(sandbox, key: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.get("/_sandbox/requests").json()["requests"] if r["route"] == key]


def objects(sandbox, collection: str) -> list[dict[str, Any]]:
    return sandbox.get(f"/_sandbox/objects/{collection}").json()["objects"]
