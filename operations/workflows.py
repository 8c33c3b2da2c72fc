"""GHL Workflows & Campaigns: workflows, snapshots and campaigns, and the contact operations
that enrol contacts in workflows or change who follows them."""

from __future__ import annotations

from functools import partial

from engine.spec.model import Choices, Dedupe, Items, Operation, Trigger, Upstream
from operations._fields import (BUSINESS_CHOICES, CONTACT_ID, LOCATION_ID_BODY, LOCATION_ID_QUERY,
                               WORKFLOW_CHOICES, body, path, query)

V = "2021-07-28"
op = partial(Operation, app="ghl", category="workflows")
CONTACTS_WRITE = ("contacts.write",)

WORKFLOW_ID = path("workflowId", "The workflow's id, as returned by List Workflows (a UUID, "
                   "e.g. '78559bb3-b920-461e-b010-7b2a2816d2a9').",
                   example="78559bb3-b920-461e-b010-7b2a2816d2a9", choices_from=WORKFLOW_CHOICES)
EVENT_START_TIME = body(
    "eventStartTime", "For workflows that wait for an event date: the event's start, ISO 8601 "
    "with offset, e.g. 2026-06-23T03:30:00+01:00.", format="date-time",
    example="2026-06-23T03:30:00+01:00")
FOLLOWERS = body("followers", "Ids of the GHL users (see Search Users), e.g. "
                 "[\"y0BeYjuRIlDwsDcOHOJo\"].", type="array", items="string", required=True,
                 example=["y0BeYjuRIlDwsDcOHOJo"])

WORKFLOW_SAMPLE = {"id": "78559bb3-b920-461e-b010-7b2a2816d2a9", "name": "New lead nurture",
                   "status": "published", "version": 2, "createdAt": "2026-01-15T10:30:00.000Z",
                   "updatedAt": "2026-01-20T08:00:00.000Z", "locationId": "ve9EPM428h8vShlRW1KT"}

LIST_WORKFLOWS = op(
    key="workflows.list_workflows", kind="trigger", title="List Workflows",
    description="Fires for each new workflow in the location (draft or published). Use the id "
                "with Add Contact to Workflow.",
    upstream=Upstream(method="GET", path="/workflows/", version=V, scopes=("workflows.readonly",)),
    inputs=(LOCATION_ID_QUERY,),
    trigger=Trigger(items=Items(path="workflows", timestamp_field="createdAt"),
                    dedupe=Dedupe(strategy="new"),
                    choices=(Choices(name="workflows", noun="Workflow"),)),
    sample=WORKFLOW_SAMPLE)

LIST_SNAPSHOTS = op(
    key="workflows.list_snapshots", kind="trigger", title="List Snapshots",
    description="Fires for each new snapshot of the agency (its own, imported or from the "
                "marketplace). Needs an agency-level connection.",
    upstream=Upstream(method="GET", path="/snapshots/", version=V, scopes=("snapshots.readonly",)),
    inputs=(query("companyId", "The agency (company) id, shown in GHL under Agency Settings. "
                  "Left empty, the connection's company is used.", required=True,
                  fill="company_id", example="5DP4iH6HLkQsiKESj6rh"),),
    trigger=Trigger(items=Items(path="snapshots"), dedupe=Dedupe(strategy="new")),
    sample={"id": "1eM2UgkfaECOYyUdCo9Pa", "name": "Dental clinic starter", "type": "own"})

LIST_CAMPAIGNS = op(
    key="workflows.list_campaigns", kind="trigger", title="List Campaigns",
    description="Fires for each new campaign in the location. Use the id with Add Contact to "
                "Campaign.",
    upstream=Upstream(method="GET", path="/campaigns/", version=V, scopes=("campaigns.readonly",)),
    inputs=(LOCATION_ID_QUERY,
            query("status", "Only campaigns with this status: draft or published.",
                  enum=("draft", "published"), example="published")),
    trigger=Trigger(items=Items(path="campaigns"), dedupe=Dedupe(strategy="new"),
                    choices=(Choices(name="campaigns", noun="Campaign"),)),
    sample={"id": "mIVALPYuTD7YjUHnFEx4", "name": "Spring check-up reminders",
            "status": "published", "locationId": "ve9EPM428h8vShlRW1KT"})

ADD_TO_WORKFLOW = op(
    key="workflows.add_contact_to_workflow", kind="action", title="Add Contact to Workflow",
    description="Enrols a contact in a workflow, which then runs its steps for the contact.",
    upstream=Upstream(method="POST", path="/contacts/{contactId}/workflow/{workflowId}", version=V,
                      scopes=CONTACTS_WRITE),
    inputs=(CONTACT_ID, WORKFLOW_ID, EVENT_START_TIME), sample={"succeded": True})

REMOVE_FROM_WORKFLOW = op(
    key="workflows.remove_from_workflow", kind="action", title="Remove from Workflow",
    description="Takes a contact out of a workflow, stopping its remaining steps.",
    upstream=Upstream(method="DELETE", path="/contacts/{contactId}/workflow/{workflowId}",
                      version=V, scopes=CONTACTS_WRITE, json_body=True),  # the document's body
    inputs=(CONTACT_ID, WORKFLOW_ID, EVENT_START_TIME), sample={"succeded": True})

ADD_FOLLOWERS = op(
    key="workflows.add_contact_followers", kind="action", title="Add Contact Followers",
    description="Adds users as followers of a contact, so they are notified of its activity.",
    upstream=Upstream(method="POST", path="/contacts/{contactId}/followers", version=V,
                      scopes=CONTACTS_WRITE, safe_to_retry=True),
    inputs=(CONTACT_ID, FOLLOWERS),
    sample={"followers": ["y0BeYjuRIlDwsDcOHOJo"], "followersAdded": ["y0BeYjuRIlDwsDcOHOJo"]})

REMOVE_FOLLOWERS = op(
    key="workflows.remove_contact_followers", kind="action", title="Remove Contact Followers",
    description="Removes users from the followers of a contact; users not following are ignored.",
    upstream=Upstream(method="DELETE", path="/contacts/{contactId}/followers", version=V,
                      scopes=CONTACTS_WRITE),
    inputs=(CONTACT_ID, FOLLOWERS),
    sample={"followers": [], "followersRemoved": ["y0BeYjuRIlDwsDcOHOJo"]})

BULK_BUSINESS = op(
    key="workflows.bulk_business_update", kind="action", title="Bulk Business Update",
    description="Links many contacts (up to 50) to one business, replacing the business they "
                "were linked to.",
    upstream=Upstream(method="POST", path="/contacts/bulk/business", version=V,
                      scopes=CONTACTS_WRITE, safe_to_retry=True),
    inputs=(LOCATION_ID_BODY,
            body("ids", "Ids of the contacts to update (see Search Contacts), at most 50.",
                 type="array", items="string", required=True, example=["ocQHyuzHvysMo5N5VsXc"]),
            body("businessId", "The business to link them to (see List Businesses by Location).",
                 required=True, example="63771dcac1116f0e21de8e12",
                 choices_from=BUSINESS_CHOICES)),
    sample={"success": True, "ids": ["ocQHyuzHvysMo5N5VsXc"]})

SPECS = (LIST_WORKFLOWS, LIST_SNAPSHOTS, LIST_CAMPAIGNS, ADD_TO_WORKFLOW, REMOVE_FROM_WORKFLOW,
         ADD_FOLLOWERS, REMOVE_FOLLOWERS, BULK_BUSINESS)
