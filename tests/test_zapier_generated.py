"""The Zapier app's generated definitions match the operations catalog, and the mapping keeps
what a Zap's user depends on (keys, required fields, dropdowns, searches)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from engine.export import zapier
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
