"""Load-time rules for specs: one small function per rule, each yielding (key, field, message).

Rules that the pydantic model cannot express alone. The registry runs them all and refuses to
load when any fails, so every problem shows at once.
"""

from __future__ import annotations

from typing import Callable, Iterator

from engine.spec.model import Operation

Problem = tuple[str, str, str]


def path_params_declared(op: Operation) -> Iterator[Problem]:
    """Every ``{param}`` of the upstream path has an input located in the path, and every path
    input appears in the path."""
    declared = {i.name for i in op.inputs_at("path")}
    for name in op.upstream.path_params:
        if name not in declared:
            yield op.key, "upstream.path", f"path parameter {{{name}}} has no input with location 'path'"
    for name in declared - set(op.upstream.path_params):
        yield op.key, f"inputs.{name}", "path input does not appear in the path template"


def unique_input_names(op: Operation) -> Iterator[Problem]:
    """No input name is declared twice."""
    seen: set[str] = set()
    for field in op.inputs:
        if field.name in seen:
            yield op.key, f"inputs.{field.name}", "input declared twice"
        seen.add(field.name)


def ghl_has_version(op: Operation) -> Iterator[Problem]:
    """Every GHL operation names its ``Version`` header value (GHL's official documents declare a
    ``Version`` header parameter on their endpoints, e.g. Search Contacts, POST
    /contacts/search)."""
    if op.app == "ghl" and not op.upstream.version:
        yield op.key, "upstream.version", "every GHL operation needs its Version header value"


def key_matches_category(op: Operation) -> Iterator[Problem]:
    """An operation key starts with its category and a dot (``contacts.create_contact``)."""
    if not op.key.startswith(op.category + "."):
        yield op.key, "key", f"key must start with its category {op.category!r}"


def trigger_has_sample(op: Operation) -> Iterator[Problem]:
    """Every trigger has a sample item (shown before the first real item arrives)."""
    if op.kind == "trigger" and not op.sample:
        yield op.key, "sample", "a trigger needs a sample item"


def paginator_params_declared(op: Operation) -> Iterator[Problem]:
    """Every query parameter a trigger's paginator sets (offset, page, size, token parameters) is
    a declared input."""
    if op.trigger is None:
        return
    pag = op.trigger.paginator
    params = [getattr(pag, n, None) for n in ("offset_param", "page_param", "size_param")]
    params += [t.param for t in getattr(pag, "tokens", ())]
    for name in filter(None, params):
        if op.input(name) is None:
            yield op.key, "trigger.paginator", f"paginator param {name!r} has no input"


def single_items_unpaged(op: Operation) -> Iterator[Problem]:
    """A single-object trigger (``items.single``) has no paginator."""
    if op.trigger and op.trigger.items.single and op.trigger.paginator.type != "none":
        yield op.key, "trigger.paginator", "a single-object trigger cannot page"


def body_input_declared(op: Operation) -> Iterator[Problem]:
    """An ``upstream.body_input`` names an input located in the body."""
    name = op.upstream.body_input
    if name and (op.input(name) is None or op.input(name).location != "body"):
        yield op.key, "upstream.body_input", f"body_input {name!r} has no input with location 'body'"


def event_match_params_declared(op: Operation) -> Iterator[Problem]:
    """Every parameter an instant trigger matches pushed events on (``trigger.events.match``) is a
    declared input."""
    signal = op.trigger.events if op.trigger else None
    for name in (signal.match if signal else {}):
        if op.input(name) is None:
            yield op.key, "trigger.events.match", f"match param {name!r} has no input"


RULES: tuple[Callable[[Operation], Iterator[Problem]], ...] = (
    path_params_declared,
    unique_input_names,
    ghl_has_version,
    key_matches_category,
    trigger_has_sample,
    paginator_params_declared,
    single_items_unpaged,
    body_input_declared,
    event_match_params_declared,
)


def check(op: Operation) -> list[Problem]:
    """Every rule's problems for ``op``, as (operation key, field path, message) tuples; ``[]`` when
    it passes."""
    return [problem for rule in RULES for problem in rule(op)]
