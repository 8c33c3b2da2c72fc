"""Every public module, class, method and function of the engine and the API has a docstring:
ruff's pydocstyle rules D100–D104 and D106 (magic methods and ``__init__`` excepted, as in
pyproject.toml's [tool.ruff.lint]) report none missing in engine/ and api/."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ("engine", "api")
# The same rules as pyproject.toml's [tool.ruff.lint], given here too so that another rule added
# there later cannot fail this test.
RULES = ("--select", "D1", "--ignore", "D105,D107")


def missing_docstrings(root: Path) -> subprocess.CompletedProcess:
    """Run ``ruff check`` with the docstring rules on ``root``'s engine/ and api/ and return the
    finished process: exit 0 when none is missing, else 1 with one ``path:line:col: Dxxx …`` line
    per public definition without a docstring."""
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache",
                           "--output-format", "concise", *RULES, *PATHS],
                          cwd=root, capture_output=True, text=True, timeout=120)


def test_every_public_definition_has_a_docstring():
    done = missing_docstrings(ROOT)
    assert done.returncode == 0, "public definitions without a docstring:\n" + done.stdout + done.stderr


def test_a_removed_docstring_fails_the_check(tmp_path):
    """A copy of the tree whose first documented public function in engine/core/phones.py lost
    its docstring fails, naming that function's line; the untouched copy passes."""
    for name in PATHS:
        shutil.copytree(ROOT / name, tmp_path / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert missing_docstrings(tmp_path).returncode == 0
    module = tmp_path / "engine" / "core" / "phones.py"
    lines = module.read_text().splitlines(keepends=True)
    function = next(node for node in ast.parse("".join(lines)).body
                    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                    and not node.name.startswith("_") and ast.get_docstring(node)
                    and len(node.body) > 1)
    docstring = function.body[0]
    del lines[docstring.lineno - 1:docstring.end_lineno]
    module.write_text("".join(lines))
    done = missing_docstrings(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"engine/core/phones.py:{function.lineno}:" in done.stdout
    assert "D103 Missing docstring in public function" in done.stdout
