"""How the sandbox's areas say what they serve: each hand-written handler is marked with the
upstream endpoints it answers (``@answers`` in sandbox/answers.py, an attribute and nothing
more), an area gathers its module's marked handlers (``Area.of``), and sandbox/handlers.py
builds one table from the areas it lists, refusing a badly named endpoint, an unmarked handler
and two handlers for one endpoint. A mark also declares the checks GHL makes before the
handler answers, which the sandbox runs before calling it."""

from __future__ import annotations

import importlib
import types
from types import SimpleNamespace

import pytest

from sandbox import handlers, smsglobal
from sandbox.answers import Area, Checks, answers, checks, marked, marks, table


def _module(name: str, source: str) -> types.ModuleType:
    """A module ``name`` run from ``source``, as an area module is."""
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)  # noqa: S102
    return module


def test_a_mark_is_an_attribute_and_registers_nothing():
    before = dict(handlers.SPECIAL)

    def handler(ctx):
        return None

    assert answers("GET /contacts/{contactId}/notes")(handler) is handler
    assert marks(handler) == (("GET /contacts/{contactId}/notes", None),)
    assert handlers.SPECIAL == before
    assert handlers.special_handlers(handlers.AREAS) == before


def test_marks_stack_and_a_key_names_one_route():
    @answers("POST /things/{id}/tags", "DELETE /things/{id}/tags")
    @answers("POST /things", key="things.sandbox.create")
    def handler(ctx):
        return None

    assert marks(handler) == (("POST /things/{id}/tags", None), ("DELETE /things/{id}/tags", None),
                              ("POST /things", "things.sandbox.create"))
    assert Area("things", handlers=(handler,)).routes() == (
        ("things.sandbox.create", "POST", "/things"),)
    with pytest.raises(TypeError, match="names one endpoint"):
        answers("GET /a", "GET /b", key="k")


def test_an_area_gathers_the_handlers_its_module_writes_in_order():
    module = _module("sandbox_things", '''
from sandbox.answers import Area, answers
from sandbox.contacts import search  # a neighbour's handler: not this area's


@answers("GET /things/{id}")
def get_thing(ctx):
    return None


def helper(ctx):
    return None


@answers("POST /things", "PUT /things/{id}")
def save(ctx):
    return None


again = save
AREA = Area.of("things", vars(), aliases={"things/all": "things"})
''')
    area = module.AREA
    assert area.handlers == (module.get_thing, module.save)
    assert dict(area.aliases) == {"things/all": "things"}
    assert table(area.handlers) == {"GET /things/{id}": module.get_thing,
                                    "POST /things": module.save,
                                    "PUT /things/{id}": module.save}


def test_every_area_is_listed_once_and_its_handlers_are_in_the_table():
    names = [area.name for area in handlers.AREAS]
    assert len(names) == len(set(names))
    for area in handlers.AREAS[:-1]:  # the last, SMSGlobal's, only seeds (see below)
        assert area.handlers == marked(vars(importlib.import_module(f"sandbox.{area.name}")))
        for fn in area.handlers:
            for name, _key in marks(fn):
                assert handlers.SPECIAL[handlers.endpoint(*name.split(" ", 1))] is fn
    assert handlers.SPECIAL["POST /contacts/upsert"].__name__ == "upsert"
    assert handlers.UNSPECIFIED == (
        ("conversations.sandbox.create_conversation", "POST", "/conversations/"),
        ("conversations.sandbox.add_inbound_message", "POST", "/conversations/messages/inbound"))


def test_two_handlers_for_one_endpoint_stop_the_sandbox():
    @answers("POST /contacts/upsert")
    def upsert_again(ctx):
        return None

    # across two areas, the trailing slash aside
    other = Area("more", handlers=(answers("POST /contacts/upsert/")(lambda ctx: None),))
    with pytest.raises(ValueError, match="POST /contacts/upsert has two hand-written handlers: "
                                         r"sandbox\.contacts\.upsert and "):
        handlers.special_handlers((*handlers.AREAS, other))
    # within one area
    module = _module("sandbox_twice", '''
from sandbox.answers import Area, answers


@answers("GET /twice")
def first(ctx):
    return None


@answers("GET /twice/")
def second(ctx):
    return None


AREA = Area.of("twice", vars())
''')
    with pytest.raises(ValueError, match="GET /twice has two hand-written handlers: "
                                         "sandbox_twice.first and sandbox_twice.second"):
        handlers.special_handlers((module.AREA,))
    # one handler for two endpoints is fine, and so is one endpoint marked twice on it
    twice = answers("GET /x", "GET /x/")(upsert_again)
    assert handlers.special_handlers((Area("same", handlers=(twice,)),)) == {
        "POST /contacts/upsert": twice, "GET /x": twice}


@pytest.mark.parametrize("name", ["FETCH /contacts", "GET contacts", "get /contacts",
                                  "GET", "/contacts", "GET  /contacts"])
def test_a_badly_named_endpoint_stops_the_sandbox(name):
    @answers(name)
    def handler(ctx):
        return None

    with pytest.raises(ValueError, match=r"a handler names its endpoint as 'METHOD /path'"):
        handlers.special_handlers((*handlers.AREAS, Area("bad", handlers=(handler,))))


def test_an_unmarked_handler_stops_the_sandbox():
    def handler(ctx):
        return None

    with pytest.raises(ValueError, match="answers no endpoint: mark it"):
        handlers.special_handlers((Area("bare", handlers=(handler,)),))


def test_the_smsglobal_stand_in_is_marked_the_same_way():
    """Its handlers are marked with endpoint and route key; ``{name:int}`` matches digits only,
    as before (``/v2/sms/abc`` is no route)."""
    assert smsglobal.AREA.handlers == ()  # its handlers answer /v2, not GHL's endpoints
    assert smsglobal.HANDLERS == marked(vars(smsglobal))
    routes = {(method, key): regex for method, regex, key, _fn in smsglobal.ROUTES}
    assert len(routes) == len(smsglobal.ROUTES) == 16
    get_sms = routes[("GET", "smsglobal.sandbox.get_sms")]
    assert get_sms.match("/v2/sms/123").groupdict() == {"id": "123"}
    assert get_sms.match("/v2/sms/123/")
    assert not get_sms.match("/v2/sms/abc")
    validate = routes[("POST", "smsglobal.validate_otp")]
    assert validate.match("/v2/otp/requestid/r-1/validate").groupdict() == {"rid": "r-1"}
    assert routes[("GET", "smsglobal.new_incoming_sms")].match("/v2/sms-incoming")
    assert not routes[("GET", "smsglobal.new_incoming_sms")].match("/v2/smsXincoming")


# the checks each hand-written handler's mark declares: the spec's required fields, then the
# query params named, then (but for "required") the location the request names
CHECKED = {"checked": {
    "POST /contacts", "GET /contacts/search/duplicate", "POST /contacts/upsert", "GET /contacts",
    "GET /contacts/business/{businessId}", "GET /associations/key/{key_name}", "POST /associations",
    "POST /associations/relations", "DELETE /associations/relations/{relationId}",
    "GET /blogs/posts/url-slug-exists", "POST /blogs/posts", "POST /businesses",
    "GET /conversations/search", "POST /conversations/providers/live-chat/typing",
    "POST /contacts/bulk/business", "GET /users", "POST /calendars/groups",
    "POST /calendars/groups/validate-slug", "GET /calendars", "POST /calendars",
    "GET /calendars/events", "GET /calendars/blocked-slots", "POST /calendars/events/appointments",
    "POST /opportunities/search", "POST /opportunities"},
    "required": {
    "POST /locations", "POST /contacts/{contactId}/tags", "DELETE /contacts/{contactId}/tags",
    "PUT /contacts/{contactId}/tasks/{taskId}/completed", "GET /snapshots", "GET /users/search",
    "POST /users/search/filter-by-email", "POST /users", "PUT /opportunities/{id}/status",
    "POST /opportunities/{id}/followers", "DELETE /opportunities/{id}/followers"},
    ("skip", "limit"): {"GET /associations", "GET /associations/relations/{recordId}",
                        "GET /blogs/site/all"},
    ("limit", "offset"): {"GET /blogs/authors", "GET /blogs/categories", "GET /blogs/posts/all"},
}


def test_every_handler_declares_the_checks_ghl_makes_before_it():
    found: dict = {}
    for name, fn in handlers.SPECIAL.items():
        declared = checks(fn)
        if declared is not None:
            kind = "required" if not declared.location else declared.query or "checked"
            found.setdefault(kind, set()).add(name)
    assert found == CHECKED
    assert checks(handlers.SPECIAL["GET /blogs/site/all"]) == Checks(query=("skip", "limit"))
    assert checks(handlers.SPECIAL["POST /users"]) == Checks(location=False)


def _ctx(method: str, template: str, *, body=None, query=None, required=()):
    inputs = [SimpleNamespace(name=n, required=True, location="body") for n in required]
    return SimpleNamespace(route=SimpleNamespace(method=method, template=template),
                           op=SimpleNamespace(inputs=inputs), body=body or {},
                           query=query or {}, location_id="loc_1")


def test_the_declared_checks_answer_before_the_handler(monkeypatch):
    called = []

    @answers("POST /things", checked=True)
    def create(ctx):
        called.append(ctx)
        return "created"

    @answers("GET /things", required_query=("limit", "offset"))
    def listing(ctx):
        called.append(ctx)
        return "listed"

    @answers("PUT /things/{id}", required=True)
    def update(ctx):
        called.append(ctx)
        return "updated"

    monkeypatch.setattr(handlers, "SPECIAL", table((create, listing, update)))
    # required fields first (422), then the location a token may touch (403)
    bad = handlers.handle(_ctx("POST", "/things", body={"locationId": "other"}, required=("name",)))
    assert bad.status_code == 422 and b"name should not be empty" in bad.body
    bad = handlers.handle(_ctx("POST", "/things", body={"locationId": "other", "name": "x"},
                               required=("name",)))
    assert bad.status_code == 403
    assert called == []
    assert handlers.handle(_ctx("POST", "/things", body={"locationId": "loc_1", "name": "x"},
                                required=("name",))) == "created"
    # the query params GHL requires
    bad = handlers.handle(_ctx("GET", "/things", query={"limit": "x"}))
    assert bad.status_code == 422 and b"offset should not be empty" in bad.body
    assert handlers.handle(_ctx("GET", "/things", query={"limit": "1", "offset": "0"})) == "listed"
    # the required fields only: another location is the handler's own business
    assert handlers.handle(_ctx("PUT", "/things/{id}", required=("status",))).status_code == 422
    assert handlers.handle(_ctx("PUT", "/things/{id}", body={"status": "won", "locationId": "other"},
                                required=("status",))) == "updated"
    assert len(called) == 3


def test_stacked_marks_declare_the_same_checks():
    @answers("GET /a", checked=True)
    def handler(ctx):
        return None

    assert checks(answers("GET /b", checked=True)(handler)) == Checks()
    with pytest.raises(TypeError, match="stacked @answers marks declare different checks"):
        answers("GET /c")(handler)
    assert checks(answers("GET /d")(lambda ctx: None)) is None
