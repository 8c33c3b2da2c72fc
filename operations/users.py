"""GHL Users: the staff accounts of an agency and its sub-accounts (locations)."""

from __future__ import annotations

from functools import partial

from engine.spec.model import (Choices, Dedupe, Items, OffsetPaginator, Operation, Signal, Trigger,
                               Upstream)
from operations._fields import LOCATION_ID_QUERY, USER_CHOICES, body, find_by_id, path, query
from operations._fields import required

V = "2021-07-28"
op = partial(Operation, app="ghl", category="users")
READ, WRITE = ("users.readonly",), ("users.write",)

USER_ID = path("userId", "The user's id, as returned by Create User or Search Users.",
               example="USRexample0000000001", choices_from=USER_CHOICES)
COMPANY_HELP = ("Agency (company) id, shown in the agency's settings. Left empty, the "
                "connection's company is used.")
COMPANY_ID_QUERY = query("companyId", COMPANY_HELP, required=True, fill="company_id",
                         example="CMPexample0000000001")
COMPANY_ID_BODY = body("companyId", COMPANY_HELP, required=True, fill="company_id",
                       example="CMPexample0000000001")

USER_SAMPLE = {
    "id": "USRexample0000000001", "name": "Jordan Example", "firstName": "Jordan",
    "lastName": "Example", "email": "jordan@example.com", "phone": "+14155550142",
    "extension": "", "roles": {"type": "account", "role": "user",
                               "locationIds": ["ve9EPM428h8vShlRW1KT"]},
    "permissions": {"contactsEnabled": True, "appointmentsEnabled": True},
    "scopes": "contacts.write", "deleted": False, "platformLanguage": "en_US",
}

USER_FIELDS = (
    body("firstName", "First name.", example="Jordan"),
    body("lastName", "Last name.", example="Example"),
    body("email", "Email address; the user signs in with it.", format="email",
         example="jordan@example.com"),
    body("password", "Initial password; the user can change it.", example="ChangeMe-2026!"),
    body("phone", "Phone number in E.164 form.", format="phone", example="+14155550142"),
    body("type", "'account' for a sub-account user, 'agency' for an agency user.",
         enum=("account", "agency"), example="account"),
    body("role", "'admin' or 'user'.", enum=("admin", "user"), example="user"),
    body("locationIds", "Sub-accounts (locations) the user can work in.", type="array",
         items="string", example=["ve9EPM428h8vShlRW1KT"]),
    body("permissions", "Feature switches, e.g. {\"contactsEnabled\": true, "
         "\"appointmentsEnabled\": true}.", type="object"),
    body("scopes", "Scopes the user gets, e.g. [\"contacts.write\"]; only these are enabled.",
         type="array", items="string"),
    body("scopesAssignedToOnly", "Scopes limited to the records assigned to the user.",
         type="array", items="string"),
    body("profilePhoto", "URL of a profile photo.", format="uri"),
    body("platformLanguage", "Language of the GHL interface for the user.",
         enum=("en_US", "es", "fr_CA", "fr_FR", "nl", "de", "pt_PT", "pt_BR", "it", "sv", "da",
               "fi", "no"), example="en_US"),
)



CREATE = op(
    key="users.create_user", kind="action", title="Create User",
    description="Creates a staff user with access to the given sub-accounts.",
    upstream=Upstream(method="POST", path="/users/", version=V, scopes=WRITE),
    inputs=(COMPANY_ID_BODY, *required(USER_FIELDS, "firstName", "lastName", "email", "password",
                                        "type", "role", "locationIds")),
    sample=USER_SAMPLE)

UPDATE = op(
    key="users.update_user", kind="action", title="Update User",
    description="Updates a user's name, phone, role, sub-accounts or permissions; fields left "
                "out keep their value. GHL no longer lets the email change.",
    upstream=Upstream(method="PUT", path="/users/{userId}", version=V, scopes=WRITE),
    inputs=(USER_ID, COMPANY_ID_BODY.model_copy(update={
        "required": False, "help": "Agency (company) id; needed with an agency token."}),
        *[f for f in USER_FIELDS if f.name != "email"]),
    sample=USER_SAMPLE)

DELETE = op(
    key="users.delete_user", kind="action", title="Delete User",
    description="Deletes a user. GHL queues the deletion; it takes effect within minutes.",
    upstream=Upstream(method="DELETE", path="/users/{userId}", version=V, scopes=WRITE),
    inputs=(USER_ID,),
    sample={"succeded": True, "message": "Queued deleting user with e-mail jordan@example.com"})

# ----------------------------------------------------------------------------- triggers

SEARCH = op(
    key="users.search_users", kind="trigger", title="Search Users",
    description="Fires for each new user of the agency matching the filters (e.g. one "
                "sub-account, a role or a search term).",
    upstream=Upstream(method="GET", path="/users/search", version=V, scopes=READ),
    inputs=(COMPANY_ID_QUERY,
            query("locationId", "Only users with access to this sub-account (location).",
                  example="ve9EPM428h8vShlRW1KT"),
            query("query", "Free text matched against full name, email and phone.",
                  example="jordan"),
            query("type", "Only 'agency' or 'account' users.", enum=("agency", "account")),
            query("role", "Only users with this role.", enum=("admin", "user")),
            query("ids", "Only these user ids, comma-separated.",
                  example="USRexample0000000001,USRexample0000000002"),
            query("sort", "Field to sort by, e.g. dateAdded; GHL's default is first and last "
                  "name.", example="dateAdded"),
            query("sortDirection", "Sort direction.", enum=("asc", "desc"), example="desc"),
            query("enabled2waySync", "Only users with (true) or without (false) calendar "
                  "two-way sync.", type="boolean"),
            query("skip", "Users to skip; the engine pages for you.", type="integer", example=0),
            query("limit", "Users per page; the engine pages for you.", type="integer",
                  example=25)),
    trigger=Trigger(events=Signal(types=("UserCreate",)),
                    items=Items(path="users"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new")),
    sample=USER_SAMPLE)

FILTER_BY_EMAIL = op(
    key="users.filter_users_by_email", kind="trigger", title="Filter Users by Email",
    description="Fires when a user with one of the given emails exists in the agency (agency "
                "token only). Returns full user objects unless projection says otherwise.",
    upstream=Upstream(method="POST", path="/users/search/filter-by-email", version=V,
                      scopes=READ, safe_to_retry=True),
    inputs=(COMPANY_ID_BODY,
            body("emails", "Emails to look for, comma-separated, e.g. "
                 "'jordan@example.com,sam@example.com'.", required=True,
                 example="jordan@example.com,sam@example.com"),
            body("deleted", "true to find deleted users instead.", type="boolean", example=False),
            body("projection", "Fields to return: 'all' or a comma-separated list. GHL returns "
                 "only id and email without it, so the engine asks for all.", default="all"),
            # strings in GHL's document (FilterByEmailDto), unlike every other skip and limit
            body("skip", "Users to skip, as a string of digits; the engine pages for you.",
                 example="0"),
            body("limit", "Users per page, as a string of digits; the engine pages for you.",
                 example="25")),
    trigger=Trigger(items=Items(path="users"),
                    paginator=OffsetPaginator(offset_param="skip", size_param="limit",
                                              page_size=100),
                    dedupe=Dedupe(strategy="new")),
    sample=USER_SAMPLE)

GET = op(
    key="users.get_user", kind="trigger", title="Get User",
    description="Watches one user and fires when their details, role or permissions change "
                "(users carry no updated time, so a change of content is what counts).",
    upstream=Upstream(method="GET", path="/users/{userId}", version=V, scopes=READ),
    inputs=(USER_ID,),
    trigger=Trigger(items=Items(path="$", single=True), dedupe=Dedupe(strategy="changed")),
    sample=USER_SAMPLE)

LIST_BY_LOCATION = op(
    key="users.list_users_by_location", kind="trigger", title="List Users by Location",
    description="Fires for each new user with access to the sub-account. GHL marks this "
                "endpoint deprecated; Search Users with a locationId is its replacement.",
    upstream=Upstream(method="GET", path="/users/", version=V, scopes=READ),
    inputs=(LOCATION_ID_QUERY,),
    trigger=Trigger(events=Signal(types=("UserCreate",)),
                    items=Items(path="users"), dedupe=Dedupe(strategy="new"),
                    choices=(Choices(name="users", noun="User", label=("name", "email")),)),
    sample=USER_SAMPLE)

FIND_BY_ID = find_by_id(
    GET, "users.find_user_by_id", "Find User by ID",
    "Returns one user by id, with their role, sub-accounts and permissions.")

SPECS = (SEARCH, FILTER_BY_EMAIL, GET, LIST_BY_LOCATION, CREATE, UPDATE, DELETE, FIND_BY_ID)
