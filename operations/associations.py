"""GHL associations (link types between objects, e.g. contact <-> custom object) and
relations (one link between two records)."""

from __future__ import annotations

from functools import partial

from engine.spec.model import Dedupe, Items, OffsetPaginator, Operation, Signal, Trigger, Upstream
from operations._fields import LOCATION_ID_BODY, LOCATION_ID_QUERY, body, find_by_id, path, query

V = "2021-07-28"
op = partial(Operation, app="ghl", category="other", group="associations")
READ = ("associations.readonly",)
WRITE = ("associations.write",)
RELATION_READ = ("associations/relation.readonly",)
RELATION_WRITE = ("associations/relation.write",)

ASSOCIATION_ID = path("associationId", "The association's id, as returned by Create "
                      "Association or Find Associations.", example="6745b2a8f1c2d3e4a5b6c7d8")
ASSOCIATION_SAMPLE = {
    "id": "6745b2a8f1c2d3e4a5b6c7d8", "locationId": "ve9EPM428h8vShlRW1KT",
    "key": "student_teacher", "firstObjectLabel": "student",
    "firstObjectKey": "custom_objects.students", "secondObjectLabel": "teacher",
    "secondObjectKey": "contact", "associationType": "USER_DEFINED",
}
RELATION_SAMPLE = {
    "id": "6745c0d1e2f3a4b5c6d7e8f9", "locationId": "ve9EPM428h8vShlRW1KT",
    "associationId": "6745b2a8f1c2d3e4a5b6c7d8", "firstRecordId": "6745aa11bb22cc33dd44ee55",
    "secondRecordId": "ocQHyuzHvysMo5N5VsXc",
}


def _paged(thing: str) -> tuple:
    """skip + limit: GHL requires both; the engine fills them while paging."""
    return (query("skip", f"How many {thing} to skip; filled in by the engine while paging.",
                  type="integer", default=0),
            query("limit", f"{thing.capitalize()} per page.", type="integer", default=100))


FIND_ASSOCIATIONS = op(
    key="other.find_associations", kind="trigger", title="Find Associations",
    description="Fires for each new association (link type between two kinds of object) of "
                "the location, system-defined or user-defined. Items are read from the "
                "response's 'associations' list.",
    upstream=Upstream(method="GET", path="/associations/", version=V, scopes=READ),
    inputs=(LOCATION_ID_QUERY, *_paged("associations")),
    trigger=Trigger(events=Signal(types=("AssociationCreate",)),
                    items=Items(path="associations"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new")),
    sample=ASSOCIATION_SAMPLE)

GET_ASSOCIATION = op(
    key="other.get_association", kind="trigger", title="Get Association",
    description="Watches one association and fires when it changes (e.g. its labels). GHL "
                "gives it no updated time, so a change is seen by content.",
    upstream=Upstream(method="GET", path="/associations/{associationId}", version=V, scopes=READ),
    inputs=(ASSOCIATION_ID,),
    trigger=Trigger(items=Items(path="$", single=True), dedupe=Dedupe(strategy="changed")),
    sample=ASSOCIATION_SAMPLE)

GET_ASSOCIATION_KEY = op(
    key="other.get_association_key", kind="trigger", title="Get Association Key",
    description="Watches the association with a given key (e.g. 'student_teacher') and fires "
                "when it appears or changes.",
    upstream=Upstream(method="GET", path="/associations/key/{key_name}", version=V, scopes=READ),
    inputs=(path("key_name", "The association's key, as given when it was created "
                 "(e.g. 'student_teacher').", example="student_teacher"),
            LOCATION_ID_QUERY),
    trigger=Trigger(items=Items(path="$", single=True), dedupe=Dedupe(strategy="changed")),
    sample=ASSOCIATION_SAMPLE)

GET_ASSOCIATION_BY_KEYS = op(
    key="other.get_association_by_keys", kind="trigger", title="Get Association by Keys",
    description="Watches the associations involving one object key (e.g. 'contact' or "
                "'custom_objects.students') and fires when one appears or changes.",
    upstream=Upstream(method="GET", path="/associations/objectKey/{objectKey}", version=V,
                      scopes=READ),
    inputs=(path("objectKey", "The object key: 'contact', 'opportunity', 'business' or a "
                 "custom object's key such as 'custom_objects.students'.",
                 example="custom_objects.students"),
            query("locationId", "GHL sub-account (location) id. Left empty, the connection's "
                  "location is used.", fill="location_id", example="ve9EPM428h8vShlRW1KT")),
    # the document describes one association; a list is read as one item per association
    trigger=Trigger(items=Items(path="$", single=True), dedupe=Dedupe(strategy="changed")),
    sample=ASSOCIATION_SAMPLE)

GET_RELATIONS = op(
    key="other.get_relations_by_record", kind="trigger", title="Get Relations by Record",
    description="Fires for each new relation of a record (a contact, opportunity or custom "
                "object record) to another record. Items are read from the response's "
                "'relations' list.",
    upstream=Upstream(method="GET", path="/associations/relations/{recordId}", version=V,
                      scopes=RELATION_READ),
    inputs=(path("recordId", "The record's id: a contact, opportunity or custom object record "
                 "id.", example="ocQHyuzHvysMo5N5VsXc"),
            LOCATION_ID_QUERY, *_paged("relations"),
            query("associationIds", "Only relations of these associations (ids from Find "
                  "Associations).", type="array", items="string",
                  example=["6745b2a8f1c2d3e4a5b6c7d8"])),
    trigger=Trigger(events=Signal(types=("RelationCreate",)),
                    items=Items(path="relations"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new")),
    sample=RELATION_SAMPLE)

OBJECT_LABEL = ("Label of the {which} side, as shown in GHL (e.g. '{example}').")

CREATE_ASSOCIATION = op(
    key="other.create_association", kind="action", title="Create Association",
    description="Creates a link type between two kinds of object, e.g. custom object "
                "'students' to contacts as 'student' / 'teacher'. Its key must be unique in "
                "the location.",
    upstream=Upstream(method="POST", path="/associations/", version=V, scopes=WRITE),
    inputs=(LOCATION_ID_BODY,
            body("key", "A unique key for the association, lower case with underscores "
                 "(e.g. 'student_teacher').", required=True, example="student_teacher"),
            body("firstObjectLabel", OBJECT_LABEL.format(which="first", example="student"),
                 required=True, example="student"),
            body("firstObjectKey", "Object key of the first side: 'contact', 'opportunity', "
                 "'business' or 'custom_objects.<name>'.", required=True,
                 example="custom_objects.students"),
            body("secondObjectLabel", OBJECT_LABEL.format(which="second", example="teacher"),
                 required=True, example="teacher"),
            body("secondObjectKey", "Object key of the second side, like firstObjectKey.",
                 required=True, example="contact")),
    sample=ASSOCIATION_SAMPLE)

UPDATE_ASSOCIATION = op(
    key="other.update_association", kind="action", title="Update Association",
    description="Renames the two labels of a user-defined association; its key and objects "
                "stay.",
    upstream=Upstream(method="PUT", path="/associations/{associationId}", version=V, scopes=WRITE),
    inputs=(ASSOCIATION_ID,
            body("firstObjectLabel", OBJECT_LABEL.format(which="first", example="pupil"),
                 required=True, example="pupil"),
            body("secondObjectLabel", OBJECT_LABEL.format(which="second", example="tutor"),
                 required=True, example="tutor")),
    sample=ASSOCIATION_SAMPLE | {"firstObjectLabel": "pupil", "secondObjectLabel": "tutor"})

DELETE_ASSOCIATION = op(
    key="other.delete_association", kind="action", title="Delete Association",
    description="Deletes a user-defined association and every relation made with it. This "
                "cannot be undone.",
    upstream=Upstream(method="DELETE", path="/associations/{associationId}", version=V,
                      scopes=WRITE),
    inputs=(ASSOCIATION_ID,),
    sample={"deleted": True, "id": "6745b2a8f1c2d3e4a5b6c7d8",
            "message": "Association deleted successfully"})

CREATE_RELATION = op(
    key="other.create_relation", kind="action", title="Create Relation",
    description="Links two records with an association, e.g. a student record to its teacher "
                "contact. The first record is of the association's first object.",
    upstream=Upstream(method="POST", path="/associations/relations", version=V,
                      scopes=RELATION_WRITE),
    inputs=(LOCATION_ID_BODY,
            body("associationId", "The association to link with (see Find Associations).",
                 required=True, example="6745b2a8f1c2d3e4a5b6c7d8"),
            body("firstRecordId", "Id of the record on the association's first side.",
                 required=True, example="6745aa11bb22cc33dd44ee55"),
            body("secondRecordId", "Id of the record on the association's second side.",
                 required=True, example="ocQHyuzHvysMo5N5VsXc")),
    sample=RELATION_SAMPLE)

DELETE_RELATION = op(
    key="other.delete_relation", kind="action", title="Delete Relation",
    description="Removes one link between two records; the records themselves stay.",
    upstream=Upstream(method="DELETE", path="/associations/relations/{relationId}", version=V,
                      scopes=RELATION_WRITE),
    inputs=(path("relationId", "The relation's id, as returned by Create Relation or Get "
                 "Relations by Record.", example="6745c0d1e2f3a4b5c6d7e8f9"),
            LOCATION_ID_QUERY),
    sample=RELATION_SAMPLE)

FIND_ASSOCIATION_BY_ID = find_by_id(
    GET_ASSOCIATION, "other.find_association_by_id", "Find Association by ID",
    "Returns one association (a kind of link between two objects) by its id.")

SPECS = (FIND_ASSOCIATIONS, GET_ASSOCIATION, GET_ASSOCIATION_KEY, GET_ASSOCIATION_BY_KEYS,
         GET_RELATIONS, CREATE_ASSOCIATION, UPDATE_ASSOCIATION, DELETE_ASSOCIATION,
         CREATE_RELATION, DELETE_RELATION, FIND_ASSOCIATION_BY_ID)
