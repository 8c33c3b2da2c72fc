"""Adding a plain GHL list or CRUD operation means adding its spec and nothing else, the sandbox
included: a spec file added at test time runs end to end, through the engine against the sandbox's
generic store, with the same validation as every other operation."""

from __future__ import annotations

import pytest

from engine.spec.registry import load, registry
from tests.catalog_helpers import act, items, run, sent

# a new category's spec file, exactly as it would be added to operations/
WIDGETS = """
description: Widgets, for the test.
app: ghl
category: widgets
operations:
  - key: widgets.create_widget
    kind: action
    title: Create Widget
    description: Creates a widget in the location.
    upstream: {method: POST, path: /widgets/, version: '2021-07-28'}
    inputs:
      - &locationId
        name: locationId
        location: body
        required: true
        fill: location_id
        help: GHL sub-account (location) id. Left empty, the connection's location is used.
      - {name: name, location: body, required: true, help: "The widget's name, shown in lists."}
      - {name: size, location: body, type: integer, help: Size in centimetres.}
    output: {path: widget}
  - key: widgets.get_widget
    kind: action
    title: Get Widget
    description: Returns one widget by its id.
    upstream: {method: GET, path: '/widgets/{widgetId}', version: '2021-07-28'}
    inputs:
      - &widgetId
        name: widgetId
        location: path
        required: true
        help: The widget's id, as Create Widget returns it.
    output: {path: widget}
  - key: widgets.update_widget
    kind: action
    title: Update Widget
    description: Renames a widget.
    upstream: {method: PUT, path: '/widgets/{widgetId}', version: '2021-07-28'}
    inputs:
      - *widgetId
      - {name: name, location: body, help: "The widget's new name."}
    output: {path: widget}
  - key: widgets.delete_widget
    kind: action
    title: Delete Widget
    description: Deletes a widget.
    upstream: {method: DELETE, path: '/widgets/{widgetId}', version: '2021-07-28'}
    inputs: [*widgetId]
  - key: widgets.list_widgets
    kind: trigger
    title: List Widgets
    description: Fires for each new widget of the location.
    upstream: {method: GET, path: /widgets/, version: '2021-07-28'}
    inputs:
      - {<<: *locationId, location: query}
    trigger:
      items: {path: widgets, timestamp_field: dateAdded}
      dedupe: {strategy: new}
    sample: {id: wdg_1, name: Blue, dateAdded: '2026-01-15T10:30:00.000Z'}
"""


@pytest.fixture(scope="module")
def widget_specs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("specs")
    (folder / "widgets.yaml").write_text(WIDGETS)
    return tuple(load(folder).values())


@pytest.fixture
def widgets(widget_specs):
    catalog = registry()
    assert not set(catalog) & {op.key for op in widget_specs}
    catalog.update({op.key: op for op in widget_specs})
    yield
    for op in widget_specs:
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
