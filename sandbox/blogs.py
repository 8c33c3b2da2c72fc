"""Blog sites, posts, authors and categories. Blog objects carry ``_id`` (not ``id``); a post's
URL slug is unique in its location; create answers {data: post}, update {updatedBlogPost: post},
both with 200 as the official document says."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sandbox.answers import Area, answers, checked, error, ok, owned
from sandbox.lists import contains, in_location, newest, page
from sandbox.store import Store, new_id, now_iso

SITES = "blogs/site/all"
POSTS = "blogs/posts"
AUTHORS = "blogs/authors"
CATEGORIES = "blogs/categories"
STATUSES = ("DRAFT", "PUBLISHED", "SCHEDULED", "ARCHIVED")
POST_FIELDS = ("title", "locationId", "blogId", "imageUrl", "description", "rawHTML", "status",
               "imageAltText", "categories", "tags", "author", "urlSlug", "canonicalLink",
               "publishedAt")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def seed(store: Store, location_id: str, company_id: str) -> None:
    start = datetime.now(timezone.utc) - timedelta(days=30)
    blog = store.put(SITES, {"_id": new_id(), "name": "Sandbox Dental news",
                             "locationId": location_id}, id_field="_id")
    store.put(SITES, {"_id": new_id(), "name": "Sandbox recipes", "locationId": location_id},
              id_field="_id")
    authors = [store.put(AUTHORS, {"_id": new_id(), "name": name, "locationId": location_id,
                                   "updatedAt": _stamp(start + timedelta(hours=i)),
                                   "canonicalLink": f"https://blog.example.com/author/{slug}"},
                         id_field="_id")
               for i, (name, slug) in enumerate((("Dr. Ada Lovelace", "ada"),
                                                 ("Grace Hopper", "grace")))]
    categories = [store.put(CATEGORIES, {"_id": new_id(), "label": label, "urlSlug": slug,
                                         "locationId": location_id,
                                         "updatedAt": _stamp(start + timedelta(hours=i)),
                                         "canonicalLink": f"https://blog.example.com/category/{slug}"},
                            id_field="_id")
                  for i, (label, slug) in enumerate((("Dental care", "dental-care"),
                                                     ("Clinic news", "clinic-news")))]
    for i, (title, status) in enumerate((("Five tips for whiter teeth", "PUBLISHED"),
                                         ("Our new opening hours", "PUBLISHED"),
                                         ("Flossing myths", "DRAFT"))):
        slug = title.lower().replace(" ", "-")
        store.put(POSTS, {
            "_id": new_id(), "locationId": location_id, "blogId": blog["_id"], "title": title,
            "description": f"{title}, in short.", "imageUrl": "https://images.example.com/a.jpg",
            "imageAltText": "Illustration", "rawHTML": f"<h1>{title}</h1>", "status": status,
            "categories": [categories[i % 2]["_id"]], "tags": ["sandbox"],
            "author": authors[i % 2]["_id"], "urlSlug": slug, "archived": False,
            "canonicalLink": f"https://blog.example.com/post/{slug}",
            "publishedAt": _stamp(start + timedelta(days=i)),
            "updatedAt": _stamp(start + timedelta(days=i, minutes=5))}, id_field="_id")


def _slug_taken(ctx, slug: str, except_id: str | None = None) -> bool:
    return any(p["urlSlug"] == slug and p["_id"] != except_id
               for p in in_location(ctx, ctx.store.all(POSTS)))


@answers("GET /blogs/posts/url-slug-exists", checked=True)
def check_slug(ctx):
    return ok({"exists": _slug_taken(ctx, ctx.query["urlSlug"], ctx.query.get("postId"))})


def _listing(ctx, collection: str, field: str, *, order: str | None, search: str | None = None):
    items = in_location(ctx, ctx.store.all(collection))
    if search:
        items = contains(items, ctx.query.get("searchTerm"), search)
    if order:
        items = newest(items, order, "_id")
    return ok({field: page(ctx, items)})


@answers("GET /blogs/authors", required_query=("limit", "offset"))
def authors(ctx):
    return _listing(ctx, AUTHORS, "authors", order="updatedAt")


@answers("GET /blogs/categories", required_query=("limit", "offset"))
def categories(ctx):
    return _listing(ctx, CATEGORIES, "categories", order="updatedAt")


@answers("GET /blogs/site/all", required_query=("skip", "limit"))
def sites(ctx):
    return _listing(ctx, SITES, "data", order=None, search="name")


@answers("GET /blogs/posts/all", required_query=("limit", "offset"))
def posts(ctx):
    items = [p for p in in_location(ctx, ctx.store.all(POSTS)) if p["blogId"] == ctx.query["blogId"]]
    if ctx.query.get("status"):
        items = [p for p in items if p["status"] == ctx.query["status"]]
    items = contains(items, ctx.query.get("searchTerm"), "title")
    public = [{k: v for k, v in p.items() if k not in ("rawHTML", "locationId", "blogId")}
              for p in newest(items, "updatedAt", "_id")]
    return ok({"blogs": page(ctx, public)})


def _post_problems(ctx, except_id: str | None = None):
    """GHL's error for a post body it refuses (status, blog, a slug another post has), once the
    checks before most answers have passed, or None."""
    if ctx.body["status"] not in STATUSES:
        return error(422, [f"status must be one of the following values: {', '.join(STATUSES)}"])
    _, bad = owned(ctx, SITES, ctx.body["blogId"], "Blog not found")
    if bad:
        return bad
    if _slug_taken(ctx, ctx.body["urlSlug"], except_id):
        return error(400, f"URL slug {ctx.body['urlSlug']!r} already exists")
    return None


@answers("POST /blogs/posts", checked=True)
def create_post(ctx):
    bad = _post_problems(ctx)
    if bad:
        return bad
    post = {"_id": new_id(), **{k: ctx.body[k] for k in POST_FIELDS if k in ctx.body},
            "archived": ctx.body["status"] == "ARCHIVED", "updatedAt": now_iso()}
    ctx.store.put(POSTS, post, id_field="_id")
    return ok({"data": post})


@answers("PUT /blogs/posts/{postId}")
def update_post(ctx):
    post, bad = owned(ctx, POSTS, ctx.path["postId"], "Blog post not found", 404)
    bad = bad or checked(ctx) or _post_problems(ctx, post["_id"])
    if bad:
        return bad
    post.update({k: ctx.body[k] for k in POST_FIELDS if k in ctx.body})
    post.update(archived=ctx.body["status"] == "ARCHIVED", updatedAt=now_iso())
    return ok({"updatedBlogPost": post})


AREA = Area.of("blogs", vars(), seed=seed)
