"""The Zapier app's generated definitions match the operations catalog, and the mapping keeps
what a Zap's user depends on (keys, required fields, dropdowns, searches)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine.export import zapier
from engine.spec.model import (Choices, ChoicesFrom, Dedupe, Input, Items, Operation, Trigger,
                               Upstream)
from engine.spec.registry import registry

ROOT = Path(__file__).resolve().parent.parent


def test_generated_definitions_are_up_to_date():
    # the command's own check, in a fresh process: the catalog as it is loaded at start
    done = subprocess.run([sys.executable, "-m", "engine.cli.main", "zapier", "generate", "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (
        f"{zapier.OUTPUT} in integrations/zapier is stale: the operations catalog changed. "
        f"Run `{zapier.COMMAND}` (or `python -m engine.cli.main zapier generate`) and commit the "
        f"result.\n{done.stdout}{done.stderr}")


def test_every_operation_is_mapped_once_with_a_valid_zapier_key():
    built = zapier.build(registry())
    ops = registry()
    triggers = {e["operation"] for e in built["triggers"]}
    creates = {e["operation"] for e in built["creates"]}
    searches = {e["operation"] for e in built["searches"]}
    assert triggers == {k for k, op in ops.items() if op.kind == "trigger"}
    assert creates | {k for k in searches if ops[k].kind == "action"} == {
        k for k, op in ops.items() if op.kind == "action"}
    assert not creates & searches
    assert searches == {k for k, op in ops.items() if op.search}
    for entry in built["triggers"] + built["creates"] + built["searches"]:
        assert zapier.ZAPIER_KEY_RE.match(entry["key"])
        assert entry["key"] == entry["operation"].replace(".", "__")
        assert 2 <= len(entry["display"]["label"]) <= zapier.LABEL_MAX


def test_fields_follow_the_input_schema():
    built = zapier.build(registry())
    create = {e["operation"]: e for e in built["creates"]}["contacts.create_contact_task"]
    fields = {f["key"]: f for f in create["inputFields"]}
    assert list(fields)[0] == "connection_id" and fields["connection_id"]["required"]
    assert fields["contactId"]["required"] and fields["title"]["required"]
    assert fields["completed"]["type"] == "boolean" and create["coerce"]["completed"] == "boolean"
    assert fields["dueDate"]["type"] == "datetime"
    assert fields["assignedTo"]["dynamic"] == "dropdown_users.id.name"
    assert fields["title"]["helpText"]
    # a trigger's paging params are the engine's business, not the user's
    hook = {e["operation"]: e for e in built["triggers"]}["contacts.search_contacts"]
    names = {f["key"] for f in hook["inputFields"]}
    assert not names & {"page", "pageLimit"} and "poll_interval_minutes" in names


def test_dropdowns_only_point_at_triggers_in_the_catalog():
    ops = registry()
    built = zapier.build(ops)
    keys = {d["key"] for d in built["dropdowns"].values()}
    for drop in built["dropdowns"].values():
        assert ops[drop["trigger"]].kind == "trigger"
    for entry in built["triggers"] + built["creates"] + built["searches"]:
        for field in entry["inputFields"][1:]:
            if "dynamic" in field:
                assert field["dynamic"].split(".")[0] in keys, (entry["key"], field["key"])


def test_generate_writes_what_check_reads(tmp_path):
    out = zapier.generate(tmp_path)
    assert not zapier.stale(tmp_path)
    data = json.loads(out.read_text())
    data["creates"].pop()
    out.write_text(json.dumps(data))
    assert zapier.stale(tmp_path)


def test_choices_keep_the_order_the_spec_gives():
    ops = registry()
    built = zapier.build(ops)
    entries = {e["operation"]: e for e in built["triggers"] + built["creates"] + built["searches"]}
    for key in ("users.create_user", "users.search_users"):
        field = next(f for f in entries[key]["inputFields"] if f["key"] == "type")
        assert [c["value"] for c in field["choices"]] == list(ops[key].input("type").enum)


def test_the_command_writes_into_an_app_directory(tmp_path):
    cmd = [sys.executable, "-m", "engine.cli.main", "zapier", "generate", "--app-dir", str(tmp_path)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / zapier.OUTPUT).read_text())
    assert {e["operation"] for e in written["creates"]} >= {"contacts.create_contact"}
    check = subprocess.run(cmd + ["--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0 and "up to date" in check.stdout


# ----------------------------------------------------------------------------- facts from specs

V = "2021-07-28"
ASSIGNEE = "assignee"


def body(name: str, help: str, **kw) -> Input:
    return Input(name=name, location="body", help=help, **kw)


def query(name: str, help: str, **kw) -> Input:
    return Input(name=name, location="query", help=help, **kw)


def _gadget_op(key: str, kind: str = "action", *inputs: Input, **kw) -> Operation:
    method = "GET" if kind == "trigger" or kw.get("search") else "POST"
    return Operation(key=f"gadgets.{key}", app="ghl", category="gadgets",
                     title=key.replace("_", " ").title(), description=f"{key} for the test.",
                     kind=kind, upstream=Upstream(method=method, path=f"/gadgets/{key}", version=V),
                     inputs=inputs, **kw)


def _gadgets() -> dict[str, Operation]:
    """A catalog of its own: a list trigger of owners offered as choices, with a list of their
    teams in each item; actions that take an owner with and without choices_from; a search
    with its create."""
    owners = _gadget_op(
        "list_owners", "trigger", query("region", "Only owners of this region, for the test."),
        trigger=Trigger(items=Items(path="owners"), dedupe=Dedupe(strategy="new"),
                        choices=(Choices(name="gadget_owners", noun="Gadget Owner",
                                         label=("fullName",), value="ownerId",
                                         params={"region": "eu"}),
                                 Choices(name="gadget_teams", noun="Owner Team", each="teams"))),
        sample={"ownerId": "own_1", "fullName": "Ada", "teams": [{"id": "t1", "name": "Red"}]})
    chosen = _gadget_op(
        "create_gadget", "action",
        body(ASSIGNEE, "Owner of the gadget, for the test.",
             choices_from=ChoicesFrom(trigger=owners.key)),
        body("team", "Team of that owner, for the test.",
             choices_from=ChoicesFrom(trigger=owners.key, each="teams", parent=ASSIGNEE)),
        body("helpers", "Owners who help, for the test.", type="array", items="string",
             choices_from=ChoicesFrom(trigger=owners.key)))
    plain = _gadget_op(
        "create_widget_plain", "action",
        body("userId", "A user id with no choices declared, for the test."),
        body("contactId", "A contact id with no search declared, for the test."))
    find = _gadget_op("find_gadget", "action", query("name", "Name to look for, for the test."),
                      search=True, create_with=chosen.key)
    return {op.key: op for op in (owners, chosen, plain, find)}


def _entries(built: dict) -> dict[str, dict]:
    return {e["operation"]: e for e in built["triggers"] + built["creates"] + built["searches"]}


def _fields(entry: dict) -> dict[str, dict]:
    return {f["key"]: f for f in entry["inputFields"]}


def test_dropdowns_come_from_the_choices_a_spec_declares():
    ops = {**registry(), **_gadgets()}
    built = zapier.build(ops)
    owners = built["dropdowns"]["gadget_owners"]
    assert owners == {"key": "dropdown_gadget_owners", "trigger": "gadgets.list_owners",
                      "app": "ghl", "value": "ownerId", "label": ["fullName"],
                      "params": {"region": "eu"}, "each": None, "parent": None,
                      "noun": "Gadget Owner", "fromConnection": {}}
    teams = built["dropdowns"]["gadget_teams"]
    assert (teams["trigger"], teams["each"], teams["parent"]) == ("gadgets.list_owners", "teams",
                                                                  ASSIGNEE)
    fields = _fields(_entries(built)["gadgets.create_gadget"])
    assert fields[ASSIGNEE]["dynamic"] == "dropdown_gadget_owners.id.name"
    assert fields["team"]["dynamic"] == "dropdown_gadget_teams.id.name"
    assert fields["team"]["dependsOn"] == ["connection_id", ASSIGNEE]
    assert fields["helpers"]["dynamic"] == "dropdown_gadget_owners.id.name" and fields["helpers"]["list"]


def test_an_input_without_choices_from_is_no_dropdown_whatever_its_name():
    # userId and contactId had a users dropdown and a contact search by name alone; now only
    # what the spec declares counts
    built = zapier.build({**registry(), **_gadgets()})
    fields = _fields(_entries(built)["gadgets.create_widget_plain"])
    assert "dynamic" not in fields["userId"] and "search" not in fields["contactId"]
    assert fields["userId"]["type"] == "string"
    # the same names with the facts declared get them
    users = _fields(_entries(built)["users.get_user"])
    assert users["userId"]["dynamic"] == "dropdown_users.id.name"
    task = _fields(_entries(built)["contacts.create_contact_task"])
    assert task["contactId"]["search"] == "contacts__find_contact.id"


def test_search_or_create_comes_from_the_search_spec():
    ops = {**registry(), **_gadgets()}
    pairs = {p["search"]: p for p in zapier.build(ops)["searchOrCreates"]}
    assert pairs["gadgets__find_gadget"]["create"] == "gadgets__create_gadget"
    assert pairs["gadgets__find_gadget"]["display"]["label"] == "Find or Create Gadget"
    assert pairs["contacts__find_contact"]["create"] == "contacts__create_contact"
    # the same search without create_with is a search only
    ops["contacts.find_contact"] = ops["contacts.find_contact"].model_copy(update={"create_with": None})
    assert "contacts__find_contact" not in {p["search"] for p in zapier.build(ops)["searchOrCreates"]}


def test_custom_field_inputs_come_from_fields_from():
    ops = registry()
    entries = _entries(zapier.build(ops))
    assert entries["opportunities.create_opportunity"]["customFields"] == {
        "dropdown": "custom_fields", "model": "opportunity", "input": "customFields"}
    # the same operation whose customFields input declares no fields_from: a JSON field only
    create = ops["contacts.create_contact"]
    plain = create.model_copy(update={"inputs": tuple(
        i.model_copy(update={"fields_from": None}) for i in create.inputs)})
    entry = _entries(zapier.build({**ops, create.key: plain}))[create.key]
    assert "customFields" not in entry and _fields(entry)["customFields"]["type"] == "text"
