"""Users endpoints where GHL does more than store and return: search with filters and
skip/limit, lookup by emails with a projection, the per-location list, and create/update that
keep type, role and locations under ``roles`` and never echo the password.

Collection: ``users`` (with ``companyId``).
"""

from __future__ import annotations

from typing import Any

from sandbox.answers import DEFAULT_COMPANY, Area, answers, error, ok
from sandbox.lists import contains, skip_limit
from sandbox.store import Store, new_id, now_iso

HIDDEN = ("password", "companyId", "type", "role", "locationIds")
PERMISSIONS = {"contactsEnabled": True, "appointmentsEnabled": True, "opportunitiesEnabled": True,
               "conversationsEnabled": True, "campaignsEnabled": False, "settingsEnabled": False}


def _public(user: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in user.items() if k not in ("password", "_companyId")}


def _in_company(ctx, company_id: Any) -> list[dict[str, Any]]:
    return [u for u in ctx.store.all("users") if u.get("_companyId") == company_id
            and not u.get("deleted")]


@answers("GET /users/search", required=True)
def search(ctx):
    q = ctx.query
    items = _in_company(ctx, q["companyId"])
    if q.get("locationId"):
        items = [u for u in items if q["locationId"] in u["roles"].get("locationIds", [])]
    items = contains(items, q.get("query"), "name", "email", "phone")
    for name in ("type", "role"):
        if q.get(name):
            items = [u for u in items if u["roles"].get(name) == q[name]]
    if q.get("ids"):
        wanted = set(str(q["ids"]).split(","))
        items = [u for u in items if u["id"] in wanted]
    if "enabled2waySync" in q:
        want = str(q["enabled2waySync"]).lower() == "true"
        items = [u for u in items if bool(u.get("enabled2waySync")) == want]
    field = q.get("sort") or "name"
    items.sort(key=lambda u: (str(u.get(field) or ""), u["id"]),
               reverse=q.get("sortDirection") == "desc")
    return ok({"users": [_public(u) for u in skip_limit(ctx, items, 25)], "count": len(items)})


@answers("POST /users/search/filter-by-email", required=True)
def filter_by_email(ctx):
    body = ctx.body
    emails = {e.strip().lower() for e in str(body["emails"]).split(",") if e.strip()}
    deleted = bool(body.get("deleted"))
    items = [u for u in ctx.store.all("users") if u.get("_companyId") == body["companyId"]
             and (u.get("email") or "").lower() in emails and bool(u.get("deleted")) == deleted]
    items.sort(key=lambda u: u["id"])
    # FilterByEmailDto types skip and limit as strings of digits
    for name in ("skip", "limit"):
        if name in body and not (isinstance(body[name], str) and body[name].isdigit()):
            return error(422, [f"{name} must be a number string"])
    skip, limit = int(body.get("skip") or 0), int(body.get("limit") or 25)
    page = items[skip:skip + limit]
    projection = str(body.get("projection") or "")
    if projection == "all":
        out = [_public(u) for u in page]
    else:
        fields = {"id", "email", *filter(None, projection.split(","))}
        out = [{k: v for k, v in u.items() if k in fields} for u in page]
    return ok({"users": out, "count": len(items)})


@answers("GET /users", checked=True)
def by_location(ctx):
    items = [u for u in ctx.store.all("users") if not u.get("deleted")
             and ctx.query["locationId"] in u["roles"].get("locationIds", [])]
    return ok({"users": [_public(u) for u in items]})


def _roles(current: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    roles = dict(current)
    for name in ("type", "role", "locationIds"):
        if body.get(name) is not None:
            roles[name] = body[name]
    return roles


@answers("POST /users", required=True)
def create_user(ctx):
    body = ctx.body
    if any((u.get("email") or "").lower() == str(body["email"]).lower()
           for u in ctx.store.all("users") if not u.get("deleted")):
        return error(400, "User already exists with this email")
    user = {
        "id": new_id(), "name": f"{body['firstName']} {body['lastName']}", "extension": "",
        "permissions": PERMISSIONS, "scopes": [], "deleted": False, "dateAdded": now_iso(),
        **{k: v for k, v in body.items() if k not in HIDDEN},
        "roles": _roles({"restrictSubAccount": False}, body), "_companyId": body["companyId"],
    }
    ctx.store.put("users", user)
    return ok(_public(user), 201)


def _user(ctx) -> tuple[dict[str, Any] | None, Any]:
    """(the user of the path, None) or (None, GHL's 400) when there is none (or it is deleted)."""
    user = ctx.store.get("users", ctx.path["userId"])
    if user is None or user.get("deleted"):
        return None, error(400, "User not found")
    return user, None


@answers("PUT /users/{userId}")
def update_user(ctx):
    user, bad = _user(ctx)
    if bad:
        return bad
    body = ctx.body
    user.update({k: v for k, v in body.items() if k not in (*HIDDEN, "id", "email")})
    user["roles"] = _roles(user["roles"], body)
    user["name"] = f"{user.get('firstName', '')} {user.get('lastName', '')}".strip()
    return ok(_public(user))


@answers("GET /users/{userId}")
def get_user(ctx):
    user, bad = _user(ctx)
    return bad or ok(_public(user))


@answers("DELETE /users/{userId}")
def delete_user(ctx):
    user, bad = _user(ctx)
    if bad:
        return bad
    user["deleted"] = True
    return ok({"succeded": True, "message": f"Queued deleting user with e-mail {user['email']} "
                                            f"and name {user['name']}. Will take effect in a few "
                                            f"minutes."})


# ----------------------------------------------------------------------------- seed

PEOPLE = (("Morgan", "Admin", "agency", "admin"), ("Casey", "Frontdesk", "account", "user"),
          ("Riley", "Hygienist", "account", "user"), ("Jamie", "Manager", "account", "admin"))


def fake_user(i: int, location_id: str, company_id: str, **fields: Any) -> dict[str, Any]:
    first, last, kind, role = PEOPLE[i % len(PEOPLE)]
    last = last if i < len(PEOPLE) else f"{last}{i}"
    user = {
        "id": new_id(), "name": f"{first} {last}", "firstName": first, "lastName": last,
        "email": f"{first}.{last}@example.com".lower(), "phone": f"+1555010{i:04d}",
        "extension": "", "permissions": PERMISSIONS, "scopes": [], "deleted": False,
        "roles": {"type": kind, "role": role, "restrictSubAccount": False,
                  "locationIds": [] if kind == "agency" else [location_id]},
        "platformLanguage": "en_US", "dateAdded": now_iso(), "_companyId": company_id}
    user.update(fields)
    return user


def seed(store: Store, location_id: str, company_id: str) -> None:
    for i in range(len(PEOPLE)):
        store.put("users", fake_user(i, location_id, company_id))


def make(store: Store, i: int, location_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """One more user for POST /_sandbox/seed/users (of the sandbox's default company unless
    ``fields`` names one)."""
    return store.put("users", fake_user(
        len(store.all("users")), location_id, fields.get("companyId") or DEFAULT_COMPANY,
        **{k: v for k, v in fields.items() if k != "companyId"}))


AREA = Area.of("users", vars(), seed=seed, makers={"users": make})
