"""Phone numbers across SMSGlobal and GHL in the built-in flows: SMSGlobal's form (61412345678)
and GHL's (+61412345678) are one number, and numbers written nationally are read in the GHL
location's country."""

from __future__ import annotations

import pytest

from sandbox.ghl import DEFAULT_COMPANY
from tests.test_flows import (GROUP, calls, drive, ghl_contacts, group_contacts, instantiate,
                              new_contact, notes_of, runs, sms_in)

AU_LOCATION = "loc_sandboxAU00000001"


@pytest.fixture
def au_connection(api, sandbox) -> dict:
    """A GHL connection to a second sandbox location, in Australia."""
    sandbox.post("/_sandbox/seed/locations", json={"location_id": AU_LOCATION, "fields": {
        "id": AU_LOCATION, "companyId": DEFAULT_COMPANY, "name": "Sydney Dental",
        "country": "AU", "timezone": "Australia/Sydney"}}).raise_for_status()
    token = sandbox.post("/_sandbox/tokens", json={"location_id": AU_LOCATION}).json()["token"]
    resp = api.post("/v1/connections", json={"name": "Sydney", "token": token,
                                             "location_id": AU_LOCATION})
    assert resp.status_code == 201, resp.text
    return resp.json()


def with_number(sandbox, e164: str) -> list[dict]:
    return [c for c in ghl_contacts(sandbox) if c.get("phone") == e164]


def test_a_national_number_is_read_in_the_locations_country(api, sandbox, au_connection):
    made = new_contact(api, au_connection, firstName="Noor", phone="0412 345 678")
    assert made["phone"] == "+61412345678"
    # the location's country is read once, then cached (the connection check at creation is
    # a read of the same location too)
    read = len(calls(sandbox, "other.find_location_by_id"))
    assert read >= 1
    new_contact(api, au_connection, firstName="Omar", phone="0412 345 679")
    assert len(calls(sandbox, "other.find_location_by_id")) == read


@pytest.mark.covers("smsglobal.new_incoming_sms", "contacts.find_contact",
                    "contacts.create_contact_note")
def test_an_sms_from_smsglobals_form_finds_the_contact_ghl_stores(api, sandbox, au_connection,
                                                                   smsglobal_connection):
    (flow,) = instantiate(api, "inbound_sms_to_ghl", au_connection, smsglobal_connection)
    drive(flow)
    noor = new_contact(api, au_connection, firstName="Noor", phone="0412 345 678")
    sms_in(sandbox, "61412345678", "Is Tuesday still ok?")  # SMSGlobal writes no '+'
    drive(flow)
    assert "Is Tuesday still ok?" in notes_of(sandbox, noor["id"])[0]["body"]
    assert len(with_number(sandbox, "+61412345678")) == 1  # found, not created again
    (run,) = runs(api, flow)
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["find"]["input"] == {"number": "+61412345678"}
    assert steps["create"]["status"] == "skipped"


@pytest.mark.covers("contacts.search_contacts", "smsglobal.add_contact_to_group",
                    "smsglobal.new_group_contact", "contacts.upsert_contact")
def test_two_way_sync_matches_numbers_in_either_form(api, sandbox, au_connection,
                                                     smsglobal_connection):
    known = new_contact(api, au_connection, firstName="Kai", phone="+61 400 000 083")
    to_sms, to_ghl = instantiate(api, "two_way_contact_sync", au_connection, smsglobal_connection,
                                 group_id=GROUP)
    drive(to_sms, to_ghl)
    new_contact(api, au_connection, firstName="Gina", phone="0400 000 081")  # national, AU
    for msisdn, name in (("+61 400 000 082", "Sam"), ("61400000083", "Kai")):
        api.post("/v1/actions/smsglobal.add_contact_to_group", json={
            "connection_id": smsglobal_connection["id"],
            "input": {"groupId": GROUP, "msisdn": msisdn, "givenName": name}}).raise_for_status()
    for _ in range(3):  # more rounds than needed: a loop would keep writing
        drive(to_sms, to_ghl)

    assert sorted(c["msisdn"] for c in group_contacts(sandbox)) == [
        "61400000081", "61400000082", "61400000083"]
    for number in ("+61400000081", "+61400000082", "+61400000083"):
        assert len(with_number(sandbox, number)) == 1, number  # no duplicate contact
    # the SMSGlobal entry for Kai's number updated the contact GHL already had
    assert with_number(sandbox, "+61400000083")[0]["id"] == known["id"]


def texted_number_flow(api, ghl, sms, **extra) -> dict:
    """A flow that upserts a GHL contact for the number an SMS's text gives."""
    resp = api.post("/v1/flows", json={
        "name": "Number in the text", **extra,
        "trigger": {"key": "smsglobal.new_incoming_sms", "connection_id": sms["id"]},
        "steps": [{"id": "upsert", "action": "contacts.upsert_contact", "connection_id": ghl["id"],
                   "input": {"firstName": "Texted", "phone": "{{ trigger.message | e164 }}"}}]})
    assert resp.status_code == 201, resp.text
    return resp.json()


def test_the_e164_filter_reads_national_numbers_in_the_flows_region(
        api, sandbox, connection, au_connection, smsglobal_connection):
    by_location = texted_number_flow(api, au_connection, smsglobal_connection)  # AU location
    by_setting = texted_number_flow(api, au_connection, smsglobal_connection, region="GB")
    unknown = texted_number_flow(api, connection, smsglobal_connection)  # a US location
    drive(by_location, by_setting, unknown)
    sms_in(sandbox, "61400000090", "0412 999 888")
    drive(by_location)
    assert [c["firstName"] for c in with_number(sandbox, "+61412999888")] == ["Texted"]
    sms_in(sandbox, "61400000091", "07700 900123")
    drive(by_setting)
    assert [c["firstName"] for c in with_number(sandbox, "+447700900123")] == ["Texted"]
    drive(unknown)  # neither text is a US number: the step fails, nothing is guessed
    failed = runs(api, unknown)
    assert [r["status"] for r in failed] == ["failed", "failed"]
    assert all("e164" in r["error"] and "US" in r["error"] for r in failed), failed
    assert calls(sandbox, "contacts.upsert_contact") and all(
        c["body"]["phone"] in ("+61412999888", "+447700900123")
        for c in calls(sandbox, "contacts.upsert_contact"))
