"""Workflows & Campaigns end to end: API → engine → sandbox over HTTP, and back."""

from __future__ import annotations

import pytest

from tests.catalog_helpers import act, items, objects, read, run, sent


def _contact(sandbox):
    return sorted(objects(sandbox, "contacts"), key=lambda c: c["id"])[0]


@pytest.mark.covers("workflows.list_workflows", "workflows.add_contact_to_workflow",
                    "workflows.remove_from_workflow")
def test_enrol_a_contact_in_a_listed_workflow(api, connection, sandbox):
    workflows = items(api, connection, "workflows.list_workflows")
    assert len(workflows) == 3 and all(w["name"] for w in workflows)
    assert sent(sandbox, "workflows.list_workflows")[0]["query"]["locationId"] == \
        connection["location_id"]
    workflow, contact = workflows[0], _contact(sandbox)

    assert act(api, connection, "workflows.add_contact_to_workflow", contactId=contact["id"],
               workflowId=workflow["id"], eventStartTime="2026-06-23T03:30:00+01:00") == \
        {"succeded": True}
    enrolled = objects(sandbox, "contacts/workflow")
    assert [(e["contactId"], e["workflowId"], e["eventStartTime"]) for e in enrolled] == \
        [(contact["id"], workflow["id"], "2026-06-23T03:30:00+01:00")]

    assert act(api, connection, "workflows.remove_from_workflow", contactId=contact["id"],
               workflowId=workflow["id"]) == {"succeded": True}
    assert objects(sandbox, "contacts/workflow") == []

    unknown = run(api, connection, "workflows.add_contact_to_workflow", contactId=contact["id"],
                  workflowId="no-such-workflow")
    assert unknown.status_code == 400 and "Workflow not found" in unknown.text


@pytest.mark.covers("workflows.list_campaigns")
def test_list_campaigns_filters_by_status(api, connection, sandbox):
    every = items(api, connection, "workflows.list_campaigns")
    assert {c["status"] for c in every} == {"draft", "published"}
    published = items(api, connection, "workflows.list_campaigns", status="published")
    assert [c["status"] for c in published] == ["published"]
    bad = read(api, connection, "workflows.list_campaigns", status="paused")
    assert bad.status_code == 422 and "status" in bad.text


@pytest.mark.covers("workflows.list_snapshots")
def test_list_snapshots_needs_the_agency(api, connection, sandbox):
    from sandbox.ghl import DEFAULT_COMPANY

    found = items(api, connection, "workflows.list_snapshots", companyId=DEFAULT_COMPANY)
    assert {s["type"] for s in found} == {"own", "imported"}
    # this connection names a location only: the company id must be given, and the error says so
    missing = read(api, connection, "workflows.list_snapshots")
    assert missing.status_code == 422 and "companyId" in missing.text


@pytest.mark.covers("workflows.add_contact_followers", "workflows.remove_contact_followers")
def test_followers(api, connection, sandbox):
    contact = _contact(sandbox)
    added = act(api, connection, "workflows.add_contact_followers", contactId=contact["id"],
                followers=["user-a", "user-b"])
    assert added == {"followers": ["user-a", "user-b"], "followersAdded": ["user-a", "user-b"]}
    removed = act(api, connection, "workflows.remove_contact_followers", contactId=contact["id"],
                  followers=["user-a", "user-z"])
    assert removed == {"followers": ["user-b"], "followersRemoved": ["user-a"]}
    stored = next(c for c in objects(sandbox, "contacts") if c["id"] == contact["id"])
    assert stored["followers"] == ["user-b"]
    assert sent(sandbox, "workflows.remove_contact_followers")[-1]["body"] == \
        {"followers": ["user-a", "user-z"]}  # DELETE with a JSON body, as GHL takes it


@pytest.mark.covers("workflows.bulk_business_update")
def test_bulk_business_update_links_contacts(api, connection, sandbox):
    business = objects(sandbox, "businesses")[0]
    ids = [c["id"] for c in objects(sandbox, "contacts")[:2]]
    data = act(api, connection, "workflows.bulk_business_update", ids=ids,
               businessId=business["id"])
    assert data == {"success": True, "ids": ids}
    linked = {c["id"] for c in objects(sandbox, "contacts") if c.get("businessId") == business["id"]}
    assert linked == set(ids)
    missing = run(api, connection, "workflows.bulk_business_update", ids=ids)
    assert missing.status_code == 422 and "businessId" in missing.text
