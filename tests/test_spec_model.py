"""The spec model refuses what cannot work, naming the spec and the field."""

from __future__ import annotations

import sys
import textwrap
import types

import pytest
from pydantic import ValidationError

from engine.spec.checks import check
from engine.spec.model import (ChoicesFrom, CursorPaginator, Dedupe, Input, Items, Operation, Token,
                               Trigger, Upstream)
from engine.spec.registry import SpecError, load, registry

UP = Upstream(method="GET", path="/things/{thingId}", version="2021-07-28")
THING = Input(name="thingId", location="path", required=True, help="The thing's id.")


def make_package(tmp_path, name, modules: dict[str, str]):
    pkg = tmp_path / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for mod, src in modules.items():
        (pkg / f"{mod}.py").write_text(textwrap.dedent(src))
    sys.path.insert(0, str(tmp_path))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(tmp_path))


SPEC = """
from engine.spec.model import Input, Operation, Upstream
SPECS = (Operation(key="things.get_thing", app="ghl", category="things", title="Get Thing",
                   description="Returns one thing.", kind="action",
                   upstream=Upstream(method="GET", path="/things/{{thingId}}", version={version!r}),
                   inputs=({inputs})),)
"""
GOOD_INPUT = 'Input(name="thingId", location="path", required=True, help="The thing id."),'


def test_duplicate_keys_are_refused_naming_both_modules(tmp_path):
    src = SPEC.format(version="2021-07-28", inputs=GOOD_INPUT)
    pkg = make_package(tmp_path, "dupspecs", {"a": src, "b": src})
    with pytest.raises(SpecError) as err:
        load(pkg)
    assert "things.get_thing: duplicate key (also in dupspecs.a)" in str(err.value)


def test_rule_breaks_are_all_listed(tmp_path):
    src = SPEC.format(version=None, inputs="")
    pkg = make_package(tmp_path, "badspecs", {"a": src})
    with pytest.raises(SpecError) as err:
        load(pkg)
    text = str(err.value)
    assert "things.get_thing: upstream.path: path parameter {thingId} has no input" in text
    assert "things.get_thing: upstream.version: every GHL operation needs its Version" in text


def test_a_malformed_spec_names_its_module(tmp_path):
    src = SPEC.format(version="2021-07-28",
                      inputs='Input(name="thingId", location="path", required=False, help="x y z w"),')
    pkg = make_package(tmp_path, "malformed", {"oops": src})
    with pytest.raises(SpecError) as err:
        load(pkg)
    assert "malformed.oops: malformed spec" in str(err.value)
    assert "path input 'thingId' must be required" in str(err.value)


@pytest.mark.parametrize("build, message", [
    (lambda: Operation(key="Things.get", app="ghl", category="things", title="t", description="does a thing",
                       kind="action", upstream=UP, inputs=(THING,)), "category.snake_name"),
    (lambda: Operation(key="things.watch", app="ghl", category="things", title="t", description="does a thing",
                       kind="trigger", upstream=UP, inputs=(THING,)), "needs a 'trigger' part"),
    (lambda: Dedupe(strategy="updated"), "needs updated_field"),
    (lambda: Input(name="n", location="query", type="string", items="string", help="help me"), "only for arrays"),
    (lambda: Input(name="n", location="query", enum=("a",), default="b", help="help me"), "not in enum"),
    (lambda: CursorPaginator(tokens=()), "at least 1"),
    (lambda: Upstream(method="FETCH", path="/x"), "method"),
])
def test_invalid_parts_are_refused(build, message):
    with pytest.raises(ValidationError) as err:
        build()
    assert message in str(err.value)


def test_valid_parts_build():
    trigger = Trigger(items=Items(path="contacts", timestamp_field="dateAdded"),
                      paginator=CursorPaginator(tokens=(Token(param="startAfterId", path="meta.startAfterId"),
                                                        Token(param="startAfter", path="meta.startAfter"))),
                      dedupe=Dedupe(strategy="new"))
    # read back from plain data, the "type" tag picks the paginator class
    again = Trigger.model_validate(trigger.model_dump())
    assert again == trigger and isinstance(again.paginator, CursorPaginator)


def test_the_real_catalog_loads_every_module():
    """Every module of operations/ declares SPECS, and every spec of it is in the registry (a
    module without SPECS would otherwise be skipped without a word)."""
    import importlib
    import pkgutil

    import operations

    specs = registry()
    assert "contacts.create_contact" in specs
    for info in pkgutil.iter_modules(operations.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"operations.{info.name}")
        declared = getattr(module, "SPECS", ())
        assert declared, f"operations.{info.name} declares no SPECS"
        assert all(specs.get(op.key) is op for op in declared), info.name


REFERENCES = """
from engine.spec.model import (Choices, ChoicesFrom, Dedupe, Input, Items, Operation, Trigger,
                               Upstream)

UP = dict(method="GET", version="2021-07-28")
OWNERS = Operation(key="things.list_owners", app="ghl", category="things", title="List Owners",
                   description="Lists owners.", kind="trigger",
                   upstream=Upstream(path="/owners", **UP),
                   trigger=Trigger(items=Items(path="owners"), dedupe=Dedupe(strategy="new"),
                                   choices=(Choices(name="owners", noun="Owner"),)),
                   sample={{"id": "o1"}})
PLAIN = Operation(key="things.list_plain", app="ghl", category="things", title="List Plain",
                  description="Lists plain things.", kind="trigger",
                  upstream=Upstream(path="/plain", **UP),
                  trigger=Trigger(items=Items(path="plain"), dedupe=Dedupe(strategy="new")),
                  sample={{"id": "p1"}})
MAKE = Operation(key="things.make_thing", app="ghl", category="things", title="Make Thing",
                 description="Makes a thing.", kind="action",
                 upstream=Upstream(method="POST", path="/things", version="2021-07-28"))
FIND = Operation(key="things.find_thing", app="ghl", category="things", title="Find Thing",
                 description="Finds a thing.", kind="action", search=True,
                 create_with={create_with!r}, upstream=Upstream(path="/things/search", **UP),
                 inputs=(Input(name="owner", location="query", help="The owner's id.",
                               choices_from=ChoicesFrom(trigger={trigger!r})),
                         Input(name="contact", location="query", help="The contact's id.",
                               found_by={found_by!r})))
SPECS = (OWNERS, PLAIN, MAKE, FIND)
"""


def _load_references(tmp_path, name, **refs):
    values = {"create_with": "things.make_thing", "trigger": "things.list_owners",
              "found_by": None, **refs}
    return load(make_package(tmp_path, name, {"a": REFERENCES.format(**values)}))


@pytest.mark.parametrize("refs, message", [
    ({"trigger": "things.list_nobody"},
     "things.find_thing: inputs.owner.choices_from: names 'things.list_nobody', which is not an "
     "operation of the catalog"),
    ({"trigger": "things.list_plain"},
     "things.find_thing: inputs.owner.choices_from: names 'things.list_plain', which declares no "
     "choices of its items (trigger.choices)"),
    ({"trigger": "things.make_thing"},
     "inputs.owner.choices_from: names 'things.make_thing', which is an action, not a list trigger"),
    ({"create_with": "things.list_owners"},
     "things.find_thing: create_with: 'things.list_owners' is not a create action of the catalog"),
    ({"create_with": "things.find_thing"},
     "things.find_thing: create_with: 'things.find_thing' is not a create action of the catalog"),
    ({"found_by": "things.make_thing"},
     "things.find_thing: inputs.contact.found_by: 'things.make_thing' is not a search of the catalog"),
])
def test_a_reference_that_cannot_serve_is_refused(tmp_path, refs, message):
    with pytest.raises(SpecError) as err:
        _load_references(tmp_path, f"refs_{tmp_path.name}", **refs)
    assert message in str(err.value)


def test_references_that_serve_load(tmp_path):
    specs = _load_references(tmp_path, "goodrefs")
    find = specs["things.find_thing"]
    assert find.create_with == "things.make_thing"
    assert find.input("owner").choices_from.trigger == "things.list_owners"


@pytest.mark.parametrize("build, message", [
    (lambda: Operation(key="things.make", app="ghl", category="things", title="t",
                       description="does a thing", kind="action", create_with="things.other",
                       upstream=Upstream(method="POST", path="/t", version="2021-07-28")),
     "create_with: only a search has a create"),
    (lambda: Operation(key="things.make", app="ghl", category="things", title="t",
                       description="does a thing", kind="action",
                       upstream=Upstream(method="POST", path="/t", version="2021-07-28"),
                       inputs=(Input(name="stageId", location="body", help="The stage.",
                                     choices_from=ChoicesFrom(trigger="things.list", each="stages",
                                                              parent="pipeId")),)),
     "inputs.stageId.choices_from.parent: parent 'pipeId' is not another input"),
    (lambda: Operation(key="things.make", app="ghl", category="things", title="t",
                       description="does a thing", kind="action",
                       upstream=Upstream(method="POST", path="/t", version="2021-07-28"),
                       inputs=(Input(name="size", location="body", type="integer", help="The size.",
                                     choices_from=ChoicesFrom(trigger="things.list")),)),
     "inputs.size.choices_from: choices are ids"),
])
def test_facts_that_do_not_fit_their_spec_are_refused(build, message):
    problems = [f"{field}: {msg}" for _, field, msg in check(build())]
    assert any(message in p for p in problems), problems


def test_the_noun_defaults_to_the_singular_of_the_group():
    def make(**kw):
        return Operation(key="opportunities.x", app="ghl", title="t", description="does a thing",
                         kind="action", upstream=Upstream(method="POST", path="/t", version="1"),
                         **{"category": "opportunities", **kw})
    assert make().noun == "Opportunity"
    assert make(group="businesses").noun == "Business"
    assert make(group="custom_fields").noun == "Custom Field"
    assert make(noun="Deal").noun == "Deal"


def test_a_choices_name_used_twice_is_refused():
    from engine.spec.checks import check_references
    from engine.spec.model import Choices

    def lister(key):
        return Operation(key=key, app="ghl", category="things", title="t", description="lists things",
                         kind="trigger", upstream=Upstream(method="GET", path="/t", version="1"),
                         trigger=Trigger(items=Items(), dedupe=Dedupe(strategy="new"),
                                         choices=(Choices(name="things", noun="Thing"),)),
                         sample={"id": "t1"})
    specs = {k: lister(k) for k in ("things.list_a", "things.list_b")}
    assert check_references(specs) == [
        ("things.list_b", "trigger.choices", "choices name 'things' is also used by things.list_a")]
