"""Opportunities end to end: every action changes the sandbox as GHL would, every trigger
returns items with stable ids, through API → engine → sandbox over HTTP."""

from __future__ import annotations

import time

import pytest

from tests.e2e_helpers import act, items, objects, sent, stable_items


def _pipeline(sandbox, name: str = "New patients") -> dict:
    return next(p for p in objects(sandbox, "opportunities/pipelines") if p["name"] == name)


def _free_contact(api, connection, email: str) -> dict:
    return act(api, connection, "contacts.create_contact", firstName="Dana", lastName="Sample",
               email=email)["contact"]


@pytest.mark.covers("opportunities.list_pipelines", "opportunities.create_opportunity",
                    "opportunities.update_opportunity", "opportunities.update_opportunity_status",
                    "opportunities.get_opportunity", "opportunities.delete_opportunity")
def test_opportunity_lifecycle(api, connection, sandbox):
    pipelines = stable_items(api, connection, "opportunities.list_pipelines")
    assert {p["name"] for p in pipelines} == {"New patients", "Referrals"}
    pipe = next(p for p in pipelines if p["name"] == "New patients")
    contact = _free_contact(api, connection, "dana.lifecycle@example.com")

    made = act(api, connection, "opportunities.create_opportunity", pipelineId=pipe["id"],
               name="Dana - veneers", status="open", contactId=contact["id"],
               monetaryValue=3200)["opportunity"]
    assert made["pipelineStageId"] == pipe["stages"][0]["id"]  # first stage by default
    dup = act(api, connection, "opportunities.create_opportunity", expect=400,
              pipelineId=pipe["id"], name="again", status="open", contactId=contact["id"])
    assert "duplicate" in str(dup)

    [watched] = items(api, connection, "opportunities.get_opportunity", id=made["id"])
    assert watched["object_id"] == made["id"]
    assert items(api, connection, "opportunities.get_opportunity", id=made["id"])[0]["id"] == watched["id"]
    time.sleep(0.002)  # updatedAt has millisecond precision
    moved = act(api, connection, "opportunities.update_opportunity", id=made["id"],
                pipelineStageId=pipe["stages"][1]["id"], monetaryValue=3500)["opportunity"]
    assert moved["lastStageChangeAt"] >= made["lastStageChangeAt"]
    [changed] = items(api, connection, "opportunities.get_opportunity", id=made["id"])
    assert changed["monetaryValue"] == 3500 and changed["id"] != watched["id"]

    assert act(api, connection, "opportunities.update_opportunity_status", id=made["id"],
               status="lost", lostReasonId="LRSexample0000000001") == {"succeded": True}
    stored = next(o for o in objects(sandbox, "opportunities") if o["id"] == made["id"])
    assert stored["status"] == "lost" and stored["lostReasonId"] == "LRSexample0000000001"

    assert act(api, connection, "opportunities.delete_opportunity", id=made["id"]) == {"succeded": True}
    assert made["id"] not in {o["id"] for o in objects(sandbox, "opportunities")}


@pytest.mark.covers("opportunities.upsert_opportunity", "opportunities.add_followers",
                    "opportunities.remove_followers")
def test_upsert_and_followers(api, connection, sandbox):
    pipe = _pipeline(sandbox, "Referrals")
    contact = _free_contact(api, connection, "dana.upsert@example.com")
    users = [u["id"] for u in objects(sandbox, "users")]
    first = act(api, connection, "opportunities.upsert_opportunity", pipelineId=pipe["id"],
                contactId=contact["id"], name="Dana - referral", status="open",
                followers=[users[0]])
    assert first["new"] is True and first["opportunity"]["followers"] == [users[0]]
    body = sent(sandbox, "opportunities.upsert_opportunity")[-1]["body"]
    assert body["followersActionType"] == "add" and body["isRemoveAllFollowers"] is False
    again = act(api, connection, "opportunities.upsert_opportunity", pipelineId=pipe["id"],
                contactId=contact["id"], monetaryValue=900)
    assert again["new"] is False and again["opportunity"]["id"] == first["opportunity"]["id"]
    assert again["opportunity"]["monetaryValue"] == 900

    opp_id = first["opportunity"]["id"]
    added = act(api, connection, "opportunities.add_followers", id=opp_id, followers=users[1:3])
    assert added["followersAdded"] == users[1:3] and added["followers"] == users[:3]
    removed = act(api, connection, "opportunities.remove_followers", id=opp_id, followers=[users[0]])
    assert removed["followersRemoved"] == [users[0]]
    assert next(o for o in objects(sandbox, "opportunities") if o["id"] == opp_id)["followers"] == users[1:3]


@pytest.mark.covers("opportunities.search_opportunities")
def test_search_pages_filters_and_orders(api, connection, sandbox):
    pipe = _pipeline(sandbox)
    for i in range(7):
        contact = _free_contact(api, connection, f"dana.search{i}@example.com")
        act(api, connection, "opportunities.create_opportunity", pipelineId=pipe["id"],
            name=f"Search deal {i}", status="open", contactId=contact["id"], monetaryValue=100 * i)
    everything = stable_items(api, connection, "opportunities.search_opportunities", limit=4)
    assert len(everything) == len(objects(sandbox, "opportunities")) == 12
    stamps = [o["updatedAt"] for o in everything]
    assert stamps == sorted(stamps, reverse=True)  # newest-updated first
    assert all(r["body"]["sort"] == [{"field": "updatedAt", "direction": "desc"}]
               for r in sent(sandbox, "opportunities.search_opportunities"))
    bodies = [r["body"] for r in sent(sandbox, "opportunities.search_opportunities")]
    assert bodies[0]["searchAfter"] == [] and bodies[0]["page"] == 1
    # later pages continue from the last opportunity's sort values: [updatedAt, id]
    afters = [b["searchAfter"] for b in bodies[1:3]]
    assert all(len(a) == 2 for a in afters) and afters[0] != afters[1]
    assert all(r["body"]["locationId"] == connection["location_id"] and "searchAfter" in r["body"]
               for r in sent(sandbox, "opportunities.search_opportunities"))

    in_pipe = items(api, connection, "opportunities.search_opportunities",
                    filters=[{"field": "pipeline_id", "operator": "eq", "value": pipe["id"]},
                             {"field": "monetary_value", "operator": "range",
                              "value": {"gte": 300, "lte": 450}}])
    assert sorted(o["name"] for o in in_pipe) == ["Search deal 3", "Search deal 4"]
    assert [o["name"] for o in items(api, connection, "opportunities.search_opportunities",
                                     query="deal 6")] == ["Search deal 6"]
    assert in_pipe[0]["contact"]["email"].startswith("dana.search")
