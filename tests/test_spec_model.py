"""The spec model refuses what cannot work, naming the spec and the field."""

from __future__ import annotations

import sys
import textwrap
import types

import pytest
from pydantic import ValidationError

from engine.spec.model import CursorPaginator, Dedupe, Input, Items, Operation, Token, Trigger, Upstream
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
