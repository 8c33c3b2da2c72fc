"""GHL Opportunities: deals in pipelines, their status, followers and the pipelines themselves."""

from __future__ import annotations

from functools import partial

from engine.spec.model import (Choices, CursorPaginator, Dedupe, Items, Operation, Output, Signal,
                               Token, Trigger, Upstream)
from operations._fields import (CONTACT_SEARCH, LOCATION_ID_BODY, LOCATION_ID_QUERY, PIPELINE_CHOICES,
                               STAGE_CHOICES, USER_CHOICES, body, custom_fields, find_by_id, path,
                               query)
from operations._fields import required

V = "2021-07-28"
op = partial(Operation, app="ghl", category="opportunities")
READ, WRITE = ("opportunities.readonly",), ("opportunities.write",)
STATUSES = ("open", "won", "lost", "abandoned")

OPPORTUNITY_ID = path("id", "The opportunity's id, as returned by Create Opportunity or Search "
                      "Opportunities.", example="OPPexample0000000001")
FOLLOWERS = body("followers", "Ids of the users who follow the opportunity (see Search Users).",
                 type="array", items="string", required=True, example=["USRexample0000000001"])

OPPORTUNITY_SAMPLE = {
    "id": "OPPexample0000000001", "name": "Rosan Deo - implants", "monetaryValue": 4200,
    "pipelineId": "PIPexample0000000001", "pipelineStageId": "STGexample0000000001",
    "assignedTo": "USRexample0000000001", "status": "open", "source": "website form",
    "contactId": "ocQHyuzHvysMo5N5VsXc", "locationId": "ve9EPM428h8vShlRW1KT",
    "lastStatusChangeAt": "2026-02-20T15:04:05.000Z", "lastStageChangeAt": "2026-02-20T15:04:05.000Z",
    "createdAt": "2026-02-20T15:04:05.000Z", "updatedAt": "2026-02-20T15:04:05.000Z",
    "followers": [], "customFields": [],
    "contact": {"id": "ocQHyuzHvysMo5N5VsXc", "name": "Rosan Deo", "email": "rosan@example.com",
                "phone": "+14155550123", "tags": []},
}
PIPELINE_SAMPLE = {
    "id": "PIPexample0000000001", "name": "New patients", "locationId": "ve9EPM428h8vShlRW1KT",
    "showInFunnel": True, "showInPieChart": True,
    "stages": [{"id": "STGexample0000000001", "name": "Enquiry", "position": 0},
               {"id": "STGexample0000000002", "name": "Consult booked", "position": 1}],
}

OPPORTUNITY_FIELDS = (
    body("pipelineId", "Pipeline the opportunity is in (see List Pipelines).",
         example="PIPexample0000000001", choices_from=PIPELINE_CHOICES),
    body("name", "Name of the opportunity, e.g. the contact and the service.",
         example="Rosan Deo - implants"),
    body("pipelineStageId", "Stage within the pipeline (the stage ids are in List Pipelines). "
         "Left out on create, the first stage.", example="STGexample0000000001",
         choices_from=STAGE_CHOICES),
    body("status", "Status of the opportunity.", enum=STATUSES, example="open"),
    body("monetaryValue", "Value of the deal in the location's currency.", type="number",
         example=4200),
    body("assignedTo", "Id of the user who owns the opportunity (see Search Users).",
         example="USRexample0000000001", choices_from=USER_CHOICES),
    custom_fields("opportunity"),
)



CREATE = op(
    key="opportunities.create_opportunity", kind="action", title="Create Opportunity",
    description="Creates an opportunity (deal) for a contact in a pipeline.",
    upstream=Upstream(method="POST", path="/opportunities/", version=V, scopes=WRITE),
    inputs=(LOCATION_ID_BODY,
            body("contactId", "The contact the deal is with (see Search Contacts).",
                 required=True, example="ocQHyuzHvysMo5N5VsXc", found_by=CONTACT_SEARCH),
            *required(OPPORTUNITY_FIELDS, "pipelineId", "name", "status")),
    output=Output(path="opportunity"), sample={"opportunity": OPPORTUNITY_SAMPLE})

UPDATE = op(
    key="opportunities.update_opportunity", kind="action", title="Update Opportunity",
    description="Updates an opportunity: move it to another stage, change its value, owner or "
                "status. Fields left out keep their value.",
    upstream=Upstream(method="PUT", path="/opportunities/{id}", version=V, scopes=WRITE),
    inputs=(OPPORTUNITY_ID, *OPPORTUNITY_FIELDS),
    output=Output(path="opportunity"), sample={"opportunity": OPPORTUNITY_SAMPLE})

DELETE = op(
    key="opportunities.delete_opportunity", kind="action", title="Delete Opportunity",
    description="Deletes an opportunity. This cannot be undone.",
    upstream=Upstream(method="DELETE", path="/opportunities/{id}", version=V, scopes=WRITE),
    inputs=(OPPORTUNITY_ID,), sample={"succeded": True})

UPDATE_STATUS = op(
    key="opportunities.update_opportunity_status", kind="action",
    title="Update Opportunity Status",
    description="Marks an opportunity open, won, lost or abandoned (with a lost reason).",
    upstream=Upstream(method="PUT", path="/opportunities/{id}/status", version=V, scopes=WRITE),
    inputs=(OPPORTUNITY_ID,
            body("status", "The new status.", enum=STATUSES, required=True, example="won"),
            body("lostReasonId", "With status 'lost': id of the lost reason, from the "
                 "location's opportunity settings.", example="LRSexample0000000001")),
    sample={"succeded": True})

UPSERT = op(
    key="opportunities.upsert_opportunity", kind="action", title="Upsert Opportunity",
    description="Updates the opportunity with the given id, or the contact's open opportunity in "
                "the pipeline, or creates one. 'new' in the result tells which happened.",
    upstream=Upstream(method="POST", path="/opportunities/upsert", version=V, scopes=WRITE,
                      safe_to_retry=True),
    inputs=(LOCATION_ID_BODY,
            body("id", "Id of the opportunity to update; left out, GHL matches on contact and "
                 "pipeline.", example="OPPexample0000000001"),
            body("contactId", "The contact the deal is with; used to find an existing "
                 "opportunity and to create a new one.", example="ocQHyuzHvysMo5N5VsXc",
                 found_by=CONTACT_SEARCH),
            *required([f for f in OPPORTUNITY_FIELDS if f.name != "customFields"], "pipelineId"),
            body("lostReasonId", "With status 'lost': id of the lost reason.",
                 example="LRSexample0000000001"),
            body("followers", "Ids of users to add to or remove from the followers, by "
                 "followersActionType. GHL requires the field; an empty list changes nothing.",
                 type="array", items="string", default=[], example=["USRexample0000000001"]),
            body("followersActionType", "Whether 'followers' are added or removed.",
                 enum=("add", "remove"), default="add"),
            body("isRemoveAllFollowers", "true removes every follower first.", type="boolean",
                 default=False)),
    output=Output(path="opportunity"),
    sample={"new": True, "opportunity": OPPORTUNITY_SAMPLE})

ADD_FOLLOWERS = op(
    key="opportunities.add_followers", kind="action", title="Add Followers",
    description="Adds users as followers of an opportunity; they are told about its changes.",
    upstream=Upstream(method="POST", path="/opportunities/{id}/followers", version=V,
                      scopes=WRITE, safe_to_retry=True),
    inputs=(OPPORTUNITY_ID, FOLLOWERS),
    sample={"followers": ["USRexample0000000001"], "followersAdded": ["USRexample0000000001"]})

REMOVE_FOLLOWERS = op(
    key="opportunities.remove_followers", kind="action", title="Remove Followers",
    description="Removes users from the followers of an opportunity.",
    upstream=Upstream(method="DELETE", path="/opportunities/{id}/followers", version=V,
                      scopes=WRITE),
    inputs=(OPPORTUNITY_ID, FOLLOWERS,
            query("isRemoveAllFollowers", "true removes every follower.", type="boolean")),
    sample={"followers": [], "followersRemoved": ["USRexample0000000001"]})

# ----------------------------------------------------------------------------- triggers

SEARCH = op(
    key="opportunities.search_opportunities", kind="trigger", title="Search Opportunities",
    description="Fires for each opportunity added or changed (its stage, status, value or "
                "owner) that matches the query and filters, including one that comes to match. "
                "Reads POST /opportunities/search newest-updated first.",
    upstream=Upstream(method="POST", path="/opportunities/search", version=V, scopes=READ,
                      safe_to_retry=True),
    inputs=(LOCATION_ID_BODY,
            body("query", "Free text matched against the opportunity's and contact's name, email "
                 "and phone; empty matches all.", default="", example="implants"),
            body("filters", "Filters, e.g. [{\"field\": \"status\", \"operator\": \"eq\", "
                 "\"value\": \"open\"}]; fields include status, pipeline_id, "
                 "pipeline_stage_id, assigned_to, contact_id, monetary_value; operators eq, "
                 "not_eq, range.", type="array", items="object",
                 example=[{"field": "pipeline_id", "operator": "eq",
                           "value": "PIPexample0000000001"}]),
            body("sort", "Sort order, e.g. [{\"field\": \"updatedAt\", \"direction\": "
                 "\"desc\"}]; field createdAt or updatedAt. The trigger needs the default, "
                 "newest-updated first, to see every change.", type="array", items="object",
                 default=[{"field": "updatedAt", "direction": "desc"}]),
            body("page", "Page number; GHL requires the field. The engine pages by "
                 "searchAfter, from page 1.", type="integer", default=1),
            body("limit", "Opportunities per page, 1 to 500.", type="integer", example=100),
            body("searchAfter", "Cursor from the last opportunity of the previous page (its "
                 "sort values), instead of page numbers. GHL requires the field; empty on the "
                 "first page.", type="array", default=[]),
            body("additionalDetails", "Extra data to include on each opportunity, e.g. "
                 "{\"notes\": true, \"tasks\": false, \"calendarEvents\": false, "
                 "\"unReadConversations\": false}.", type="object",
                 default={"notes": False, "tasks": False, "calendarEvents": False,
                          "unReadConversations": False})),
    trigger=Trigger(events=Signal(types=("OpportunityCreate", "OpportunityUpdate",
                        "OpportunityStageUpdate", "OpportunityStatusUpdate",
                        "OpportunityMonetaryValueUpdate", "OpportunityAssignedToUpdate")),
                    items=Items(path="opportunities", timestamp_field="updatedAt"),
                    paginator=CursorPaginator(
                        tokens=(Token(param="searchAfter", path="sort", source="last_item"),),
                        size_param="limit", page_size=100, max_page_size=500),
                    dedupe=Dedupe(strategy="updated", updated_field="updatedAt",
                                  order="newest_first")),
    sample={**OPPORTUNITY_SAMPLE, "pipelineStageId": "STGexample0000000002",
            "lastStageChangeAt": "2026-02-24T09:30:12.000Z",
            "updatedAt": "2026-02-24T09:30:12.000Z"})

GET = op(
    key="opportunities.get_opportunity", kind="trigger", title="Get Opportunity",
    description="Watches one opportunity and fires when it changes: stage, status, value or "
                "owner (its updatedAt moves).",
    upstream=Upstream(method="GET", path="/opportunities/{id}", version=V, scopes=READ),
    inputs=(OPPORTUNITY_ID,),
    trigger=Trigger(events=Signal(types=("OpportunityUpdate", "OpportunityStageUpdate",
                        "OpportunityStatusUpdate", "OpportunityMonetaryValueUpdate",
                        "OpportunityAssignedToUpdate"), match={"id": "id"}),
                    items=Items(path="opportunity", timestamp_field="updatedAt", single=True),
                    dedupe=Dedupe(strategy="updated", updated_field="updatedAt")),
    sample=OPPORTUNITY_SAMPLE)

LIST_PIPELINES = op(
    key="opportunities.list_pipelines", kind="trigger", title="List Pipelines",
    description="Fires for each new pipeline in the location; each lists its stages with ids.",
    upstream=Upstream(method="GET", path="/opportunities/pipelines", version=V, scopes=READ),
    inputs=(LOCATION_ID_QUERY,),
    trigger=Trigger(items=Items(path="pipelines"), dedupe=Dedupe(strategy="new"),
                    choices=(Choices(name="pipelines", noun="Pipeline"),
                             Choices(name="stages", noun="Pipeline Stage", each="stages"))),
    sample=PIPELINE_SAMPLE)

FIND_BY_ID = find_by_id(
    GET, "opportunities.find_opportunity_by_id", "Find Opportunity by ID",
    "Returns one opportunity by its id: pipeline, stage, status, value and contact.")

SPECS = (SEARCH, GET, LIST_PIPELINES, CREATE, UPDATE, DELETE, UPDATE_STATUS, UPSERT,
         ADD_FOLLOWERS, REMOVE_FOLLOWERS, FIND_BY_ID)
