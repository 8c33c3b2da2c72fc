"""No-code flows end to end: flows made from the templates, driven by the real poll and delivery
jobs (engine.worker) against the sandbox's GHL and SMSGlobal stand-ins; the run log, retries
that do not repeat succeeded steps, pause/resume, and flows refused at creation."""

import asyncio
import time

import httpx
import pytest

from engine import worker
from engine.core import keys
from engine.core.settings import Settings
from engine.flows import service as flows
from engine.polling import poller
from engine.wiring import open_runtime
from tests.conftest import make_key
from tests.polling_support import SkippingClock

GROUP = "4501"  # the sandbox's seeded SMSGlobal group


def drive(*flows, skip_s: float = 0.0, **settings) -> list:
    """Poll each flow's watch once (the poll the worker's tick runs), then send its queued
    deliveries (the worker's delivery job); with ``skip_s``, by a clock that many seconds ahead
    of the real one (a retry due by then is tried)."""
    async def go():
        rt = await open_runtime(Settings(**settings))
        rt.clock = SkippingClock()
        rt.clock.skip_to(time.time() + skip_s)
        ctx = {"rt": rt}
        out = []
        try:
            for flow in flows:
                sub_id = flow["subscription_id"]
                watch = (await rt.redis.hget(keys.SUBSCRIPTION.format(sub_id=sub_id), "watch")).decode()
                polled = (await poller.poll_watch(rt, watch)).outcome
                sent = await worker.deliver_subscription(ctx, sub_id)
                out.append((polled, sent))
        finally:
            await rt.close()
        return out
    return asyncio.run(go())


def instantiate(api, name, ghl, sms, **options):
    resp = api.post(f"/v1/flow-templates/{name}/instantiate",
                    json={"connections": {"ghl": ghl["id"], "smsglobal": sms["id"]},
                          "options": options})
    assert resp.status_code == 201, resp.text
    return resp.json()["flows"]


def primed_inbound_flow(api, ghl, sms):
    """The inbound-SMS-to-GHL flow made from its template, its trigger's first poll done (so
    only messages received from now on run it)."""
    (flow,) = instantiate(api, "inbound_sms_to_ghl", ghl, sms)
    drive(flow)
    return flow


def fault(sandbox, status: int, count: int, path_prefix: str) -> None:
    """The sandbox answers the next ``count`` requests under ``path_prefix`` with ``status``."""
    sandbox.post("/_sandbox/faults", json={"status": status, "count": count,
                                           "path_prefix": path_prefix}).raise_for_status()


def duplicate_lookups(sandbox):
    """The contact lookups (by phone or email) the sandbox has served."""
    return [r for r in sandbox.get("/_sandbox/requests").json()["requests"]
            if r["path"] == "/contacts/search/duplicate"]


def runs(api, flow):
    resp = api.get(f"/v1/flows/{flow['id']}/runs")
    assert resp.status_code == 200, resp.text
    return resp.json()["runs"]


def calls(sandbox, route):
    return [r for r in sandbox.get("/_sandbox/requests").json()["requests"] if r["route"] == route]


def ghl_contacts(sandbox):
    return sandbox.get("/_sandbox/objects/contacts").json()["objects"]


def notes_of(sandbox, contact_id):
    return [n for n in sandbox.get("/_sandbox/objects/contacts/notes").json()["objects"]
            if n["contactId"] == contact_id]


def new_contact(api, conn, **fields):
    resp = api.post("/v1/actions/contacts.create_contact",
                    json={"connection_id": conn["id"], "input": fields})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["contact"]


def change_contact(api, conn, contact_id, **fields):
    """Update a GHL contact a few milliseconds on, so its dateUpdated moves (GHL's times are to
    the millisecond)."""
    time.sleep(0.01)
    resp = api.post("/v1/actions/contacts.update_contact",
                    json={"connection_id": conn["id"],
                          "input": {"contactId": contact_id, **fields}})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["contact"]


def tag_contact(api, conn, contact_id, tag):
    time.sleep(0.01)
    resp = api.post("/v1/actions/contacts.add_tags_to_contact",
                    json={"connection_id": conn["id"],
                          "input": {"contactId": contact_id, "tags": [tag]}})
    assert resp.status_code == 200, resp.text


def sms_in(sandbox, origin, message):
    sandbox.post("/_sandbox/smsglobal/incoming", json={
        "origin": origin, "destination": "61400000999", "message": message}).raise_for_status()


def sms_out(sandbox):
    return sandbox.get("/_sandbox/smsglobal/messages").json()["messages"]


def group_contacts(sandbox, group_id=GROUP):
    groups = sandbox.get("/_sandbox/smsglobal/groups").json()["groups"]
    return next(g for g in groups if str(g["id"]) == str(group_id))["contacts"]


@pytest.mark.covers("smsglobal.new_incoming_sms", "contacts.find_contact",
                    "contacts.upsert_contact", "contacts.create_contact_note",
                    "contacts.add_tags_to_contact")
def test_inbound_sms_becomes_a_note_on_the_found_or_new_contact(api, sandbox, connection,
                                                               smsglobal_connection):
    (flow,) = instantiate(api, "inbound_sms_to_ghl", connection, smsglobal_connection,
                          tag="sms-reply")
    assert drive(flow)[0][0] == "primed"
    known = new_contact(api, connection, firstName="Kim", phone="+61400000021")
    sms_in(sandbox, "61400000021", "Can I book Tuesday?")
    sms_in(sandbox, "61400000022", "Hello, who is this?")
    assert drive(flow)[0][1]["sent"] == 2

    contacts = {c["phone"]: c for c in ghl_contacts(sandbox)}
    assert "Can I book Tuesday?" in notes_of(sandbox, known["id"])[0]["body"]
    assert "sms-reply" in contacts["+61400000021"]["tags"]
    stranger = contacts["+61400000022"]
    assert stranger["source"] == "SMS (SMSGlobal)" and "sms-reply" in stranger["tags"]
    (note,) = notes_of(sandbox, stranger["id"])
    assert note["body"].startswith("SMS from 61400000022") and "who is this?" in note["body"]

    log = runs(api, flow)
    assert [r["status"] for r in log] == ["succeeded", "succeeded"]
    by_origin = {r["trigger"]["origin"]: r for r in log}
    steps = {s["id"]: s for s in by_origin["61400000021"]["steps"]}
    assert steps["create"]["status"] == "skipped" and steps["find"]["status"] == "succeeded"
    assert steps["note"]["input"]["contactId"] == known["id"]
    # nothing new: nothing runs again
    drive(flow)
    assert len(runs(api, flow)) == 2 and len(calls(sandbox, "contacts.create_contact_note")) == 2


@pytest.mark.covers("contacts.search_contacts", "smsglobal.send_sms")
def test_new_ghl_contact_gets_a_welcome_sms(api, sandbox, connection, smsglobal_connection):
    (flow,) = instantiate(api, "ghl_contact_welcome", connection, smsglobal_connection,
                          message="Hi {{ trigger.firstName }}, welcome to Sandbox Dental",
                          origin="SandboxDen")
    drive(flow)
    new_contact(api, connection, firstName="Ada", phone="+61400000031")
    new_contact(api, connection, firstName="Nophone", email="nophone@example.com")
    drive(flow)
    (msg,) = sms_out(sandbox)
    assert (msg["destination"], msg["origin"], msg["message"]) == (
        "61400000031", "SandboxDen", "Hi Ada, welcome to Sandbox Dental")
    skipped = [r for r in runs(api, flow) if r["trigger"]["firstName"] == "Nophone"][0]
    assert skipped["status"] == "skipped" and skipped["steps"][0]["status"] == "skipped"
    assert skipped["reason"] == "every step was skipped"
    done = api.get(f"/v1/flows/{flow['id']}/runs", params={"exclude": "skipped"}).json()["runs"]
    assert [r["trigger"]["firstName"] for r in done] == ["Ada"]
    only = api.get(f"/v1/flows/{flow['id']}/runs", params={"status": "skipped"}).json()["runs"]
    assert [r["trigger"]["firstName"] for r in only] == ["Nophone"]


@pytest.mark.covers("contacts.search_contacts", "contacts.update_contact", "smsglobal.send_sms")
def test_the_welcome_sms_goes_once_to_new_contacts_only_as_contacts_change(
        api, sandbox, connection, smsglobal_connection):
    older = next(c for c in ghl_contacts(sandbox) if c.get("phone"))  # there before the flow
    (flow,) = instantiate(api, "ghl_contact_welcome", connection, smsglobal_connection,
                          message="Welcome {{ trigger.firstName }}")
    drive(flow)
    ada = new_contact(api, connection, firstName="Ada", phone="+61400000031")
    cara = new_contact(api, connection, firstName="Cara", phone="+61400000032")
    change_contact(api, connection, cara["id"], city="Perth")  # changed before a poll saw her
    change_contact(api, connection, older["id"], city="Hobart")  # an older contact's change
    assert drive(flow)[0][1]["sent"] == 3  # three items: each a run
    assert sorted((m["destination"], m["message"]) for m in sms_out(sandbox)) == [
        ("61400000031", "Welcome Ada"), ("61400000032", "Welcome Cara")]

    change_contact(api, connection, ada["id"], lastName="Lovelace")
    change_contact(api, connection, cara["id"], city="Fremantle")
    assert drive(flow)[0][1]["sent"] == 2  # the changes fire, the welcome is not sent again
    assert len(sms_out(sandbox)) == 2
    by_contact: dict[str, list] = {}
    for run in reversed(runs(api, flow)):  # oldest first
        by_contact.setdefault(run["trigger"]["id"], []).append(run)
    assert [r["steps"][0]["status"] for r in by_contact[ada["id"]]] == ["succeeded", "skipped"]
    assert "done once already for " + ada["id"] in by_contact[ada["id"]][1]["steps"][0]["reason"]
    assert [r["steps"][0]["status"] for r in by_contact[cara["id"]]] == ["succeeded", "skipped"]
    (changed,) = by_contact[older["id"]]
    assert changed["steps"][0]["status"] == "skipped"
    assert "dateAdded" in changed["steps"][0]["reason"]  # added before the flow: not new
    assert drive(flow)[0][1]["sent"] == 0  # nothing changed: nothing runs


@pytest.mark.covers("contacts.search_contacts", "contacts.update_contact",
                    "smsglobal.add_contact_to_group")
def test_the_group_sync_follows_new_and_changed_contacts(api, sandbox, connection,
                                                         smsglobal_connection):
    group = sandbox.post("/_sandbox/smsglobal/groups", json={"name": "Leads"}).json()
    older = next(c for c in ghl_contacts(sandbox) if c.get("phone"))
    (flow,) = instantiate(api, "ghl_contact_welcome", connection, smsglobal_connection,
                          mode="group", group_id=str(group["id"]))
    drive(flow)
    gus = new_contact(api, connection, firstName="Gus", phone="+61400000033",
                      email="gus@example.com")
    drive(flow)
    (member,) = group_contacts(sandbox, group["id"])
    assert (member["msisdn"], member["givenName"]) == ("61400000033", "Gus")

    change_contact(api, connection, gus["id"], firstName="Gustav")
    change_contact(api, connection, older["id"], firstName="Olga")
    drive(flow)
    members = {m["msisdn"]: m["givenName"] for m in group_contacts(sandbox, group["id"])}
    assert members == {"61400000033": "Gustav", older["phone"].lstrip("+"): "Olga"}
    assert drive(flow)[0][1]["sent"] == 0 and len(runs(api, flow)) == 3


@pytest.mark.covers("contacts.get_contact_tasks", "contacts.get_contact_task_by_id",
                    "contacts.get_contact", "users.get_user", "contacts.create_contact_task",
                    "contacts.complete_contact_task", "smsglobal.send_sms")
def test_task_created_or_completed_texts_the_contact_or_owner(api, sandbox, connection,
                                                              smsglobal_connection):
    owner = sandbox.post("/_sandbox/seed/users", json={"fields": {
        "firstName": "Olive", "phone": "+61400000052"}}).json()["ids"][0]
    contact = new_contact(api, connection, firstName="Tess", phone="+61400000051", assignedTo=owner)
    (to_contact,) = instantiate(api, "ghl_task_sms", connection, smsglobal_connection,
                                contact_id=contact["id"])
    (to_owner,) = instantiate(api, "ghl_task_sms", connection, smsglobal_connection,
                              contact_id=contact["id"], recipient="owner",
                              message="{{ steps.contact.data.firstName }}: {{ trigger.title }}")
    drive(to_contact, to_owner)
    task = api.post("/v1/actions/contacts.create_contact_task", json={
        "connection_id": connection["id"], "input": {
            "contactId": contact["id"], "title": "Bring X-rays", "dueDate": "2030-03-01T10:00:00Z",
            "completed": False}}).json()["data"]["task"]
    drive(to_contact, to_owner)
    texts = {m["destination"]: m["message"] for m in sms_out(sandbox)}
    assert texts == {"61400000051": "New task: Bring X-rays, due 2030-03-01T10:00:00Z",
                     "61400000052": "Tess: Bring X-rays"}

    (done,) = instantiate(api, "ghl_task_sms", connection, smsglobal_connection,
                          contact_id=contact["id"], event="completed", task_id=task["id"])
    drive(done)
    api.post("/v1/actions/contacts.complete_contact_task", json={
        "connection_id": connection["id"],
        "input": {"contactId": contact["id"], "taskId": task["id"], "completed": True}})
    drive(done)
    assert [m["message"] for m in sms_out(sandbox)][-1] == "Task done: Bring X-rays"
    assert len(sms_out(sandbox)) == 3


@pytest.mark.covers("contacts.search_contacts", "smsglobal.add_contact_to_group",
                    "smsglobal.new_group_contact", "contacts.upsert_contact")
def test_two_way_contact_sync_settles_without_a_loop(api, sandbox, connection,
                                                     smsglobal_connection):
    to_sms, to_ghl = instantiate(api, "two_way_contact_sync", connection, smsglobal_connection,
                                 group_id=GROUP)
    drive(to_sms, to_ghl)
    new_contact(api, connection, firstName="Gina", lastName="Hall", phone="+61400000041")
    api.post("/v1/actions/smsglobal.add_contact_to_group", json={
        "connection_id": smsglobal_connection["id"],
        "input": {"groupId": GROUP, "msisdn": "61400000042", "givenName": "Sam",
                  "familyName": "Moss"}}).raise_for_status()
    for _ in range(3):  # more rounds than needed: a loop would keep writing
        drive(to_sms, to_ghl)

    assert sorted(c["msisdn"] for c in group_contacts(sandbox)) == ["61400000041", "61400000042"]
    synced = [c for c in ghl_contacts(sandbox) if c.get("phone") in ("+61400000041", "+61400000042")]
    assert sorted((c["phone"], c["firstName"]) for c in synced) == [
        ("+61400000041", "Gina"), ("+61400000042", "Sam")]
    assert len(calls(sandbox, "smsglobal.add_contact_to_group")) == 2  # ours + the sync's one
    assert len(calls(sandbox, "contacts.upsert_contact")) == 1
    a_runs = {r["trigger"]["phone"]: r["status"] for r in runs(api, to_sms)}
    b_runs = {r["trigger"]["msisdn"]: r["status"] for r in runs(api, to_ghl)}
    assert a_runs == {"+61400000041": "succeeded", "+61400000042": "skipped"}
    assert b_runs == {"61400000041": "skipped", "61400000042": "succeeded"}
    echo = [r for r in runs(api, to_ghl) if r["status"] == "skipped"][0]
    assert "echo" in echo["reason"]

    # a change in GHL now fires too: it reaches the group once, and nothing comes back
    gina = next(c for c in ghl_contacts(sandbox) if c.get("phone") == "+61400000041")
    change_contact(api, connection, gina["id"], lastName="Hall-Jones")
    for _ in range(3):
        drive(to_sms, to_ghl)
    by_msisdn = {c["msisdn"]: c for c in group_contacts(sandbox)}
    assert sorted(by_msisdn) == ["61400000041", "61400000042"]
    assert by_msisdn["61400000041"]["familyName"] == "Hall-Jones"
    assert len(calls(sandbox, "smsglobal.add_contact_to_group")) == 3
    assert len(calls(sandbox, "contacts.upsert_contact")) == 1
    latest, *earlier = runs(api, to_sms)  # newest first
    assert latest["status"] == "succeeded" and latest["trigger"]["lastName"] == "Hall-Jones"
    assert sorted(r["status"] for r in earlier) == ["skipped", "succeeded"]
    assert len(runs(api, to_ghl)) == 2  # the group entry was updated, not added: no new item


@pytest.mark.covers("contacts.search_contacts", "smsglobal.add_contact_to_group")
def test_tagged_contacts_go_to_the_smsglobal_group(api, sandbox, connection, smsglobal_connection):
    group = sandbox.post("/_sandbox/smsglobal/groups", json={"name": "VIP"}).json()
    (flow,) = instantiate(api, "tag_to_smsglobal_group", connection, smsglobal_connection,
                          tag="vip", group_id=str(group["id"]))
    drive(flow)
    new_contact(api, connection, firstName="Vera", phone="+61400000061", email="vera@example.com",
                tags=["vip"])
    new_contact(api, connection, firstName="Nate", phone="+61400000062", tags=["lead"])
    drive(flow)
    (member,) = group_contacts(sandbox, group["id"])
    assert (member["msisdn"], member["givenName"], member["emailAddress"]) == (
        "61400000061", "Vera", "vera@example.com")
    assert group_contacts(sandbox) == []

    # contacts tagged later join the segment: one made since, one that was there before
    nate = next(c for c in ghl_contacts(sandbox) if c.get("phone") == "+61400000062")
    older = next(c for c in ghl_contacts(sandbox) if c.get("phone") and "vip" not in c["tags"]
                 and c["source"] == "sandbox seed")
    tag_contact(api, connection, nate["id"], "vip")
    tag_contact(api, connection, older["id"], "vip")
    drive(flow)
    assert sorted(m["msisdn"] for m in group_contacts(sandbox, group["id"])) == sorted(
        ["61400000061", "61400000062", older["phone"].lstrip("+")])
    assert drive(flow)[0][1]["sent"] == 0  # nothing changed since: nothing runs


def failed_note_run(api, sandbox, connection, smsglobal_connection, name, msisdn, text):
    """An inbound-SMS flow whose run for a known contact's SMS failed at its note step (GHL
    answered 422 once); (the flow, the contact, the run)."""
    flow = primed_inbound_flow(api, connection, smsglobal_connection)
    known = new_contact(api, connection, firstName=name, phone="+" + msisdn)
    fault(sandbox, 422, 1, f"/contacts/{known['id']}/notes")
    sms_in(sandbox, msisdn, text)
    drive(flow)
    (run,) = runs(api, flow)
    return flow, known, run


@pytest.mark.covers("smsglobal.new_incoming_sms", "contacts.find_contact",
                    "contacts.create_contact_note")
def test_a_failed_step_is_logged_and_retry_does_not_repeat_succeeded_steps(
        api, sandbox, connection, smsglobal_connection):
    flow, known, run = failed_note_run(api, sandbox, connection, smsglobal_connection,
                                       "Flo", "61400000071", "Please call me")
    assert run["status"] == "failed" and run["error"].startswith("step note:")
    steps = {s["id"]: s for s in run["steps"]}
    assert steps["find"]["status"] == "succeeded" and steps["create"]["status"] == "skipped"
    assert steps["note"]["status"] == "failed"
    assert steps["note"]["error"]["status"] == 422
    assert steps["note"]["input"]["body"].endswith("Please call me")
    assert notes_of(sandbox, known["id"]) == []

    resp = api.post(f"/v1/flows/{flow['id']}/runs/{run['id']}/retry")
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "succeeded"
    assert len(notes_of(sandbox, known["id"])) == 1
    assert len(duplicate_lookups(sandbox)) == 1  # the find step is not repeated
    assert len(calls(sandbox, "contacts.create_contact_note")) == 2  # failed once, then done
    again = api.post(f"/v1/flows/{flow['id']}/runs/{run['id']}/retry")
    assert again.status_code == 422 and "only a failed run" in again.text


@pytest.mark.covers("smsglobal.new_incoming_sms", "contacts.find_contact",
                    "contacts.create_contact_note")
def test_a_transient_failure_is_retried_by_the_outbox_and_resumes_the_run(
        api, sandbox, connection, smsglobal_connection):
    flow = primed_inbound_flow(api, connection, smsglobal_connection)
    # 503s on the upsert (safe to repeat) outlast the executor's own retries: the delivery is
    # tried again later and the run resumes at that step
    fault(sandbox, 503, 4, "/contacts/upsert")
    sms_in(sandbox, "61400000075", "Running late")
    fast = {"ENGINE_DELIVERY_RETRY_SCHEDULE": "0.2,0.2"}
    assert drive(flow, **fast)[0][1] == {"sent": 0, "failed": 1}
    (run,) = runs(api, flow)
    assert run["status"] == "retrying" and "503" in run["error"]
    assert drive(flow, **fast)[0][1] == {"sent": 0, "failed": 0}  # its next try is 0.2 s away
    assert drive(flow, skip_s=0.2, **fast)[0][1] == {"sent": 1, "failed": 0}
    (run,) = runs(api, flow)
    assert run["status"] == "succeeded" and run["attempts"] == 2
    (ray,) = [c for c in ghl_contacts(sandbox) if c.get("phone") == "+61400000075"]
    assert len(notes_of(sandbox, ray["id"])) == 1
    assert len(duplicate_lookups(sandbox)) == 1  # the resumed run did not look the contact up again
    notes = f"/contacts/{ray['id']}/notes"

    # a 500 on a write that may have happened is not repeated blindly: the run fails, visibly
    fault(sandbox, 500, 1, notes)
    sms_in(sandbox, "61400000075", "Still late")
    drive(flow, **fast)
    latest = runs(api, flow)[0]
    assert latest["status"] == "failed" and "could act twice" in latest["error"]
    drive(flow, skip_s=0.2, **fast)  # past when a retry would be due
    assert runs(api, flow)[0]["status"] == "failed"
    assert len(calls(sandbox, "contacts.create_contact_note")) == 2  # one each, never repeated


@pytest.mark.covers("smsglobal.new_incoming_sms", "smsglobal.send_sms")
def test_a_send_cut_short_by_a_crash_is_not_sent_again_without_a_person(
        api, sandbox, smsglobal_connection):
    flow = api.post("/v1/flows", json={
        "name": "Auto-reply", "trigger": {"key": "smsglobal.new_incoming_sms",
                                          "connection_id": smsglobal_connection["id"]},
        "steps": [{"id": "reply", "action": "smsglobal.send_sms",
                   "connection_id": smsglobal_connection["id"],
                   "input": {"destinations": ["{{ trigger.origin }}"], "message": "Got it"}}]}).json()
    sms_in(sandbox, "61400000085", "Hello")
    item = api.post("/v1/triggers/smsglobal.new_incoming_sms/items", json={
        "connection_id": smsglobal_connection["id"]}).json()["items"][0]
    delivery = {"delivery_id": "msg_crash_test", "webhook_id": "msg_crash_test",
                "subscription_id": flow["subscription_id"], "trigger": "smsglobal.new_incoming_sms",
                "item_id": item["id"], "data": item}
    sandbox.put("/_sandbox/config", json={"latency_ms": 1500}).raise_for_status()

    async def crash_then_redeliver():
        rt = await open_runtime(Settings())
        try:
            with pytest.raises(asyncio.TimeoutError):  # the worker dies mid-send
                await asyncio.wait_for(flows.deliver(rt, flow["id"], delivery), 0.5)
            await flows.deliver(rt, flow["id"], delivery)  # the outbox tries again
        finally:
            await rt.close()

    asyncio.run(crash_then_redeliver())
    sandbox.put("/_sandbox/config", json={"latency_ms": 0}).raise_for_status()
    time.sleep(1.2)  # let the cut-short request land, as it may upstream
    (run,) = runs(api, flow)
    assert run["status"] == "failed" and "may have happened upstream" in run["error"]
    assert len(sms_out(sandbox)) <= 1  # never twice
    before = len(sms_out(sandbox))
    retried = api.post(f"/v1/flows/{flow['id']}/runs/{run['id']}/retry").json()
    assert retried["status"] == "succeeded" and len(sms_out(sandbox)) == before + 1


@pytest.mark.covers("smsglobal.new_incoming_sms", "smsglobal.send_sms")
def test_flow_crud_pause_resume_and_tenant_isolation(api, api_server, sandbox, connection,
                                                     smsglobal_connection):
    body = {"name": "Auto-reply", "trigger": {"key": "smsglobal.new_incoming_sms",
                                              "connection_id": smsglobal_connection["id"]},
            "steps": [{"id": "reply", "action": "smsglobal.send_sms",
                       "connection_id": smsglobal_connection["id"],
                       "when": "'stop' not in trigger.message | lower",
                       "input": {"destinations": ["{{ trigger.origin }}"],
                                 "message": "Thanks, we got: {{ trigger.message }}"}}]}
    resp = api.post("/v1/flows", json=body)
    assert resp.status_code == 201, resp.text
    flow = resp.json()
    assert flow["status"] == "active" and flow["subscription_id"]
    assert [f["id"] for f in api.get("/v1/flows").json()["flows"]] == [flow["id"]]
    drive(flow)

    patched = api.patch(f"/v1/flows/{flow['id']}", json={"name": "Auto-reply v2"}).json()
    assert patched["name"] == "Auto-reply v2" and patched["subscription_id"] == flow["subscription_id"]
    assert api.post(f"/v1/flows/{flow['id']}/pause").json()["status"] == "paused"
    sms_in(sandbox, "61400000081", "Hi there")
    drive(flow)
    assert sms_out(sandbox) == [] and [r["status"] for r in runs(api, flow)] == ["held"]
    resumed = api.post(f"/v1/flows/{flow['id']}/resume").json()
    assert resumed["status"] == "active" and resumed["held_runs_started"] == 1
    assert [m["message"] for m in sms_out(sandbox)] == ["Thanks, we got: Hi there"]
    sms_in(sandbox, "61400000081", "STOP")
    drive(flow)
    assert len(sms_out(sandbox)) == 1  # 'when' held the reply back

    with httpx.Client(base_url=api_server.url, headers={
            "Authorization": f"Bearer {make_key('other-tenant')}"}) as other:
        for method, path in (("GET", ""), ("GET", "/runs"), ("DELETE", ""), ("POST", "/pause")):
            assert other.request(method, f"/v1/flows/{flow['id']}{path}").status_code == 404
        run_id = runs(api, flow)[0]["id"]
        assert other.post(f"/v1/flows/{flow['id']}/runs/{run_id}/retry").status_code == 404
        assert other.get("/v1/flows").json()["flows"] == []

    moved = api.patch(f"/v1/flows/{flow['id']}", json={"trigger": {
        **body["trigger"], "params": {"destination": "61400000999"}}})
    assert moved.status_code == 200, moved.text
    moved = moved.json()
    assert moved["subscription_id"] != flow["subscription_id"]
    assert moved["trigger"]["params"] == {"destination": "61400000999"}
    assert api.get(f"/v1/subscriptions/{flow['subscription_id']}").status_code == 404
    bad = api.patch(f"/v1/flows/{flow['id']}", json={"steps": [
        {**body["steps"][0], "input": {"destinations": ["{{ trigger.sender }}"], "message": "x"}}]})
    assert bad.status_code == 422 and "trigger.sender" in bad.text

    assert api.delete(f"/v1/flows/{flow['id']}").status_code == 204
    assert api.get(f"/v1/flows/{flow['id']}").status_code == 404
    assert api.get(f"/v1/subscriptions/{moved['subscription_id']}").status_code == 404


def _flow(conn_sms, conn_ghl, steps, **trigger):
    return {"name": "bad", "trigger": {"key": "smsglobal.new_incoming_sms",
                                       "connection_id": conn_sms["id"], **trigger},
            "steps": steps}


def _problems(resp):
    assert resp.status_code == 422, resp.text
    return {p["field"]: p["message"] for p in resp.json()["error"]["details"]}


def test_bad_flows_are_refused_with_the_problem_named(api, api_server, sandbox, connection,
                                                      smsglobal_connection):
    sms, ghl = smsglobal_connection, connection
    note = {"id": "note", "action": "contacts.create_contact_note", "connection_id": ghl["id"],
            "input": {"contactId": "abc", "body": "{{ trigger.nope }}"}}
    found = _problems(api.post("/v1/flows", json=_flow(sms, ghl, [note])))
    assert "trigger.nope is not a field" in found["steps[0].input.body"]
    assert "origin" in found["steps[0].input.body"]  # lists what there is

    found = _problems(api.post("/v1/flows", json=_flow(sms, ghl, [
        {**note, "input": {"contactId": "{{ steps.later.data.contact.id }}", "body": "x"}},
        {**note, "id": "later"},
        {**note, "id": "third", "input": {"contactId": "{{ steps.ghost.data.id }}", "body": "x"}},
        {**note, "id": "fourth", "input": {"contactId": "{{ steps.note.data.nothing }}", "body": "x"}},
    ])))
    assert "later step" in found["steps[0].input.contactId"]
    assert "refers to no step" in found["steps[2].input.contactId"]
    assert "not in the result of step 'note'" in found["steps[3].input.contactId"]

    found = _problems(api.post("/v1/flows", json=_flow(sms, ghl, [
        {**note, "action": "contacts.create_contact_notes", "input": {"body": "x"}},
        {**note, "id": "two", "connection_id": "conn_missing", "input": {"contactId": "a", "body": "x"}},
        {**note, "id": "three", "connection_id": sms["id"], "input": {"contactId": "a", "body": "x"}},
        {**note, "id": "four", "input": {"body": "x"}},
        {**note, "id": "five", "input": {"contactId": "a", "body": "{{ trigger.message | nosuch }}"}},
        {**note, "id": "six", "when": "trigger.origin ==", "input": {"contactId": "a", "body": "x"}},
        {**note, "id": "seven", "once": "{{ trigger.sender }}",
         "input": {"contactId": "a", "body": "x"}},
    ])))
    assert "did you mean contacts.create_contact_note" in found["steps[0].action"]
    assert "not found" in found["steps[1].connection_id"]
    assert "needs a ghl connection" in found["steps[2].connection_id"]
    assert "required" in found["steps[3].input.contactId"]
    assert "nosuch" in found["steps[4].input.body"]
    assert "template error" in found["steps[5].when"]
    assert "trigger.sender is not a field" in found["steps[6].once"]

    # a template that loads another template: the engine has none to load, so it could never run
    found = _problems(api.post("/v1/flows", json=_flow(sms, ghl, [
        {**note, "input": {"contactId": "a", "body": "{% include '/etc/passwd' %}"}},
        {**note, "id": "two", "input": {"contactId": "a", "body": "{% import 'os' as os %}x"}},
        {**note, "id": "three", "input": {"contactId": "a", "body": "{% extends 'base' %}"}},
        {**note, "id": "four", "input": {"contactId": "a",
                                         "body": "{% from 'm' import f %}{{ f() }}"}},
    ])))
    for index in range(4):
        assert "cannot load other templates" in found[f"steps[{index}].input.body"], found

    found = _problems(api.post("/v1/flows", json=_flow(sms, ghl, [note], key="smsglobal.nope")))
    assert "unknown operation" in found["trigger.key"]
    found = _problems(api.post("/v1/flows", json=_flow(sms, ghl, [
        {**note, "input": {"contactId": "a", "body": "x"}}], params={"limit": "many"})))
    assert any(k.startswith("trigger.params") for k in found)

    # another tenant's connection is simply not found
    with httpx.Client(base_url=api_server.url, headers={
            "Authorization": f"Bearer {make_key('flow-other')}"}) as other:
        found = _problems(other.post("/v1/flows", json=_flow(sms, ghl, [
            {**note, "input": {"contactId": "a", "body": "x"}}])))
        assert "not found" in found["trigger.connection_id"]
        assert "not found" in found["steps[0].connection_id"]
    # nothing was created by any of these
    assert api.get("/v1/flows").json()["flows"] == []

    bad = api.post("/v1/flow-templates/ghl_task_sms/instantiate", json={
        "connections": {"ghl": ghl["id"]}, "options": {"event": "someday", "colour": "red"}})
    found = _problems(bad)
    assert set(found) >= {"connections.smsglobal"}
    bad = api.post("/v1/flow-templates/ghl_task_sms/instantiate", json={
        "connections": {"ghl": ghl["id"], "smsglobal": sms["id"]},
        "options": {"event": "someday", "colour": "red"}})
    found = _problems(bad)
    assert {"options.event", "options.colour", "options.contact_id"} <= set(found)
    assert api.post("/v1/flow-templates/nope/instantiate",
                    json={"connections": {}}).status_code == 404


def test_flow_templates_are_listed_with_their_options(api):
    templates = {t["name"]: t for t in api.get("/v1/flow-templates").json()["templates"]}
    assert set(templates) == {"inbound_sms_to_ghl", "ghl_contact_welcome", "ghl_task_sms",
                              "two_way_contact_sync", "tag_to_smsglobal_group"}
    for t in templates.values():
        assert set(t["connections"]) == {"ghl", "smsglobal"} and t["description"]
        assert all(o["help"] for o in t["options"])


def test_a_template_body_with_flat_keys_is_told_its_shape(api, connection, smsglobal_connection):
    resp = api.post("/v1/flow-templates/ghl_contact_welcome/instantiate",
                    json={"ghl": connection["id"], "smsglobal": smsglobal_connection["id"],
                          "message": "Hi"})
    assert resp.status_code == 422, resp.text
    found = {p["field"]: p["message"] for p in resp.json()["error"]["details"]}
    assert "connections" in found, found
    assert found["ghl"].startswith(
        'unknown field; a template\'s body is {"connections": {"<role>": "<connection id>"}, '
        '"options": {…}, "name": …}: put \'ghl\' inside \'connections\' or \'options\''), found


@pytest.mark.covers("smsglobal.new_incoming_sms", "contacts.find_contact",
                    "contacts.create_contact_note")
def test_concurrent_retries_of_one_failed_run_do_its_step_once(
        api, sandbox, connection, smsglobal_connection):
    """A retry clicked twice, or sent again by a tool whose first request timed out, while the
    first is still running: the failed step (here, a note written to GHL) is done once; the
    other requests get 409 ``run_in_progress`` (or 422 once the run has succeeded)."""
    from concurrent.futures import ThreadPoolExecutor

    flow, known, run = failed_note_run(api, sandbox, connection, smsglobal_connection,
                                       "Twice", "61400000073", "Call me once")
    assert run["status"] == "failed" and notes_of(sandbox, known["id"]) == []

    sandbox.put("/_sandbox/config", json={"latency_ms": 400})  # the retried step takes a while
    url = f"/v1/flows/{flow['id']}/runs/{run['id']}/retry"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.post(url), range(4)))
    sandbox.put("/_sandbox/config", json={"latency_ms": 0})
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 1, [a.text for a in answers]
    assert set(statuses) <= {200, 409, 422}, [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"]["code"] == "run_in_progress", answer.text
    assert len(notes_of(sandbox, known["id"])) == 1
    assert len(calls(sandbox, "contacts.create_contact_note")) == 2  # failed once, then done
    assert api.get(f"/v1/flows/{flow['id']}/runs/{run['id']}").json()["status"] == "succeeded"


@pytest.mark.covers("smsglobal.new_incoming_sms", "smsglobal.send_sms")
def test_trigger_id_has_the_items_own_type_in_a_test_run_and_a_real_run(api, sandbox,
                                                                         smsglobal_connection):
    flow = api.post("/v1/flows", json={
        "name": "Echo", "trigger": {"key": "smsglobal.new_incoming_sms",
                                    "connection_id": smsglobal_connection["id"]},
        "steps": [{"id": "reply", "action": "smsglobal.send_sms",
                   "connection_id": smsglobal_connection["id"],
                   "input": {"destinations": ["{{ trigger.origin }}"],
                             "message": "id {{ trigger.id }}"}}]}).json()
    drive(flow)  # primes the trigger: what exists is not a new item
    sms_in(sandbox, "61400000086", "Hello")
    tested = api.post(f"/v1/flows/{flow['id']}/test")
    assert tested.status_code == 200, tested.text
    drive(flow)
    real = next(r for r in runs(api, flow) if not r.get("test") and r["id"] != tested.json()["id"])
    test_id = tested.json()["trigger"]["id"]
    real_id = api.get(f"/v1/flows/{flow['id']}/runs/{real['id']}").json()["trigger"]["id"]
    assert isinstance(real_id, int)  # SMSGlobal's incoming message ids are numbers
    assert type(test_id) is type(real_id) and test_id == real_id
    assert tested.json()["item_id"] == real["item_id"] == str(real_id)
