"""How the sandbox's areas say what they serve: each hand-written handler is marked with the
upstream endpoints it answers (``@answers`` in sandbox/answers.py, an attribute and nothing
more), an area gathers its module's marked handlers (``Area.of``), and sandbox/handlers.py
builds one table from the areas it lists, refusing a badly named endpoint, an unmarked handler
and two handlers for one endpoint."""

from __future__ import annotations

import importlib
import types

import pytest

from sandbox import handlers, smsglobal
from sandbox.answers import Area, answers, marked, marks, table


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
