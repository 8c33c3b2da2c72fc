"""Opportunities endpoints where GHL does more than store and return: the paged search with
query, filters and sort; create and upsert that check the pipeline and refuse a second open
deal for a contact in one pipeline; status changes and followers.

Collections: ``opportunities``, ``opportunities/pipelines``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sandbox.answers import Area, answers, bounded, error, location_mismatch, ok, owned
from sandbox.lists import search_order
from sandbox.store import Store, new_id, now_iso

STATUSES = ("open", "won", "lost", "abandoned")
# search filter field -> opportunity key
FILTER_FIELDS = {"status": "status", "pipeline_id": "pipelineId",
                 "pipeline_stage_id": "pipelineStageId", "assigned_to": "assignedTo",
                 "contact_id": "contactId", "monetary_value": "monetaryValue", "source": "source"}


def _mine(ctx) -> list[dict[str, Any]]:
    return [o for o in ctx.store.all("opportunities") if o.get("locationId") == ctx.location_id]


def _pipeline(ctx, pipeline_id: Any) -> dict[str, Any] | None:
    pipe = ctx.store.get("opportunities/pipelines", str(pipeline_id))
    return pipe if pipe is not None and pipe.get("locationId") == ctx.location_id else None


def _with_contact(ctx, opp: dict[str, Any]) -> dict[str, Any]:
    contact = ctx.store.get("contacts", opp.get("contactId") or "") or {}
    summary = {"id": contact.get("id"), "name": " ".join(
        filter(None, [contact.get("firstName"), contact.get("lastName")])) or None,
        "email": contact.get("email"), "phone": contact.get("phone"),
        "tags": contact.get("tags") or []} if contact else None
    return {**opp, "contact": summary}


def _stage_problem(pipe: dict[str, Any], stage_id: Any) -> str | None:
    if stage_id and stage_id not in {s["id"] for s in pipe.get("stages") or []}:
        return "Pipeline stage not found in this pipeline"
    return None


@answers("POST /opportunities/search", checked=True)
def search(ctx):
    body = ctx.body
    size, bad = bounded(ctx, "limit", 20, 500, body)
    if bad:
        return bad
    items = _mine(ctx)
    text = str(body.get("query") or "").lower()
    if text:
        items = [o for o in items if text in " ".join(str(v or "") for v in (
            o.get("name"), *(_with_contact(ctx, o)["contact"] or {}).values())).lower()]
    for flt in body.get("filters") or []:
        key = FILTER_FIELDS.get(flt.get("field"))
        if key is None:
            return error(422, [f"filters.field must be one of {', '.join(FILTER_FIELDS)}"])
        items = [o for o in items if _matches(o.get(key), flt.get("operator", "eq"), flt.get("value"))]
    field, reverse, bad = search_order(body, "createdAt", "updatedAt")
    if bad:
        return bad
    items.sort(key=lambda o: (str(o.get(field) or ""), o["id"]), reverse=reverse)
    total = len(items)
    after = body.get("searchAfter")
    if after:
        key = (str(after[0]), str(after[1]))
        items = [o for o in items if ((str(o.get(field) or ""), o["id"]) < key) == reverse
                 and (str(o.get(field) or ""), o["id"]) != key]
        page = items[:size]
    else:
        number = max(1, int(body.get("page") or 1))
        page = items[(number - 1) * size: number * size]
    out = [{**_with_contact(ctx, o), "sort": [o.get(field), o["id"]]} for o in page]
    return ok({"opportunities": out, "total": total, "aggregations": {}})


def _matches(actual: Any, op: str, value: Any) -> bool:
    if op == "eq":
        return any(str(actual) == str(v) for v in (value if isinstance(value, list) else [value]))
    if op == "not_eq":
        return all(str(actual) != str(v) for v in (value if isinstance(value, list) else [value]))
    if op == "range" and isinstance(value, dict):
        try:
            number = float(actual)
        except (TypeError, ValueError):
            return False
        return float(value.get("gte", float("-inf"))) <= number <= float(value.get("lte", float("inf")))
    return False


def _duplicate(ctx, contact_id: Any, pipeline_id: Any, skip: str | None = None):
    for opp in _mine(ctx):
        if (opp.get("contactId") == contact_id and opp.get("pipelineId") == pipeline_id
                and opp.get("status") == "open" and opp["id"] != skip):
            return opp
    return None


def _new(ctx, body: dict[str, Any], pipe: dict[str, Any]) -> dict[str, Any]:
    stamp = now_iso()
    opp = {"id": new_id(), "locationId": ctx.location_id, "monetaryValue": 0, "source": "",
           "assignedTo": None, "followers": [], "customFields": [], "lostReasonId": None,
           **{k: v for k, v in body.items() if k not in ("followers", "followersActionType",
                                                         "isRemoveAllFollowers")},
           "createdAt": stamp, "updatedAt": stamp, "lastStatusChangeAt": stamp,
           "lastStageChangeAt": stamp, "lastActionDate": stamp}
    opp.setdefault("status", "open")
    if not opp.get("pipelineStageId"):
        opp["pipelineStageId"] = pipe["stages"][0]["id"]
    return ctx.store.put("opportunities", opp)


@answers("POST /opportunities", checked=True)
def create_opportunity(ctx):
    pipe = _pipeline(ctx, ctx.body["pipelineId"])
    if pipe is None:
        return error(400, "Pipeline not found")
    problem = _stage_problem(pipe, ctx.body.get("pipelineStageId"))
    if problem:
        return error(400, problem)
    if ctx.store.get("contacts", ctx.body["contactId"]) is None:
        return error(400, "Contact not found")
    if ctx.body.get("status", "open") == "open" and _duplicate(ctx, ctx.body["contactId"],
                                                               ctx.body["pipelineId"]):
        return error(400, "Can not create duplicate opportunity for the contact.")
    return ok({"opportunity": _with_contact(ctx, _new(ctx, dict(ctx.body), pipe))}, 201)


def _apply(ctx, opp: dict[str, Any], changes: dict[str, Any]) -> Any:
    """Merge ``changes`` into ``opp`` as GHL does; an error response when they are invalid."""
    pipe = _pipeline(ctx, changes.get("pipelineId") or opp.get("pipelineId"))
    if pipe is None:
        return error(400, "Pipeline not found")
    problem = _stage_problem(pipe, changes.get("pipelineStageId"))
    if problem:
        return error(400, problem)
    if changes.get("status") not in (None, *STATUSES):
        return error(422, [f"status must be one of {', '.join(STATUSES)}"])
    stamp = now_iso()
    if changes.get("status") and changes["status"] != opp.get("status"):
        opp["lastStatusChangeAt"] = stamp
    if changes.get("pipelineStageId") and changes["pipelineStageId"] != opp.get("pipelineStageId"):
        opp["lastStageChangeAt"] = stamp
    opp.update({k: v for k, v in changes.items() if k not in (
        "id", "locationId", "followers", "followersActionType", "isRemoveAllFollowers")})
    opp["updatedAt"] = opp["lastActionDate"] = stamp
    return None


def _opportunity(ctx):
    """(the opportunity of the path, None) or (None, GHL's 400) when the location has none."""
    return owned(ctx, "opportunities", ctx.path["id"], "Opportunity not found")


@answers("PUT /opportunities/{id}")
def update_opportunity(ctx):
    opp, bad = _opportunity(ctx)
    bad = bad or _apply(ctx, opp, dict(ctx.body))
    return bad or ok({"opportunity": _with_contact(ctx, opp)})


@answers("PUT /opportunities/{id}/status", required=True)
def update_status(ctx):
    opp, bad = _opportunity(ctx)
    if bad:
        return bad
    changes = {"status": ctx.body["status"]}
    if ctx.body.get("lostReasonId"):
        changes["lostReasonId"] = ctx.body["lostReasonId"]
    bad = _apply(ctx, opp, changes)
    return bad or ok({"succeded": True})


def _followers(opp: dict[str, Any], ids: list[str], action: str, remove_all: bool) -> list[str]:
    current = [] if remove_all else list(opp.get("followers") or [])
    if action == "add":
        changed = [i for i in ids if i not in current]
        current += changed
    else:
        changed = [i for i in ids if i in current]
        current = [i for i in current if i not in ids]
    opp["followers"] = current
    return changed


@answers("POST /opportunities/upsert")
def upsert(ctx):
    body = dict(ctx.body)
    bad = location_mismatch(ctx, body.get("locationId"))
    if bad:
        return bad
    problems = [f"{n} should not be empty" for n in ("pipelineId", "locationId")
                if not body.get(n)]
    problems += [f"{n} must be provided" for n in ("followers", "isRemoveAllFollowers",
                                                    "followersActionType") if n not in body]
    if problems:
        return error(422, problems)
    opp = ctx.store.get("opportunities", str(body["id"])) if body.get("id") else None
    if body.get("id") and opp is None:
        return error(400, "Opportunity not found")
    if opp is None and body.get("contactId"):
        opp = _duplicate(ctx, body["contactId"], body["pipelineId"])
    followers = [str(f) for f in body.get("followers") or []]
    if opp is None:
        pipe = _pipeline(ctx, body["pipelineId"])
        if pipe is None:
            return error(400, "Pipeline not found")
        if not body.get("contactId") or ctx.store.get("contacts", body["contactId"]) is None:
            return error(400, "contactId of an existing contact is needed to create an opportunity")
        body.setdefault("name", "Untitled opportunity")
        opp = _new(ctx, body, pipe)
        _followers(opp, followers, body["followersActionType"], bool(body["isRemoveAllFollowers"]))
        return ok({"opportunity": _with_contact(ctx, opp), "new": True})
    bad = _apply(ctx, opp, body)
    if bad:
        return bad
    _followers(opp, followers, body["followersActionType"], bool(body["isRemoveAllFollowers"]))
    return ok({"opportunity": _with_contact(ctx, opp), "new": False})


@answers("POST /opportunities/{id}/followers", "DELETE /opportunities/{id}/followers",
         required=True)
def followers(ctx):
    opp, bad = _opportunity(ctx)
    if bad:
        return bad
    ids = [str(f) for f in ctx.body.get("followers") or []]
    if ctx.route.method == "POST":
        added = _followers(opp, ids, "add", False)
        return ok({"followers": opp["followers"], "followersAdded": added}, 201)
    if str(ctx.query.get("isRemoveAllFollowers", "false")).lower() == "true":
        removed, opp["followers"] = list(opp.get("followers") or []), []
    else:
        removed = _followers(opp, ids, "remove", False)
    return ok({"followers": opp["followers"], "followersRemoved": removed})


# ----------------------------------------------------------------------------- seed


def _seed(store: Store, location_id: str, company_id: str) -> None:
    pipelines = []
    for name, stages in (("New patients", ("Enquiry", "Consult booked", "Treatment plan", "Won")),
                         ("Referrals", ("Received", "Contacted", "Booked"))):
        pipelines.append(store.put("opportunities/pipelines", {
            "id": new_id(), "locationId": location_id, "name": name, "showInFunnel": True,
            "showInPieChart": True, "colorRenderMode": "dot",
            "stages": [{"id": new_id("stg"), "name": s, "position": i, "showInFunnel": True,
                        "showInPieChart": True} for i, s in enumerate(stages)]}))
    users = [u["id"] for u in store.all("users")]
    contacts = [c for c in store.all("contacts") if c.get("locationId") == location_id]
    base = datetime.now(timezone.utc) - timedelta(hours=1)
    for i, contact in enumerate(contacts):
        pipe = pipelines[i % 2]
        stamp = (base + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        store.put("opportunities", {
            "id": new_id(), "locationId": location_id, "contactId": contact["id"],
            "name": f"{contact['firstName']} {contact['lastName']} - {pipe['name'].lower()}",
            "pipelineId": pipe["id"], "pipelineStageId": pipe["stages"][i % 3]["id"],
            "status": ("open", "open", "won")[i % 3], "monetaryValue": 500 * (i + 1),
            "assignedTo": users[i % len(users)] if users else None, "source": "sandbox seed",
            "followers": [], "customFields": [], "lostReasonId": None,
            "createdAt": stamp, "updatedAt": stamp, "lastStatusChangeAt": stamp,
            "lastStageChangeAt": stamp, "lastActionDate": stamp})


AREA = Area.of("opportunities", vars(), seed=_seed)
