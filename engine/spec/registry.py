"""The registry: every spec from the ``operations`` package, loaded once at import.

Each module of ``operations`` exports a ``SPECS`` tuple. Loading refuses a duplicate key or a
spec that breaks a rule of :mod:`engine.spec.checks`, naming the spec and the field.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from functools import lru_cache
from types import ModuleType

from pydantic import ValidationError

from engine.spec.checks import check, check_references
from engine.spec.model import Operation


class SpecError(Exception):
    """A spec in operations/ is malformed or clashes with another."""


def load(package: ModuleType, skip: tuple[str, ...] = ()) -> dict[str, Operation]:
    """Every spec of ``package``'s modules (those named in ``skip`` and ``_private`` ones aside).

    :raises SpecError: naming every malformed spec, every duplicate key and every reference to
        a spec that is not there or cannot serve (:func:`engine.spec.checks.check_references`)
        at once.
    """
    specs: dict[str, Operation] = {}
    origin: dict[str, str] = {}
    problems: list[str] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in skip:
            continue
        try:
            module = importlib.import_module(f"{package.__name__}.{info.name}")
        except ValidationError as exc:
            problems.append(f"{package.__name__}.{info.name}: malformed spec: {exc}")
            continue
        for op in getattr(module, "SPECS", ()):
            if not isinstance(op, Operation):
                problems.append(f"{module.__name__}: SPECS holds {type(op).__name__}, not Operation")
                continue
            if op.key in specs:
                problems.append(f"{op.key}: duplicate key (also in {origin[op.key]})")
                continue
            specs[op.key] = op
            origin[op.key] = module.__name__
            problems += [f"{key}: {field}: {msg}" for key, field, msg in check(op)]
    problems += [f"{key}: {field}: {msg}" for key, field, msg in check_references(specs)]
    if problems:
        raise SpecError("invalid operation specs:\n  " + "\n  ".join(problems))
    return specs


@lru_cache(maxsize=1)
def registry() -> dict[str, Operation]:
    """The catalog: every spec of ``operations``, loaded once per process; only the curated ones
    when the setting ``ENGINE_CATALOG`` is ``curated``."""
    import operations

    from engine.core.settings import get_settings

    return load(operations, skip=("official",) if get_settings().catalog == "curated" else ())


@lru_cache(maxsize=1)
def curated() -> dict[str, Operation]:
    """The hand-written specs only, without the ones generated from GHL's official documents
    (``operations/official.json``): what the catalog generator must not generate again."""
    import operations

    return load(operations, skip=("official",))


def get(key: str) -> Operation | None:
    """The spec with this key, or None."""
    return registry().get(key)


def closest(key: str, n: int = 3) -> list[str]:
    """Up to ``n`` catalog keys that look like ``key`` (for "did you mean" hints)."""
    return difflib.get_close_matches(key, list(registry()), n=n, cutoff=0.5)
