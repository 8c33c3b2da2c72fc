"""The spec model refuses what cannot work, naming the spec and the field."""

from __future__ import annotations

import textwrap

import pytest
from pydantic import ValidationError

from engine.spec.checks import check
from engine.spec.model import (ChoicesFrom, CursorPaginator, Dedupe, Input, Items, Operation, Token,
                               Trigger, Upstream)
from engine.spec.registry import SpecError, load, registry

UP = Upstream(method="GET", path="/things/{thingId}", version="2021-07-28")
THING = Input(name="thingId", location="path", required=True, help="The thing's id.")


THINGS = """
description: Things, for the test.
app: ghl
category: things
operations:
"""
THING_SPEC = THINGS + """
  - key: things.get_thing
    kind: action
    title: Get Thing
    description: Returns one thing.
    upstream:
      method: GET
      path: /things/{{thingId}}
      version: {version}
    inputs:
      - name: thingId
        location: path
        required: {required}
        help: The thing's id.
"""


def spec_folder(tmp_path, files: dict[str, str]):
    folder = tmp_path / "specs"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_duplicate_keys_are_refused_naming_both_files(tmp_path):
    src = THING_SPEC.format(version="'2021-07-28'", required="true")
    with pytest.raises(SpecError) as err:
        load(spec_folder(tmp_path, {"a.yaml": src, "b.yaml": src}))
    assert "b.yaml: things.get_thing: duplicate key (also in a.yaml)" in str(err.value)


def test_rule_breaks_are_all_listed(tmp_path):
    src = THING_SPEC.format(version="null", required="true").replace("    inputs:", "    x_inputs:")
    src = src[: src.index("    x_inputs:")]
    with pytest.raises(SpecError) as err:
        load(spec_folder(tmp_path, {"a.yaml": src}))
    text = str(err.value)
    assert "a.yaml: things.get_thing: upstream.path: path parameter {thingId} has no input" in text
    assert "a.yaml: things.get_thing: upstream.version: every GHL operation needs its Version" in text


def test_a_malformed_spec_names_its_file_key_and_field(tmp_path):
    """A hand-edited mistake is reported with the file, the operation's key, the field (an input
    by its name) and what is wrong, for every mistake of every file at once."""
    bad_input = THING_SPEC.format(version="'2021-07-28'", required="false")
    bad_kind = THING_SPEC.format(version="'2021-07-28'", required="true").replace(
        "kind: action", "kind: sometimes")
    with pytest.raises(SpecError) as err:
        load(spec_folder(tmp_path, {"oops.yaml": bad_input, "other.yaml": bad_kind}))
    text = str(err.value)
    assert "oops.yaml: things.get_thing: inputs.thingId: Value error, path input 'thingId' must be required" in text
    assert "other.yaml: things.get_thing: kind: Input should be 'trigger' or 'action'" in text


@pytest.mark.parametrize("text, message", [
    ("operations:\n  - key: a.b\n    title: [unclosed\n", "bad.yaml: while parsing"),
    ("description: x\noperations: []\n", "bad.yaml: 'operations' must be a non-empty list"),
    ("description: x\nspecs:\n  - key: a.b\n", "bad.yaml: unknown top-level key(s) 'specs'"),
    ("operations:\n  - title: No key\n", "bad.yaml: operation 1: an operation is a mapping with a 'key'"),
    ("operations:\n  - key: a.b\n    title: One\n    title: Two\n", "key 'title' is written twice"),
])
def test_a_malformed_file_is_refused_naming_it(tmp_path, text, message):
    with pytest.raises(SpecError) as err:
        load(spec_folder(tmp_path, {"bad.yaml": text}))
    assert message in str(err.value)
    if "twice" in message:
        assert "line 4" in str(err.value)


TWIN_FILE = THINGS + """
  - key: things.watch_thing
    kind: trigger
    title: Watch Thing
    description: Fires when the thing changes.
    upstream: {method: GET, path: '/things/{thingId}', version: '2021-07-28'}
    inputs:
      - {name: thingId, location: path, required: true, help: The thing's id.}
    trigger:
      items: {path: thing, single: true, timestamp_field: updatedAt}
      dedupe: {strategy: updated, updated_field: updatedAt}
    sample: {id: t1, country: NO, updatedAt: 2026-01-15T10:30:00Z, opens: 10:30, on: yes, size: 3,
             mobile: 0412345678, ratio: 0.5}
  - key: things.find_thing_by_id
    find_by_id: %s
    title: Find Thing by ID
    description: Returns one thing by its id.
"""


def test_a_find_by_id_entry_is_the_twin_of_its_trigger(tmp_path):
    specs = load(spec_folder(tmp_path, {"things.yaml": TWIN_FILE % "things.watch_thing"}))
    watch, find = specs["things.watch_thing"], specs["things.find_thing_by_id"]
    assert find.kind == "action" and find.search and find.title == "Find Thing by ID"
    assert find.upstream == watch.upstream and find.inputs == watch.inputs
    assert find.output.path == "thing" and find.sample == {"thing": watch.sample}
    # the JSON a sample describes, not YAML 1.1's guesses: a country code, a time stamp and a
    # clock time and a number with a leading zero stay text; only true and false are booleans
    assert watch.sample == {"id": "t1", "country": "NO", "updatedAt": "2026-01-15T10:30:00Z",
                            "opens": "10:30", "on": "yes", "size": 3, "mobile": "0412345678",
                            "ratio": 0.5}


def test_a_find_by_id_entry_must_name_a_single_object_trigger(tmp_path):
    with pytest.raises(SpecError) as err:
        load(spec_folder(tmp_path, {"things.yaml": TWIN_FILE % "things.watch_things"}))
    assert ("things.yaml: things.find_thing_by_id: find_by_id: 'things.watch_things' is not a "
            "trigger of this file") in str(err.value)


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


def test_the_real_catalog_loads_every_file():
    """Every spec file of operations/ is in the registry, each of its specs as read (a file the
    registry did not read would otherwise be left out without a word)."""
    from engine.spec.files import read
    from engine.spec.registry import folder

    specs = registry()
    assert "contacts.create_contact" in specs
    files = [p for p in folder().glob("*.yaml") if not p.name.startswith("_")]
    assert len(files) >= 10
    for path in files:
        declared = read(path)
        assert declared, f"{path.name} declares no operations"
        assert all(specs.get(op.key) is op for op in declared), path.name


def test_shared_help_is_the_help_the_specs_give():
    """The generated catalog takes help for common input names from _shared_help.yaml; each
    text there is the one a hand-written spec gives an input of that name, so the two stay in
    step when one is edited."""
    from engine.spec.files import parse
    from engine.spec.registry import curated, folder

    shared = parse((folder() / "_shared_help.yaml").read_text())["help"]
    given = {(field.name, field.help) for op in curated().values() for field in op.inputs}
    assert shared and [name for name, text in shared.items() if (name, text) not in given] == []


LISTER = """
  - key: things.list_{name}
    kind: trigger
    title: List {name}
    description: Lists {name}.
    upstream: {{{{method: GET, path: /{name}, version: '2021-07-28'}}}}
    trigger:
      items: {{{{path: {name}}}}}
      dedupe: {{{{strategy: new}}}}
      choices: {choices}
    sample: {{{{id: x1}}}}"""

# a list trigger that offers its items as choices, one that does not, a create and a search
REFERENCES = THINGS + LISTER.format(name="owners", choices="[{{name: owners, noun: Owner}}]") \
    + LISTER.format(name="plain", choices="[]") + """
  - key: things.make_thing
    kind: action
    title: Make Thing
    description: Makes a thing.
    upstream: {{method: POST, path: /things, version: '2021-07-28'}}
  - key: things.find_thing
    kind: action
    search: true
    title: Find Thing
    description: Finds a thing.
    create_with: {create_with}
    upstream: {{method: GET, path: /things/search, version: '2021-07-28'}}
    inputs:
      - {{name: owner, location: query, help: The owner's id., choices_from: {{trigger: {trigger}}}}}
      - {{name: contact, location: query, help: The contact's id., found_by: {found_by}}}
"""


def _load_references(tmp_path, name, **refs):
    values = {"create_with": "things.make_thing", "trigger": "things.list_owners",
              "found_by": "null", **refs}
    return load(spec_folder(tmp_path, {f"{name}.yaml": REFERENCES.format(**values)}))


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
