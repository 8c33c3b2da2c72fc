"""The layer contract (pyproject.toml, [tool.importlinter]): imports point down the data flow,
the engine never imports the API, and no package's modules import each other in a cycle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the tree at ``root`` (its own engine/, api/ and sandbox/, not the
    installed ones) and return the finished process."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import "
                           "lint_imports_command as c; sys.argv[0] = 'lint-imports'; c()",
                           "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def copy_tree(dest: Path) -> Path:
    for name in ("engine", "api", "sandbox"):
        shutil.copytree(ROOT / name, dest / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_layer_contract_holds():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """A module of a low layer (core) importing a high one (flows) fails the check, naming the
    offending import; the same tree without it passes."""
    tree = copy_tree(tmp_path)
    assert lint_imports(tree).returncode == 0
    errors = tree / "engine" / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom engine.flows import service as _upward  # noqa\n")
    done = lint_imports(tree)
    assert done.returncode != 0
    assert "engine layers: imports point down the data flow BROKEN" in done.stdout
    assert "engine.core.errors -> engine.flows.service" in done.stdout


def test_a_cycle_inside_a_layer_breaks_the_contract(tmp_path):
    """Two modules of one package importing each other fail the no-cycles contract, even when
    the import hides inside a function."""
    tree = copy_tree(tmp_path)
    items = tree / "engine" / "polling" / "items.py"
    items.write_text(items.read_text() + "\n\ndef _late():\n    from engine.polling import poller  # noqa\n")
    done = lint_imports(tree)
    assert done.returncode != 0
    assert "no import cycles between the modules of any package BROKEN" in done.stdout


def layout_modules(text: str) -> set[str]:
    """The modules the Layout block of docs/architecture.md names: ``package/module.py`` (or
    ``module.py`` at the top of engine/), from the tree's indentation."""
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    named, package = set(), None
    for line in block.splitlines():
        entry = line.split()[0] if line.strip() else ""
        indent = len(line) - len(line.lstrip())
        if indent == 2 and entry.endswith("/"):
            package = entry
        elif indent == 2 and entry.endswith(".py"):
            named.add(entry)
            package = None
        elif indent == 4 and entry.endswith(".py") and package:
            named.add(package + entry)
    return named


def test_the_architecture_document_names_every_module():
    """docs/architecture.md's Layout names every module of engine/ under its package."""
    modules = {str(p.relative_to(ROOT / "engine")) for p in (ROOT / "engine").rglob("*.py")
               if p.name != "__init__.py"}
    missing = sorted(modules - layout_modules((ROOT / "docs" / "architecture.md").read_text()))
    assert not missing, (f"docs/architecture.md's Layout does not name {missing}: add each under "
                         "its package with a few words on what it does")
