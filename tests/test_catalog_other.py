"""The "other" category end to end (locations, custom fields, company, associations, blogs):
API → engine → sandbox over HTTP, and back."""

from __future__ import annotations

import pytest

from sandbox.ghl import DEFAULT_COMPANY
from tests.catalog_helpers import act, items, objects, read, run, sent

# ----------------------------------------------------------------------------- locations


@pytest.mark.covers("other.find_location_by_id")
def test_find_location_by_id(api, connection, sandbox):
    found = act(api, connection, "other.find_location_by_id", locationId=connection["location_id"])
    assert found["location"]["id"] == connection["location_id"]


@pytest.mark.covers("other.create_location", "other.list_locations")
def test_create_location_then_list_it(api, connection, sandbox):
    before = items(api, connection, "other.list_locations", companyId=DEFAULT_COMPANY)
    made = act(api, connection, "other.create_location", name="Sandbox Spa",
               companyId=DEFAULT_COMPANY, timezone="America/Chicago",
               prospectInfo={"firstName": "Ada", "lastName": "L", "email": "spa@example.com"})
    assert made["name"] == "Sandbox Spa" and made["companyId"] == DEFAULT_COMPANY
    after = items(api, connection, "other.list_locations", companyId=DEFAULT_COMPANY, limit=2)
    assert {i["id"] for i in after} == {i["id"] for i in before} | {made["id"]}
    pages = [(c["query"]["skip"], c["query"]["limit"])
             for c in sent(sandbox, "other.list_locations")[1:]]
    assert pages == [("0", "2"), ("2", "2")]  # 3 locations, 2 per page
    by_email = items(api, connection, "other.list_locations", email="spa@example.com")
    assert [i["id"] for i in by_email] == [made["id"]]

    missing = run(api, connection, "other.create_location", name="No agency")
    assert missing.status_code == 422 and "companyId" in missing.text


@pytest.mark.covers("other.list_custom_fields")
def test_list_custom_fields_by_model(api, connection, sandbox):
    where = {"locationId": connection["location_id"]}
    contact = items(api, connection, "other.list_custom_fields", **where)
    assert contact and {f["model"] for f in contact} == {"contact"}  # GHL's default model
    every = items(api, connection, "other.list_custom_fields", model="all", **where)
    assert {f["model"] for f in every} == {"contact", "opportunity"}
    assert all(f["fieldKey"].startswith(f["model"] + ".") for f in every)


@pytest.mark.covers("other.get_company")
def test_get_company_fires_on_change_only(api, connection, sandbox):
    first = items(api, connection, "other.get_company", companyId=DEFAULT_COMPANY)
    assert first[0]["object_id"] == DEFAULT_COMPANY and first[0]["name"] == "Sandbox Agency"
    again = items(api, connection, "other.get_company", companyId=DEFAULT_COMPANY)
    assert again[0]["id"] == first[0]["id"]  # no timestamps: the id is a content hash


# ----------------------------------------------------------------------------- associations


@pytest.mark.covers("other.create_association", "other.update_association",
                    "other.delete_association", "other.get_association",
                    "other.get_association_key", "other.get_association_by_keys",
                    "other.find_associations")
def test_association_lifecycle(api, connection, sandbox):
    made = act(api, connection, "other.create_association", key="pet_owner",
               firstObjectLabel="pet", firstObjectKey="custom_objects.pets",
               secondObjectLabel="owner", secondObjectKey="contact")
    assert made["associationType"] == "USER_DEFINED"
    assert made["locationId"] == connection["location_id"]

    listed = items(api, connection, "other.find_associations", limit=2)
    assert made["id"] in {i["id"] for i in listed} and len(listed) == 3
    assert all(c["query"]["skip"] and c["query"]["limit"]
               for c in sent(sandbox, "other.find_associations"))

    by_id = items(api, connection, "other.get_association", associationId=made["id"])
    by_key = items(api, connection, "other.get_association_key", key_name="pet_owner")
    by_object = items(api, connection, "other.get_association_by_keys",
                      objectKey="custom_objects.pets")
    assert by_id[0]["object_id"] == by_key[0]["object_id"] == by_object[0]["object_id"] == made["id"]

    updated = act(api, connection, "other.update_association", associationId=made["id"],
                  firstObjectLabel="animal", secondObjectLabel="keeper")
    assert (updated["firstObjectLabel"], updated["secondObjectLabel"]) == ("animal", "keeper")
    changed = items(api, connection, "other.get_association", associationId=made["id"])
    assert changed[0]["id"] != by_id[0]["id"]  # new labels: the trigger fires again

    duplicate = run(api, connection, "other.create_association", key="pet_owner",
                    firstObjectLabel="a", firstObjectKey="contact", secondObjectLabel="b",
                    secondObjectKey="contact")
    assert duplicate.status_code == 400 and "already exists" in duplicate.text

    deleted = act(api, connection, "other.delete_association", associationId=made["id"])
    assert deleted["deleted"] is True and deleted["id"] == made["id"]
    gone = read(api, connection, "other.get_association", associationId=made["id"])
    assert gone.status_code == 404


@pytest.mark.covers("other.create_relation", "other.get_relations_by_record",
                    "other.delete_relation")
def test_relation_lifecycle(api, connection, sandbox):
    association = next(a for a in objects(sandbox, "associations") if a["key"] == "student_teacher")
    contact = sorted(objects(sandbox, "contacts"), key=lambda c: c["id"])[1]
    made = act(api, connection, "other.create_relation", associationId=association["id"],
               firstRecordId="student-42", secondRecordId=contact["id"])
    assert made["associationId"] == association["id"]

    found = items(api, connection, "other.get_relations_by_record", recordId=contact["id"])
    assert [r["id"] for r in found] == [made["id"]]
    only = items(api, connection, "other.get_relations_by_record", recordId=contact["id"],
                 associationIds=["another-association"])
    assert only == []
    query = sent(sandbox, "other.get_relations_by_record")[0]["query"]
    assert query["locationId"] == connection["location_id"] and query["skip"] == "0"

    removed = act(api, connection, "other.delete_relation", relationId=made["id"])
    assert removed["id"] == made["id"]
    assert items(api, connection, "other.get_relations_by_record", recordId=contact["id"]) == []


# ----------------------------------------------------------------------------- blogs


def _post_inputs(blog_id: str, **over):
    base = {"title": "Brushing 101", "blogId": blog_id, "imageUrl": "https://img.example.com/b.jpg",
            "imageAltText": "A toothbrush", "description": "How to brush.",
            "rawHTML": "<p>Twice a day.</p>", "status": "DRAFT", "categories": [],
            "author": "author-1", "urlSlug": "brushing-101",
            "publishedAt": "2026-02-05T18:30:47.000Z"}
    return {**base, **over}


@pytest.mark.covers("other.get_blogs_by_location", "other.get_blog_authors",
                    "other.get_blog_categories")
def test_blog_sites_authors_and_categories(api, connection, sandbox):
    sites = items(api, connection, "other.get_blogs_by_location")
    assert len(sites) == 2 and all(s["id"] == s["_id"] for s in sites)  # GHL's _id is the id
    news = items(api, connection, "other.get_blogs_by_location", searchTerm="news")
    assert [s["name"] for s in news] == ["Sandbox Dental news"]
    authors = items(api, connection, "other.get_blog_authors", limit=1)
    assert len(authors) == 2 and authors[0]["updatedAt"] > authors[1]["updatedAt"]
    offsets = [c["query"]["offset"] for c in sent(sandbox, "other.get_blog_authors")]
    assert offsets == ["0", "1", "2"]
    categories = items(api, connection, "other.get_blog_categories")
    assert {c["urlSlug"] for c in categories} == {"dental-care", "clinic-news"}


@pytest.mark.covers("other.create_blog_post", "other.update_blog_post", "other.get_blog_posts",
                    "other.check_blog_url_slug")
def test_blog_post_lifecycle(api, connection, sandbox):
    blog = next(b for b in objects(sandbox, "blogs/site/all") if b["name"] == "Sandbox Dental news")
    free = items(api, connection, "other.check_blog_url_slug", urlSlug="brushing-101")
    assert free[0]["exists"] is False

    made = act(api, connection, "other.create_blog_post", **_post_inputs(blog["_id"]))["data"]
    assert made["status"] == "DRAFT" and made["urlSlug"] == "brushing-101"
    taken = items(api, connection, "other.check_blog_url_slug", urlSlug="brushing-101")
    assert taken[0]["exists"] is True and taken[0]["id"] != free[0]["id"]  # the flip fires
    assert items(api, connection, "other.check_blog_url_slug", urlSlug="brushing-101",
                 postId=made["_id"])[0]["exists"] is False  # its own slug is not a clash

    posts = items(api, connection, "other.get_blog_posts", blogId=blog["_id"])
    assert posts[0]["id"] == made["_id"] and len(posts) == 4
    drafts = items(api, connection, "other.get_blog_posts", blogId=blog["_id"], status="DRAFT")
    assert {p["status"] for p in drafts} == {"DRAFT"}

    updated = act(api, connection, "other.update_blog_post", postId=made["_id"],
                  **_post_inputs(blog["_id"], status="PUBLISHED", title="Brushing 102"))
    assert updated["updatedBlogPost"]["title"] == "Brushing 102"
    assert updated["updatedBlogPost"]["status"] == "PUBLISHED"

    clash = run(api, connection, "other.create_blog_post", **_post_inputs(blog["_id"]))
    assert clash.status_code == 400 and "already exists" in clash.text
    partial = run(api, connection, "other.update_blog_post", postId=made["_id"], title="Only this")
    assert partial.status_code == 422 and "rawHTML" in partial.text  # GHL needs the whole post
