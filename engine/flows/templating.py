"""Templates of flow step inputs: a small, safe subset of Jinja.

A template reads the trigger's item and earlier steps' results::

    "{{ trigger.origin | e164 }}"
    "SMS from {{ trigger.origin }}: {{ trigger.message }}"
    "{{ steps.find.data.contact.id }}"

A string that is exactly one ``{{ expression }}`` keeps the expression's type (a list stays a
list); any other string is rendered as text. Rendering is sandboxed (no attribute tricks, no
imports) and strict: a name or field that does not exist is an error, unless the template says
``| default(...)``.

Filters beyond Jinja's own: ``e164`` (``+61412345678``, for GHL) and ``msisdn``
(``61412345678``, for SMSGlobal), both read by libphonenumber and taking an optional region
(``| e164('AU')``, else the flow's region) for national numbers, and ``timestamp`` (a time as seconds since the epoch, to compare times).
:func:`problems` checks a template before it ever runs: its syntax, and every ``trigger.…`` /
``steps.<id>.…`` path it reads against sample data.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

from jinja2 import (
    ChainableUndefined,
    StrictUndefined,
    TemplateError,
    TemplateRuntimeError,
    Undefined,
    nodes,
    pass_context,
)
from jinja2.sandbox import SandboxedEnvironment

from engine.core import phones
from engine.polling.items import parse_time

ROOTS = ("trigger", "steps")
_SINGLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.S)
# the context variable holding the default phone region (ISO 3166-1 alpha-2) of a run
REGION = "phone_region"
_JINJA_NAMES = {"loop", "range", "dict", "namespace", "lipsum", "cycler", "joiner", "true",
                "false", "none", "True", "False", "None"}


class PhoneFilterError(TemplateRuntimeError):
    """A phone filter met a value it cannot read as one number; the run step fails with this."""


def _phone(form: Callable[[Any, str | None], str], name: str, context: Any, value: Any,
           region: str | None) -> str:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises, naming what is missing
    if value is None or (isinstance(value, str) and not value.strip()) or isinstance(value, Undefined):
        return ""
    try:
        return form(value, region or context.get(REGION))
    except phones.PhoneError as exc:
        raise PhoneFilterError(f"{name}: {exc.message}; give the country as {name}('AU') or set "
                               "the flow's region") from None


@pass_context
def e164(context: Any, value: Any, region: str | None = None) -> str:
    """A phone number as E.164 (``+61412345678``), the form GHL stores. ``region`` (ISO 3166-1
    alpha-2, e.g. ``'AU'``) reads national numbers; without it the flow's region is used. A
    value that is no number, or a national one with no region, fails the step
    (:class:`PhoneFilterError`). Empty stays empty."""
    return _phone(phones.e164, "e164", context, value, region)


@pass_context
def msisdn(context: Any, value: Any, region: str | None = None) -> str:
    """A phone number as SMSGlobal writes it (``61412345678``: country code first, no ``+``);
    otherwise as :func:`e164`."""
    return _phone(phones.msisdn, "msisdn", context, value, region)


def timestamp(value: Any) -> float:
    """A time (ISO 8601, epoch seconds or milliseconds) as seconds since the epoch, so times
    written differently compare right: ``(trigger.dateAdded | timestamp) >= 1767225600``. An
    empty or unreadable time gives 0 (older than anything)."""
    if isinstance(value, Undefined):
        return 0.0
    parsed = parse_time(value)
    return parsed if parsed is not None else 0.0


def _env(undefined) -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=undefined, autoescape=False)
    env.filters["e164"] = e164
    env.filters["msisdn"] = msisdn
    env.filters["timestamp"] = timestamp
    return env


ENV = _env(StrictUndefined)
# conditions read a field an item may lack (a contact without phone) as empty, so false
CONDITION_ENV = _env(ChainableUndefined)


def expression_of(text: str) -> str | None:
    """The expression inside a string that is exactly one ``{{ … }}``, else None."""
    m = _SINGLE.match(text)
    return m.group("expr").strip() if m else None


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside ``value`` (dicts and lists are walked)."""
    if isinstance(value, str):
        expr = expression_of(value)
        if expr is not None:
            return _defined(ENV.compile_expression(expr, undefined_to_none=False)(**context))
        if "{{" not in value and "{%" not in value:
            return value
        return ENV.from_string(value).render(**context)
    if isinstance(value, dict):
        return {k: render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context) for v in value]
    return value


def _defined(value: Any) -> Any:
    """An expression's value, refusing (as text rendering does) anything undefined in it."""
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here, naming what is missing
    elif isinstance(value, dict):
        for item in value.values():
            _defined(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _defined(item)
    return value


def condition(text: str, context: dict[str, Any]) -> bool:
    """A ``when`` condition: an expression, with or without ``{{ }}`` around it. A field the
    item lacks reads as empty here (so ``trigger.phone`` is false for a contact without one)."""
    expr = expression_of(text)
    expr = expr if expr is not None else text
    return bool(CONDITION_ENV.compile_expression(expr)(**context))


# ----------------------------------------------------------------------------- checking


def _chain(node: nodes.Node) -> list[Any] | None:
    """``trigger.a.b`` / ``steps['x'].data`` as ['trigger', 'a', 'b'], or None."""
    parts: list[Any] = []
    while True:
        if isinstance(node, nodes.Getattr):
            parts.append(node.attr)
            node = node.node
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            parts.append(node.arg.value)
            node = node.node
        elif isinstance(node, nodes.Name):
            parts.append(node.name)
            return list(reversed(parts))
        else:
            return None


def references(ast: nodes.Node) -> Iterator[tuple[list[Any], bool]]:
    """Every path a template reads, and whether it is guarded (``| default``, ``is defined``)."""
    def walk(node: nodes.Node, guarded: bool) -> Iterator[tuple[list[Any], bool]]:
        if isinstance(node, (nodes.Getattr, nodes.Getitem, nodes.Name)):
            chain = _chain(node)
            if chain is not None and not (isinstance(node, nodes.Name) and node.ctx != "load"):
                yield chain, guarded
                return
        if isinstance(node, nodes.Filter) and node.name in ("default", "d") and node.node is not None:
            yield from walk(node.node, True)
            for child in node.args:
                yield from walk(child, guarded)
            return
        if isinstance(node, nodes.Test) and node.name in ("defined", "undefined", "none"):
            yield from walk(node.node, True)
            return
        for child in node.iter_child_nodes():
            yield from walk(child, guarded)
    yield from walk(ast, False)


def _assigned(ast: nodes.Node) -> set[str]:
    return {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}


def _resolve(sample: Any, parts: list[Any]) -> tuple[bool, Any]:
    """Follow ``parts`` into sample data: (found, value). Unknown ground (None) counts as found."""
    node = sample
    for part in parts:
        if node is None:
            return True, None
        if isinstance(node, dict):
            if part not in node:
                return False, node
            node = node[part]
        elif isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError, TypeError):
                return False, node
        else:
            return False, node
    return True, node


def _fields(value: Any) -> str:
    if isinstance(value, dict):
        names = sorted(map(str, value))
        return ", ".join(names[:25]) + (", ..." if len(names) > 25 else "")
    return "none (not an object)"


def _dotted(parts: list[Any]) -> str:
    return ".".join(map(str, parts))


def problems(text: str, *, trigger_sample: dict[str, Any] | None,
             steps_before: dict[str, dict[str, Any] | None], steps_after: set[str],
             is_condition: bool = False) -> list[str]:
    """What is wrong with one template, in words a person can act on (empty when nothing)."""
    source = text
    if is_condition:
        expr = expression_of(text)
        source = "{{ " + (expr if expr is not None else text) + " }}"
    try:
        ast = ENV.parse(source)
        ENV.compile(ast)  # unknown filters and tests show up here
    except TemplateError as exc:
        return [f"template error: {exc.message or exc}"]
    out: list[str] = []
    local = _assigned(ast)
    for parts, guarded in references(ast):
        root = parts[0]
        if root in local or root in _JINJA_NAMES:
            continue
        if root not in ROOTS:
            out.append(f"unknown name {root!r}: templates read trigger.<field> and "
                       "steps.<step id>.data.<field>")
            continue
        if root == "trigger":
            if trigger_sample and not guarded:
                found, at = _resolve(trigger_sample, parts[1:])
                if not found:
                    out.append(f"{_dotted(parts)} is not a field of the trigger's items (fields "
                               f"there: {_fields(at)}); add | default('') if it may be missing")
            continue
        if len(parts) < 2:
            continue
        step = str(parts[1])
        if step in steps_after:
            out.append(f"{_dotted(parts[:2])} refers to a later step: a step can only use the "
                       "steps before it")
            continue
        if step not in steps_before:
            known = ", ".join(steps_before) or "none"
            out.append(f"{_dotted(parts[:2])} refers to no step (steps before this one: {known})")
            continue
        if len(parts) >= 3 and parts[2] not in ("data", "status"):
            out.append(f"{_dotted(parts[:3])}: a step's result is read as "
                       f"steps.{step}.data.<field> (or steps.{step}.status)")
            continue
        sample = steps_before[step]
        if sample and len(parts) > 3 and parts[2] == "data" and not guarded:
            found, at = _resolve(sample, parts[3:])
            if not found:
                out.append(f"{_dotted(parts)} is not in the result of step {step!r} (fields "
                           f"there: {_fields(at)}); add | default('') if it may be missing")
    return out
