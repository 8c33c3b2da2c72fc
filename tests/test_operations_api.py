"""GET /v1/operations: the whole catalog with input schemas and upstream details."""

from __future__ import annotations

import json

import pytest

from operations.official import SPECS as GENERATED
from tests.conftest import SHARED, reference_missing


def test_the_ghl_catalog_is_complete(api):
    resp = api.get("/v1/operations", params={"app": "ghl"})
    assert resp.status_code == 200
    ops = resp.json()["operations"]
    kinds = [op["kind"] for op in ops]
    # the named catalog's 55 triggers and 69 actions, with New Contact and 15 Find … by ID
    # searches, and the operations generated from GHL's official documents (all actions)
    assert kinds.count("trigger") == 56 and kinds.count("action") == 84 + len(GENERATED)
    generated = {op.key for op in GENERATED}
    for op in ops:
        assert op["input_schema"]["type"] == "object"
        up = op["upstream"]
        assert up["method"] in ("GET", "POST", "PUT", "PATCH", "DELETE") and up["path"].startswith("/")
        assert up["version"] in ("2021-07-28", "2021-04-15")
        assert isinstance(up["scopes"], list)
        assert op["sample"] or op["key"] in generated, op["key"]


def test_keys_are_the_catalog_keys(api):
    catalog = SHARED / "catalog" / "ghl-operations.json"
    if not catalog.exists():
        reference_missing("the operations catalog (catalog/ghl-operations.json)")
    expected = {entry["key"]: entry for entry in json.loads(catalog.read_text())}
    ops = {op["key"]: op for op in api.get("/v1/operations", params={"app": "ghl"}).json()["operations"]}
    assert set(expected) <= set(ops)
    # beyond the named catalog: New Contact, a search action for each single-object trigger,
    # and the operations generated from GHL's official documents
    added = {key for key in set(ops) - set(expected) - {op.key for op in GENERATED}
             if key != "contacts.new_contact"}
    assert all(ops[key]["kind"] == "action" and ".find_" in key and key.endswith("_by_id")
               for key in added), sorted(added)
    assert len(added) == 15
    for key, entry in expected.items():
        assert ops[key]["kind"] == entry["kind"], key
        assert ops[key]["upstream"]["method"] == entry["method"], key
        assert ops[key]["upstream"]["path"] == entry["path"], key


def test_filters_and_one_operation(api):
    actions = api.get("/v1/operations", params={"kind": "action", "app": "smsglobal"}).json()
    assert actions["count"] >= 8 and all(o["app"] == "smsglobal" for o in actions["operations"])
    total = api.get("/v1/operations", params={"kind": "action"}).json()["count"]
    assert total > 71
    one = api.get("/v1/operations/contacts.create_contact").json()
    assert one["upstream"] == {"method": "POST", "path": "/contacts/", "version": "2021-07-28",
                               "scopes": ["contacts.write"]}
    assert "locationId" in one["input_schema"]["properties"]
    missing = api.get("/v1/operations/contacts.create_contct")
    assert missing.status_code == 404
    assert "contacts.create_contact" in missing.json()["error"]["message"]
    bad = api.get("/v1/operations", params={"kind": "sometimes"})
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "query.kind"


def test_operations_show_where_choices_and_ids_come_from(api):
    """A caller building its own form learns the dropdown source of an input, the search that
    finds an id, a search's create partner and how a list trigger's items show as choices."""
    create = api.get("/v1/operations/opportunities.create_opportunity").json()
    assert create["noun"] == "Opportunity"
    assert create["choices"]["pipelineId"] == {"trigger": "opportunities.list_pipelines",
                                               "each": None, "parent": None}
    assert create["choices"]["pipelineStageId"] == {"trigger": "opportunities.list_pipelines",
                                                    "each": "stages", "parent": "pipelineId"}
    assert create["found_by"] == {"contactId": "contacts.find_contact"}
    assert api.get("/v1/operations/contacts.find_contact").json()["create_with"] == \
        "contacts.create_contact"
    pipelines = api.get("/v1/operations/opportunities.list_pipelines").json()
    shown = {c["each"]: c for c in pipelines["trigger"]["choices"]}
    assert shown[None]["noun"] == "Pipeline" and shown["stages"]["noun"] == "Pipeline Stage"
    plain = api.get("/v1/operations/opportunities.delete_opportunity").json()
    assert "choices" not in plain and "found_by" not in plain and "create_with" not in plain
