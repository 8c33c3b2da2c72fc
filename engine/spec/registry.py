"""The registry: every spec of the ``operations`` folder, loaded once.

The hand-written specs are YAML files (``<name>.yaml``, read by :mod:`engine.spec.files`); the
ones generated from GHL's official documents are ``official.json``, turned into specs by
``operations.official``. Loading refuses a malformed file, a duplicate key or a spec that breaks
a rule of :mod:`engine.spec.checks`, naming the file, the spec and the field.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from pathlib import Path

from engine.spec.checks import check, check_references
from engine.spec.files import SpecError, read
from engine.spec.model import Operation

__all__ = ["SpecError", "closest", "curated", "get", "load", "registry"]

GENERATED = "official.json"


def _sources(folder: Path, skip: tuple[str, ...]) -> list[Path]:
    """The spec files of ``folder`` in the order of their names (``_private`` ones aside)."""
    found = [p for p in folder.iterdir() if p.suffix == ".yaml" or p.name == GENERATED]
    return sorted((p for p in found if not p.stem.startswith("_") and p.stem not in skip),
                  key=lambda p: p.stem)


def _generated(source: Path) -> tuple[Operation, ...]:
    from operations import official

    return official.specs(source)


def load(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, Operation]:
    """Every spec of ``folder``'s files (those whose name without suffix is in ``skip`` aside).

    :raises SpecError: naming every malformed spec, every duplicate key and every reference to
        a spec that is not there or cannot serve (:func:`engine.spec.checks.check_references`)
        at once.
    """
    specs: dict[str, Operation] = {}
    origin: dict[str, str] = {}
    problems: list[str] = []
    for source in _sources(folder, skip):
        try:
            ops = _generated(source) if source.name == GENERATED else read(source)
        except SpecError as exc:
            problems.append(str(exc))
            continue
        for op in ops:
            if op.key in specs:
                problems.append(f"{source.name}: {op.key}: duplicate key (also in {origin[op.key]})")
                continue
            specs[op.key] = op
            origin[op.key] = source.name
            problems += [f"{source.name}: {key}: {field}: {msg}" for key, field, msg in check(op)]
    problems += [f"{origin[key]}: {key}: {field}: {msg}"
                 for key, field, msg in check_references(specs)]
    if problems:
        raise SpecError("invalid operation specs:\n  " + "\n  ".join(problems))
    return specs


def folder() -> Path:
    """The ``operations`` folder the catalog is read from."""
    import operations

    return Path(operations.__file__).parent


@lru_cache(maxsize=1)
def registry() -> dict[str, Operation]:
    """The catalog: every spec of ``operations``, loaded once per process; only the curated ones
    when the setting ``ENGINE_CATALOG`` is ``curated``."""
    from engine.core.settings import get_settings

    return load(folder(), skip=("official",) if get_settings().catalog == "curated" else ())


@lru_cache(maxsize=1)
def curated() -> dict[str, Operation]:
    """The hand-written specs only, without the ones generated from GHL's official documents
    (``operations/official.json``): what the catalog generator must not generate again."""
    return load(folder(), skip=("official",))


def get(key: str) -> Operation | None:
    """The spec with this key, or None."""
    return registry().get(key)


def closest(key: str, n: int = 3) -> list[str]:
    """Up to ``n`` catalog keys that look like ``key`` (for "did you mean" hints)."""
    return difflib.get_close_matches(key, list(registry()), n=n, cutoff=0.5)
