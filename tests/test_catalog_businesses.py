"""Businesses end to end: API → engine → sandbox over HTTP, and back."""

from __future__ import annotations

import pytest

from tests.catalog_helpers import act, items, objects, read, run, sent


@pytest.mark.covers("businesses.create_business", "businesses.update_business",
                    "businesses.delete_business", "businesses.get_business")
def test_business_lifecycle(api, connection, sandbox):
    made = act(api, connection, "businesses.create_business", name="Umbrella Pharmacy",
               email="desk@umbrella.example.com", city="Raccoon City")
    business = made["buiseness"]
    assert made["success"] is True and business["name"] == "Umbrella Pharmacy"
    assert business["locationId"] == connection["location_id"]  # filled from the connection
    assert any(b["id"] == business["id"] for b in objects(sandbox, "businesses"))

    updated = act(api, connection, "businesses.update_business", businessId=business["id"],
                  phone="+14155550199")["buiseness"]
    assert updated["phone"] == "+14155550199" and updated["name"] == "Umbrella Pharmacy"

    assert act(api, connection, "businesses.delete_business", businessId=business["id"]) == \
        {"success": True}
    assert not any(b["id"] == business["id"] for b in objects(sandbox, "businesses"))
    gone = read(api, connection, "businesses.get_business", businessId=business["id"])
    assert gone.status_code == 400, gone.text


@pytest.mark.covers("businesses.get_business", "businesses.update_business")
def test_get_business_fires_again_when_updated(api, connection, sandbox):
    seeded = objects(sandbox, "businesses")[0]  # stamped days ago
    watched = items(api, connection, "businesses.get_business", businessId=seeded["id"])
    assert len(watched) == 1 and watched[0]["object_id"] == seeded["id"]
    assert watched[0]["id"] == items(api, connection, "businesses.get_business",
                                     businessId=seeded["id"])[0]["id"]  # unchanged: same item
    act(api, connection, "businesses.update_business", businessId=seeded["id"],
        description="Now open on Sundays")
    again = items(api, connection, "businesses.get_business", businessId=seeded["id"])
    assert again[0]["description"] == "Now open on Sundays"
    assert again[0]["id"] != watched[0]["id"]  # its updatedAt moved: a new item for the trigger


@pytest.mark.covers("businesses.create_business")
def test_create_business_needs_a_name(api, connection, sandbox):
    resp = run(api, connection, "businesses.create_business", city="Nowhere")
    assert resp.status_code == 422
    assert "name" in resp.text
    assert sent(sandbox, "businesses.create_business") == []  # refused before any upstream call


@pytest.mark.covers("businesses.list_businesses_by_location")
def test_list_businesses_pages_with_skip_and_limit(api, connection, sandbox):
    seeded = [b for b in objects(sandbox, "businesses")]
    found = items(api, connection, "businesses.list_businesses_by_location", limit=2)
    assert {i["id"] for i in found} == {b["id"] for b in seeded}
    calls = sent(sandbox, "businesses.list_businesses_by_location")
    assert [(c["query"]["skip"], c["query"]["limit"]) for c in calls] == [("0", "2"), ("2", "2")]
    assert all(c["query"]["locationId"] == connection["location_id"] for c in calls)
