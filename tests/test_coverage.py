"""Every registered operation is exercised end to end by at least one test.

A test says which operations it exercises with ``@pytest.mark.covers("key", ...)``. The marks
are read statically, by parsing every ``tests/test_*.py`` file (decorators and module-level
``pytestmark``), not from the items pytest collected: so the check gives the same answer when
only a subset runs (``-k``, one file, ``-x``), and no test module has to be imported for it.
Keys must be string literals so that they can be read this way. One test that runs every
operation generated from GHL's official documents says so with ``@pytest.mark.covers_generated()``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from engine.spec.registry import registry

TESTS = Path(__file__).resolve().parent


def _is_covers(node: ast.AST, name: str = "covers") -> bool:
    """``pytest.mark.covers(...)`` or ``mark.covers(...)`` (or another mark ``name``)."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == name and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "mark")


def generated_keys() -> list[str]:
    """The operations generated from GHL's official documents (operations/official.json)."""
    from operations.official import SPECS

    return [op.key for op in SPECS]


def covered_keys() -> tuple[dict[str, set[str]], list[str]]:
    """{operation key: {test ids}} over every test file, and the marks that cannot be read."""
    found: dict[str, set[str]] = {}
    unreadable: list[str] = []
    for path in sorted(TESTS.glob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                calls, owner = node.decorator_list, f"{path.name}::{node.name}"
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
                value = node.value
                calls = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
                owner = f"{path.name} (pytestmark)"
            else:
                continue
            # ``@pytest.mark.covers_generated()``: the test runs every generated operation
            for call in (c for c in calls if _is_covers(c, "covers_generated")):
                for key in generated_keys():
                    found.setdefault(key, set()).add(owner)
            for call in filter(_is_covers, calls):
                for arg in call.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.setdefault(arg.value, set()).add(owner)
                    else:
                        unreadable.append(f"{owner}: line {arg.lineno}")
    return found, unreadable


COVERED, UNREADABLE = covered_keys()


@pytest.mark.parametrize("key", sorted(registry()))
def test_operation_is_covered(key):
    if key not in COVERED:
        how = (f"POST /v1/actions/{key}" if registry()[key].kind == "action"
               else f"POST /v1/triggers/{key}/items")
        pytest.fail(f"no test exercises {key}: add an end-to-end test that calls {how} against "
                    f"the sandbox and mark it @pytest.mark.covers({key!r})", pytrace=False)


def test_covers_marks_name_real_operations():
    unknown = {key: sorted(owners) for key, owners in COVERED.items() if key not in registry()}
    assert not unknown, f"@pytest.mark.covers names operations that do not exist: {unknown}"


def test_covers_marks_are_literal():
    assert not UNREADABLE, ("@pytest.mark.covers takes operation keys as string literals, so "
                            f"coverage can be read without running the tests: {UNREADABLE}")
