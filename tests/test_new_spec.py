"""Adding a plain GHL list or CRUD operation means adding its spec and nothing else, the sandbox
included: specs added at test time run end to end, through the engine against the sandbox's
generic store, with the same validation as every other operation."""

from __future__ import annotations

import pytest

from engine.spec.model import Dedupe, Items, Operation, Output, Trigger, Upstream
from engine.spec.registry import registry
from operations._fields import LOCATION_ID_BODY, LOCATION_ID_QUERY, body, path
from tests.catalog_helpers import act, items, run, sent

V = "2021-07-28"
WIDGET_ID = path("widgetId", "The widget's id, as Create Widget returns it.")
NAME = body("name", "The widget's name, shown in lists.", required=True)


def _op(key: str, method: str, url: str, *inputs, **kw) -> Operation:
    return Operation(key=f"widgets.{key}", app="ghl", category="widgets",
                     title=key.replace("_", " ").title(), description=f"{key} for the test.",
                     kind=kw.pop("kind", "action"),
                     upstream=Upstream(method=method, path=url, version=V), inputs=inputs, **kw)


SPECS = (
    _op("create_widget", "POST", "/widgets/", LOCATION_ID_BODY, NAME,
        body("size", "Size in centimetres.", type="integer"), output=Output(path="widget")),
    _op("get_widget", "GET", "/widgets/{widgetId}", WIDGET_ID, output=Output(path="widget")),
    _op("update_widget", "PUT", "/widgets/{widgetId}", WIDGET_ID,
        body("name", "The widget's new name."), output=Output(path="widget")),
    _op("delete_widget", "DELETE", "/widgets/{widgetId}", WIDGET_ID),
    _op("list_widgets", "GET", "/widgets/", LOCATION_ID_QUERY, kind="trigger",
        trigger=Trigger(items=Items(path="widgets", timestamp_field="dateAdded"),
                        dedupe=Dedupe(strategy="new")),
        sample={"id": "wdg_1", "name": "Blue", "dateAdded": "2026-01-15T10:30:00.000Z"}),
)


@pytest.fixture
def widgets():
    catalog = registry()
    assert not set(catalog) & {op.key for op in SPECS}
    catalog.update({op.key: op for op in SPECS})
    yield
    for op in SPECS:
        catalog.pop(op.key, None)


def test_a_spec_added_at_test_time_runs_end_to_end(widgets, api, connection, sandbox):
    made = act(api, connection, "widgets.create_widget", name="Blue", size=3)["widget"]
    assert made["name"] == "Blue" and made["size"] == 3 and made["id"]
    assert made["locationId"] == connection["location_id"]  # filled from the connection
    assert act(api, connection, "widgets.get_widget", widgetId=made["id"])["widget"] == made
    assert [w["id"] for w in items(api, connection, "widgets.list_widgets")] == [made["id"]]
    act(api, connection, "widgets.update_widget", widgetId=made["id"], name="Green")
    assert act(api, connection, "widgets.get_widget", widgetId=made["id"])["widget"]["name"] == "Green"
    act(api, connection, "widgets.delete_widget", widgetId=made["id"])
    gone = run(api, connection, "widgets.get_widget", widgetId=made["id"])
    assert gone.status_code == 404 and gone.json()["error"]["details"]["upstream_status"] == 404


def test_a_spec_added_at_test_time_validates_like_any_other(widgets, api, connection, sandbox):
    resp = run(api, connection, "widgets.create_widget", size="three")
    assert resp.status_code == 422
    assert {d["field"] for d in resp.json()["error"]["details"]} == {"input.name", "input.size"}
    assert not sent(sandbox, "widgets.create_widget")
