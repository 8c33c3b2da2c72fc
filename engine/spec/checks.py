"""Load-time rules for specs: one small function per rule, each yielding (key, field, message).

Rules that the pydantic model cannot express alone. :data:`RULES` look at one spec;
:data:`REFERENCE_RULES` at the references a spec makes to others (the list trigger of an
input's choices, the search that finds an id, the create of a search-or-create), given every
spec. The registry runs them all and refuses to load when any fails, so every problem shows at
once.
"""

from __future__ import annotations

from typing import Callable, Iterator, Mapping

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


def choices_fit_their_input(op: Operation) -> Iterator[Problem]:
    """Problems of ``choices_from``: only on a string (or array of strings) input without an enum;
    a ``parent`` is another input and needs ``each``."""
    for field in op.inputs:
        where = f"inputs.{field.name}.choices_from"
        source = field.choices_from
        if source is None:
            continue
        if field.enum is not None:
            yield op.key, where, "an input with an enum has its choices already"
        elif field.type not in ("string", "array") or field.items not in (None, "string"):
            yield op.key, where, "choices are ids: only for a string or an array of strings"
        if source.parent is not None and (source.parent == field.name
                                          or op.input(source.parent) is None):
            yield op.key, f"{where}.parent", f"parent {source.parent!r} is not another input"
        if source.parent is not None and source.each is None:
            yield op.key, f"{where}.parent", "a parent is only for choices listed in each item"


def found_by_fits_its_input(op: Operation) -> Iterator[Problem]:
    """Problems of ``found_by``: only on a string input, never the operation itself."""
    for field in op.inputs:
        where = f"inputs.{field.name}.found_by"
        if field.found_by is not None and field.type != "string":
            yield op.key, where, "only a string input is found by a search"
        if field.found_by == op.key:
            yield op.key, where, "an input cannot be found by its own operation"


def fields_from_fits_its_input(op: Operation) -> Iterator[Problem]:
    """Problems of ``fields_from``: only on an array input in the body (custom field values)."""
    for field in op.inputs:
        if field.fields_from is not None and (field.type != "array" or field.location != "body"):
            yield op.key, f"inputs.{field.name}.fields_from", \
                "custom field values are an array input in the body"


def create_with_on_a_search(op: Operation) -> Iterator[Problem]:
    """Problems of ``create_with``: only a search names a create to run when it finds nothing."""
    if op.create_with is not None and not op.search:
        yield op.key, "create_with", "only a search has a create to run when it finds nothing"


def unique_choice_lists(op: Operation) -> Iterator[Problem]:
    """Problems of ``trigger.choices``: at most one list of choices per ``each`` (items, or one
    list field of them)."""
    seen: set[str | None] = set()
    for choices in op.trigger.choices if op.trigger else ():
        if choices.each in seen:
            yield op.key, "trigger.choices", f"two lists of choices with each={choices.each!r}"
        seen.add(choices.each)


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
    choices_fit_their_input,
    found_by_fits_its_input,
    fields_from_fits_its_input,
    create_with_on_a_search,
    unique_choice_lists,
)


def _choices_problem(specs: Mapping[str, Operation], trigger: str, each: str | None) -> str | None:
    """Why ``trigger`` cannot serve the choices (listed in ``each``), or None when it can."""
    source = specs.get(trigger)
    if source is None:
        return f"names {trigger!r}, which is not an operation of the catalog"
    if source.trigger is None:
        return f"names {trigger!r}, which is an action, not a list trigger"
    if not any(c.each == each for c in source.trigger.choices):
        listed = "its items" if each is None else f"the entries of {each!r}"
        return f"names {trigger!r}, which declares no choices of {listed} (trigger.choices)"
    return None


def choices_sources_exist(op: Operation, specs: Mapping[str, Operation]) -> Iterator[Problem]:
    """Problems of ``choices_from``/``fields_from`` against ``specs`` (the catalog by key): the
    named trigger exists and declares those choices."""
    for field in op.inputs:
        if field.choices_from is not None:
            why = _choices_problem(specs, field.choices_from.trigger, field.choices_from.each)
            if why:
                yield op.key, f"inputs.{field.name}.choices_from", why
        if field.fields_from is not None:
            why = _choices_problem(specs, field.fields_from.trigger, None)
            if why:
                yield op.key, f"inputs.{field.name}.fields_from", why


def found_by_is_a_search(op: Operation, specs: Mapping[str, Operation]) -> Iterator[Problem]:
    """Problems of ``found_by`` against ``specs`` (the catalog by key): it names a search."""
    for field in op.inputs:
        found_by = field.found_by
        if found_by is not None and (found_by not in specs or not specs[found_by].search):
            yield (op.key, f"inputs.{field.name}.found_by",
                   f"{found_by!r} is not a search of the catalog")


def create_with_is_a_create(op: Operation, specs: Mapping[str, Operation]) -> Iterator[Problem]:
    """Problems of ``create_with`` against ``specs`` (the catalog by key): it names a create action
    (not a search)."""
    partner = specs.get(op.create_with) if op.create_with else None
    if op.create_with and (partner is None or partner.kind != "action" or partner.search):
        yield op.key, "create_with", f"{op.create_with!r} is not a create action of the catalog"


REFERENCE_RULES: tuple[Callable[[Operation, Mapping[str, Operation]], Iterator[Problem]], ...] = (
    choices_sources_exist,
    found_by_is_a_search,
    create_with_is_a_create,
)


def check(op: Operation) -> list[Problem]:
    """Every rule's problems for ``op``, as (operation key, field path, message) tuples; ``[]`` when
    it passes."""
    return [problem for rule in RULES for problem in rule(op)]


def check_references(specs: Mapping[str, Operation]) -> list[Problem]:
    """The problems of the references between ``specs`` (every spec of the catalog, by key),
    and choice lists named twice: (key, field, message) each."""
    problems = [p for op in specs.values() for rule in REFERENCE_RULES for p in rule(op, specs)]
    named: dict[str, str] = {}
    for key, op in specs.items():
        for choices in op.trigger.choices if op.trigger else ():
            if choices.name in named:
                problems.append((key, "trigger.choices", f"choices name {choices.name!r} is "
                                                         f"also used by {named[choices.name]}"))
            named.setdefault(choices.name, key)
    return problems
