"""Users end to end: every action changes the sandbox as GHL would, every trigger returns items
with stable ids, through API → engine → sandbox over HTTP. Users live at the agency (company)
level, so these tests use a connection that knows its company."""

from __future__ import annotations

import pytest

from tests.e2e_helpers import act, items, objects, sent, stable_items


@pytest.fixture
def agency(api, sandbox) -> dict:
    from sandbox.ghl import DEFAULT_COMPANY, DEFAULT_LOCATION, DEFAULT_TOKEN

    resp = api.post("/v1/connections", json={"name": "Sandbox agency", "token": DEFAULT_TOKEN,
                                             "location_id": DEFAULT_LOCATION,
                                             "company_id": DEFAULT_COMPANY})
    assert resp.status_code == 201, resp.text
    return resp.json()


@pytest.mark.covers("users.create_user", "users.update_user", "users.delete_user",
                    "users.get_user", "users.list_users_by_location")
def test_user_lifecycle(api, agency, sandbox):
    user = act(api, agency, "users.create_user", firstName="Avery", lastName="Sample",
               email="avery@example.com", password="Not-a-real-pass-1", type="account",
               role="user", locationIds=[agency["location_id"]], phone="+14155550177")
    assert user["name"] == "Avery Sample" and "password" not in user
    assert user["roles"] == {"type": "account", "role": "user", "restrictSubAccount": False,
                             "locationIds": [agency["location_id"]]}
    assert sent(sandbox, "users.create_user")[-1]["body"]["companyId"] == agency["company_id"]

    in_location = stable_items(api, agency, "users.list_users_by_location")
    assert user["id"] in {u["id"] for u in in_location} and len(in_location) == 4

    [watched] = items(api, agency, "users.get_user", userId=user["id"])
    assert watched["object_id"] == user["id"]
    assert items(api, agency, "users.get_user", userId=user["id"])[0]["id"] == watched["id"]
    act(api, agency, "users.update_user", userId=user["id"], role="admin", phone="+14155550178")
    [changed] = items(api, agency, "users.get_user", userId=user["id"])
    assert changed["roles"]["role"] == "admin" and changed["id"] != watched["id"]

    gone = act(api, agency, "users.delete_user", userId=user["id"])
    assert gone["succeded"] is True and "avery@example.com" in gone["message"]
    assert next(u for u in objects(sandbox, "users") if u["id"] == user["id"])["deleted"] is True
    assert user["id"] not in {u["id"] for u in items(api, agency, "users.list_users_by_location")}


@pytest.mark.covers("users.search_users")
def test_search_users_pages_and_filters(api, agency, sandbox):
    sandbox.post("/_sandbox/seed/users", json={"count": 21}).raise_for_status()
    found = stable_items(api, agency, "users.search_users", limit=10)
    assert len(found) == 25
    calls = sent(sandbox, "users.search_users")
    assert [c["query"]["skip"] for c in calls[:3]] == ["0", "10", "20"]
    assert all(c["query"]["companyId"] == agency["company_id"] for c in calls)

    admins = items(api, agency, "users.search_users", role="admin", type="account")
    assert admins and all(u["roles"]["role"] == "admin" and u["roles"]["type"] == "account"
                          for u in admins)
    [casey] = items(api, agency, "users.search_users", query="casey.frontdesk@")
    assert casey["firstName"] == "Casey"
    located = items(api, agency, "users.search_users", locationId=agency["location_id"])
    assert all(agency["location_id"] in u["roles"]["locationIds"] for u in located)


@pytest.mark.covers("users.filter_users_by_email")
def test_filter_users_by_email(api, agency, sandbox):
    emails = sorted(u["email"] for u in objects(sandbox, "users"))[:2]
    found = stable_items(api, agency, "users.filter_users_by_email", emails=",".join(emails))
    assert sorted(u["email"] for u in found) == emails
    assert all("roles" in u for u in found)  # full objects: the engine asks for projection=all
    body = sent(sandbox, "users.filter_users_by_email")[-1]["body"]
    assert body["projection"] == "all" and body["companyId"] == agency["company_id"]


def test_company_id_is_needed(api, connection):
    resp = api.post("/v1/triggers/users.search_users/items",
                    json={"connection_id": connection["id"], "params": {}})
    assert resp.status_code == 422 and "companyId" in resp.text
