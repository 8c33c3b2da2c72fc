"""GHL blogs: blog sites, posts, authors and categories."""

from __future__ import annotations

from functools import partial

from engine.spec.model import (Choices, Dedupe, Items, OffsetPaginator, Operation, Output, Trigger,
                               Upstream)
from operations._fields import BLOG_CHOICES, LOCATION_ID_BODY, LOCATION_ID_QUERY, body, path, query

V = "2021-07-28"
op = partial(Operation, app="ghl", category="other", group="blogs")

BLOG_ID = ("The blog's id, as returned by Get Blogs by Location (e.g. "
           "'lMOzIQZne5m6zQ528sT6').")
POST_SAMPLE = {
    "_id": "66c381b38be80858b9af62b6", "title": "Five tips for whiter teeth",
    "description": "Simple habits that keep your smile bright.",
    "imageUrl": "https://images.example.com/blog/teeth.jpg", "imageAltText": "A bright smile",
    "status": "PUBLISHED", "urlSlug": "five-tips-whiter-teeth", "categories": ["65f1a2b3c4d5e6f7a8b9c0d1"],
    "tags": ["dental"], "archived": False, "author": "6683abde331c041f32c07aea",
    "canonicalLink": "https://blog.example.com/post/five-tips-whiter-teeth",
    "publishedAt": "2026-02-05T18:30:47.000Z", "updatedAt": "2026-02-05T18:32:36.182Z",
}


def _offset(thing: str) -> tuple:
    """offset + limit: GHL requires both; the engine fills them while paging."""
    return (query("limit", f"{thing.capitalize()} per page.", type="integer", default=100),
            query("offset", f"How many {thing} to skip; filled in by the engine while paging.",
                  type="integer", default=0))


def _offset_paginator() -> OffsetPaginator:
    return OffsetPaginator(offset_param="offset", size_param="limit", page_size=100)


CHECK_SLUG = op(
    key="other.check_blog_url_slug", kind="trigger", title="Check Blog URL Slug",
    description="Watches whether a URL slug is taken in the location's blogs and fires when "
                "that flips (the item is {exists: true|false}).",
    upstream=Upstream(method="GET", path="/blogs/posts/url-slug-exists", version=V,
                      scopes=("blogs/check-slug.readonly",)),
    inputs=(query("urlSlug", "The slug to check, lower case with hyphens (e.g. "
                  "'five-tips-whiter-teeth').", required=True, example="five-tips-whiter-teeth"),
            LOCATION_ID_QUERY,
            query("postId", "When editing a post: its id, so its own slug does not count as "
                  "taken.", example="66c381b38be80858b9af62b6")),
    trigger=Trigger(items=Items(path="$", single=True), dedupe=Dedupe(strategy="changed")),
    sample={"exists": True})

GET_AUTHORS = op(
    key="other.get_blog_authors", kind="trigger", title="Get Blog Authors",
    description="Fires for each new blog author of the location. Use the _id as a post's "
                "author.",
    upstream=Upstream(method="GET", path="/blogs/authors", version=V,
                      scopes=("blogs/author.readonly",)),
    inputs=(LOCATION_ID_QUERY, *_offset("authors")),
    trigger=Trigger(items=Items(path="authors", id_field="_id", timestamp_field="updatedAt"),
                    paginator=_offset_paginator(), dedupe=Dedupe(strategy="new")),
    sample={"_id": "6683abde331c041f32c07aea", "name": "Dr. Rosan Deo",
            "locationId": "ve9EPM428h8vShlRW1KT", "updatedAt": "2026-01-03T11:06:35.822Z",
            "canonicalLink": "https://blog.example.com/author/rosan-deo"})

GET_CATEGORIES = op(
    key="other.get_blog_categories", kind="trigger", title="Get Blog Categories",
    description="Fires for each new blog category of the location. Use the _id in a post's "
                "categories.",
    upstream=Upstream(method="GET", path="/blogs/categories", version=V,
                      scopes=("blogs/category.readonly",)),
    inputs=(LOCATION_ID_QUERY, *_offset("categories")),
    trigger=Trigger(items=Items(path="categories", id_field="_id", timestamp_field="updatedAt"),
                    paginator=_offset_paginator(), dedupe=Dedupe(strategy="new")),
    sample={"_id": "65f1a2b3c4d5e6f7a8b9c0d1", "label": "Dental care",
            "locationId": "ve9EPM428h8vShlRW1KT", "urlSlug": "dental-care",
            "updatedAt": "2026-01-03T11:06:35.822Z",
            "canonicalLink": "https://blog.example.com/category/dental-care"})

GET_POSTS = op(
    key="other.get_blog_posts", kind="trigger", title="Get Blog Posts",
    description="Fires for each new post of a blog (drafts included unless status filters "
                "them), newest first.",
    upstream=Upstream(method="GET", path="/blogs/posts/all", version=V,
                      scopes=("blogs/posts.readonly",)),
    inputs=(LOCATION_ID_QUERY,
            query("blogId", BLOG_ID, required=True, example="lMOzIQZne5m6zQ528sT6",
                  choices_from=BLOG_CHOICES),
            *_offset("posts"),
            query("searchTerm", "Only posts whose title contains this text.", example="teeth"),
            query("status", "Only posts with this status.",
                  enum=("PUBLISHED", "SCHEDULED", "ARCHIVED", "DRAFT"), example="PUBLISHED")),
    trigger=Trigger(items=Items(path="blogs", id_field="_id", timestamp_field="updatedAt"),
                    paginator=_offset_paginator(), dedupe=Dedupe(strategy="new")),
    sample=POST_SAMPLE)

GET_BLOGS = op(
    key="other.get_blogs_by_location", kind="trigger", title="Get Blogs by Location",
    description="Fires for each new blog (blog site) of the location. Use the _id as blogId.",
    upstream=Upstream(method="GET", path="/blogs/site/all", version=V,
                      scopes=("blogs/list.readonly",)),
    inputs=(LOCATION_ID_QUERY,
            query("skip", "How many blogs to skip; filled in by the engine while paging.",
                  type="integer", default=0),
            query("limit", "Blogs per page.", type="integer", default=100),
            query("searchTerm", "Only blogs whose name contains this text.", example="news")),
    trigger=Trigger(items=Items(path="data", id_field="_id"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new"),
                    choices=(Choices(name="blogs", noun="Blog", value="_id", label=("name",)),)),
    sample={"_id": "lMOzIQZne5m6zQ528sT6", "name": "Example Dental news"})

POST_FIELDS = (
    body("title", "Title of the post.", required=True, example="Five tips for whiter teeth"),
    LOCATION_ID_BODY,
    body("blogId", BLOG_ID, required=True, example="lMOzIQZne5m6zQ528sT6", choices_from=BLOG_CHOICES),
    body("imageUrl", "URL of the cover image (e.g. from the GHL media library).", required=True,
         example="https://images.example.com/blog/teeth.jpg"),
    body("imageAltText", "Alt text of the cover image, for screen readers and SEO.",
         required=True, example="A bright smile"),
    body("description", "Short summary shown in listings and search results.", required=True,
         example="Simple habits that keep your smile bright."),
    body("rawHTML", "The post's content as HTML.", required=True,
         example="<h1>Five tips</h1><p>Brush twice a day...</p>"),
    body("status", "DRAFT, PUBLISHED, SCHEDULED (publishes at publishedAt) or ARCHIVED.",
         required=True, enum=("DRAFT", "PUBLISHED", "SCHEDULED", "ARCHIVED"), example="DRAFT"),
    body("categories", "Ids of the post's categories (see Get Blog Categories).", type="array",
         items="string", required=True, example=["65f1a2b3c4d5e6f7a8b9c0d1"]),
    body("tags", "Tags of the post, e.g. [\"dental\"].", type="array", items="string",
         example=["dental"]),
    body("author", "Id of the author (see Get Blog Authors).", required=True,
         example="6683abde331c041f32c07aea"),
    body("urlSlug", "The post's URL slug, unique in the blog; check it with Check Blog URL "
         "Slug.", required=True, example="five-tips-whiter-teeth"),
    body("canonicalLink", "Canonical URL, when the post first appeared elsewhere.",
         example="https://blog.example.com/post/five-tips-whiter-teeth"),
    body("publishedAt", "Publication time, ISO 8601 in UTC, e.g. 2026-02-05T18:30:47.000Z.",
         required=True, format="date-time", example="2026-02-05T18:30:47.000Z"),
)

CREATE_POST = op(
    key="other.create_blog_post", kind="action", title="Create Blog Post",
    description="Creates a blog post: a draft, published now, or scheduled for publishedAt.",
    upstream=Upstream(method="POST", path="/blogs/posts", version=V, scopes=("blogs/post.write",)),
    inputs=POST_FIELDS, output=Output(path="data", id_field="_id"), sample={"data": POST_SAMPLE})

UPDATE_POST = op(
    key="other.update_blog_post", kind="action", title="Update Blog Post",
    description="Replaces a blog post: GHL needs every field again, as for Create Blog Post.",
    upstream=Upstream(method="PUT", path="/blogs/posts/{postId}", version=V,
                      scopes=("blogs/post-update.write",)),
    inputs=(path("postId", "The post's id (its _id), as returned by Create Blog Post or Get "
                 "Blog Posts.", example="66c381b38be80858b9af62b6"), *POST_FIELDS),
    output=Output(path="updatedBlogPost", id_field="_id"), sample={"updatedBlogPost": POST_SAMPLE})

SPECS = (CHECK_SLUG, GET_AUTHORS, GET_CATEGORIES, GET_POSTS, GET_BLOGS, CREATE_POST, UPDATE_POST)
