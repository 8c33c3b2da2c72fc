"""Templates of flow step inputs: a small, safe subset of Jinja.

A template reads the trigger's item and earlier steps' results::

    "{{ trigger.origin | e164 }}"
    "SMS from {{ trigger.origin }}: {{ trigger.message }}"
    "{{ steps.find.data.contact.id }}"

A string that is exactly one ``{{ expression }}`` keeps the expression's type (a list stays a
list); any other string is rendered as text. Rendering is sandboxed (no attribute tricks, no
imports) and strict: a name or field that does not exist is an error, unless the template says
``| default(...)``.

Templates are bounded: they run in Jinja's immutable sandbox (a template cannot change the item
or the steps it reads), powers, repetition (``'a' * n``), padding and replacement that would
build a result over ``MAX_RENDER_CHARS`` characters are refused before they are computed, a
rendering stops at ``MAX_RENDER_CHARS`` characters of output and after ``RENDER_SECONDS`` of
work. :func:`render_bounded`, :func:`condition_bounded` and :func:`problems_bounded` run it in
a small pool of separate processes, so no template, not even one that escaped the checks, can
hold the event loop or the interpreter of the API or worker that asked; a render that does not
answer within ``RENDER_SECONDS + ISOLATION_SLACK_SECONDS`` has its process killed. Every such
refusal is a ``TemplateError`` (``TemplateBoundExceeded``) naming the bound.

Filters beyond Jinja's own: ``e164`` (``+61412345678``, for GHL) and ``msisdn``
(``61412345678``, for SMSGlobal), both read by libphonenumber and taking an optional region
(``| e164('AU')``, else the flow's region) for national numbers, and ``timestamp`` (a time as seconds since the epoch, to compare times).
:func:`problems` checks a template before it ever runs: its syntax, and every ``trigger.…`` /
``steps.<id>.…`` path it reads against sample data.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import re
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterator

from jinja2 import (
    ChainableUndefined,
    StrictUndefined,
    TemplateError,
    TemplateRuntimeError,
    UndefinedError,
    Undefined,
    nodes,
    pass_context,
)
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

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


MAX_RENDER_CHARS = 100_000
"""The most characters a template may build: its output, and any string or list inside it."""
RENDER_SECONDS = 0.2
"""The most time one rendering may take (checked at every operation the sandbox sees and at
every loop iteration)."""
ISOLATION_SLACK_SECONDS = 10.0
"""Beyond RENDER_SECONDS, how long a render process may stay silent before it is killed
(generous: a fresh process imports the engine first)."""
POOL_PROCESSES = 2
MAX_INT_BITS = 4096
"""The largest integer a template may compute (``2 ** 4096``)."""


class TemplateBoundExceeded(TemplateError):
    """A template would exceed a resource bound (size, time, number size)."""


_deadline = threading.local()


def _check_time() -> None:
    until = getattr(_deadline, "at", None)
    if until is not None and time.monotonic() > until:
        raise TemplateBoundExceeded(f"template took longer than {RENDER_SECONDS} s; simplify it")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, bytes, list, tuple, dict)) else 0


def _refuse_size(what: str, size: float) -> None:
    if size > MAX_RENDER_CHARS:
        raise TemplateBoundExceeded(f"{what} would build {int(min(size, 1e18))} characters or "
                                    f"items; templates are limited to {MAX_RENDER_CHARS}")


def _check_number(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateBoundExceeded(f"a number in the template is larger than 2**{MAX_INT_BITS}")
    if isinstance(value, float) and not math.isfinite(value):
        raise TemplateBoundExceeded("a number in the template is not finite")
    return value


def _check_args(name: str, args: tuple, kwargs: dict) -> None:
    """Integer arguments are widths or counts: over the size bound they can only build a bomb."""
    for arg in (*args, *kwargs.values()):
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_RENDER_CHARS:
            _refuse_size(name, abs(arg))
        elif isinstance(arg, str) and re.search(r"\d{7,}", arg) and ("%" in arg or "{" in arg):
            _refuse_size(name + " (a format width)", float(re.search(r"\d{7,}", arg).group()))


def _estimate(name: str, value: Any, args: tuple) -> None:
    """Refuse a replace or join whose result would exceed the bound, before building it."""
    if name == "replace" and isinstance(value, str) and len(args) >= 2 and isinstance(args[0], str):
        new = str(args[1])
        count = value.count(args[0]) if args[0] else len(value) + 1
        _refuse_size("replace", len(value) + count * len(new))
    if name == "join" and isinstance(value, (list, tuple)):
        _refuse_size("join", sum(_size(v) for v in value) + len(value) * _size(args[0] if args else ""))


def _bounded_filter(name: str, func: Callable) -> Callable:
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_time()
        offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        value = args[offset] if len(args) > offset else None
        _check_args(name, args[offset + 1:], kwargs)
        _estimate(name, value, args[offset + 1:])
        result = func(*args, **kwargs)
        _refuse_size(name, _size(result))
        return _check_number(result)

    for attr in ("jinja_pass_arg",):
        if hasattr(func, attr):
            setattr(bounded, attr, getattr(func, attr))
    return bounded


class _TimedLoops(CodeGenerator):
    """Compiles every ``{% for %}`` body to start with a time check (loops call no sandbox
    hook of their own, so nested loops could otherwise run unbounded)."""

    def writeline(self, x: str, node: Any = None, extra: int = 0) -> None:
        super().writeline(x, node, extra)
        if x == "_loop_vars = {}":  # the first line of each loop body
            super().writeline("environment.tick()")


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with bounded arithmetic, building and time."""

    code_generator_class = _TimedLoops

    @staticmethod
    def tick() -> None:
        """The time check compiled into every loop body; raises TemplateBoundExceeded once the
        rendering has run longer than RENDER_SECONDS."""
        _check_time()

    intercepted_binops = frozenset(["**", "*", "+", "%", "//", "/"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """A binary operator, refused (TemplateBoundExceeded) when its result would pass the bounds:
        powers and products over 2**MAX_INT_BITS, repeated or concatenated sequences over
        MAX_RENDER_CHARS."""
        _check_time()
        if operator == "**" and isinstance(left, (int, float)) and isinstance(right, (int, float)):
            if abs(left) > 1 and right > 0:
                bits = math.log2(abs(left)) * right
                if bits > MAX_INT_BITS:
                    raise TemplateBoundExceeded(f"{left} ** {right} is larger than 2**{MAX_INT_BITS}")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if _size(seq) and isinstance(times, int):
                    _refuse_size("repetition", _size(seq) * times)
            if isinstance(left, int) and isinstance(right, int) and \
                    left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise TemplateBoundExceeded(f"a product is larger than 2**{MAX_INT_BITS}")
        if operator == "+" and _size(left) and _size(right):
            _refuse_size("concatenation", _size(left) + _size(right))
        if operator == "%" and isinstance(left, str):
            _check_args("%-formatting", (left,), {})
        return _check_number(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A call from a template, with its arguments and result held to the bounds and the time
        checked first; raises TemplateBoundExceeded."""
        _check_time()
        name = getattr(__obj, "__name__", "call")
        _check_args(name, args, kwargs)
        _estimate(name, getattr(__obj, "__self__", None), args)
        result = super().call(__context, __obj, *args, **kwargs)
        _refuse_size(name, _size(result))
        return _check_number(result)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Attribute access, after the time check (the sandbox's own checks apply)."""
        _check_time()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Item access, after the time check (the sandbox's own checks apply)."""
        _check_time()
        return super().getitem(obj, argument)


def _env(undefined) -> BoundedEnvironment:
    env = BoundedEnvironment(undefined=undefined, autoescape=False)
    env.filters["e164"] = e164
    env.filters["msisdn"] = msisdn
    env.filters["timestamp"] = timestamp
    env.filters = {name: _bounded_filter(name, f) for name, f in env.filters.items()}
    env.globals["range"] = _bounded_range
    return env


def _bounded_range(*args: int) -> range:
    _check_args("range", args, {})
    return range(*args)


ENV = _env(StrictUndefined)
# conditions read a field an item may lack (a contact without phone) as empty, so false
CONDITION_ENV = _env(ChainableUndefined)


def expression_of(text: str) -> str | None:
    """The expression inside a string that is exactly one ``{{ … }}``, else None."""
    m = _SINGLE.match(text)
    return m.group("expr").strip() if m else None


def _text(template: str, context: dict[str, Any]) -> str:
    """Render text chunk by chunk, stopping at the size and time bounds."""
    out: list[str] = []
    size = 0
    for chunk in ENV.from_string(template).generate(**context):
        size += len(chunk)
        _refuse_size("the rendered text", size)
        _check_time()
        out.append(chunk)
    return "".join(out)


def _within_deadline(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` with this thread's render deadline set (an outer one is kept)."""
    if getattr(_deadline, "at", None) is not None:
        return fn(*args)
    _deadline.at = time.monotonic() + RENDER_SECONDS
    try:
        return fn(*args)
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise TemplateBoundExceeded(f"template exceeded a bound ({type(exc).__name__})") from None
    finally:
        _deadline.at = None


def render(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside ``value`` (dicts and lists are walked), within the bounds.
    Raises TemplateError (TemplateBoundExceeded past a bound)."""
    return _within_deadline(_render, value, context)


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=POOL_PROCESSES,
                                        mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_render_process_start)
        return _pool


RENDER_NICENESS = 10


def _render_process_start() -> None:
    """A render process yields the CPU to the API and workers (a lower scheduling priority), so
    a template working up to its bound does not slow the requests being served; and it ends
    with the process that started it (a parent killed with SIGKILL never shuts its pool down,
    and the render process, waiting on its queue, would otherwise live on)."""
    try:
        os.nice(RENDER_NICENESS)
    except OSError:  # pragma: no cover - not permitted here: run at the normal priority
        pass
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_end_with, args=(parent.sentinel,), daemon=True,
                         name="render-parent-watch").start()


def _end_with(sentinel: int) -> None:
    """Exit this process as soon as ``sentinel`` (the parent's) says the parent has ended."""
    multiprocessing.connection.wait([sentinel])
    os._exit(0)


def _discard(pool: ProcessPoolExecutor) -> None:
    """Kill a pool's processes (a render that would not stop) and start afresh next time."""
    global _pool
    with _pool_lock:
        if _pool is pool:
            _pool = None
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()
    pool.shutdown(wait=False, cancel_futures=True)


_ERRORS: dict[str, type[TemplateError]] = {}  # filled below: what a render process may raise


def _in_child(name: str, args: tuple) -> tuple[str, Any]:
    """Run one of this module's functions in a render process; an error comes back as the name
    of its class (one of _ERRORS) and its text."""
    try:
        return "ok", globals()[name](*args)
    except TemplateError as exc:
        kind = next((k for k, cls in _ERRORS.items() if type(exc) is cls), "TemplateError")
        return kind, exc.message or str(exc)


async def _isolated(name: str, *args: Any) -> Any:
    pool = _executor()
    try:
        kind, value = await asyncio.wait_for(
            asyncio.get_running_loop().run_in_executor(pool, _in_child, name, args),
            RENDER_SECONDS + ISOLATION_SLACK_SECONDS)
    except asyncio.TimeoutError:
        _discard(pool)
        raise TemplateBoundExceeded(f"template took longer than {RENDER_SECONDS} s; its "
                                    "process was stopped; simplify it") from None
    except BrokenProcessPool:
        _discard(pool)
        raise TemplateBoundExceeded("template rendering was interrupted (its process ended, "
                                    "possibly out of memory); simplify it") from None
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise TemplateError(f"the template's result cannot be used as data "
                            f"({type(exc).__name__}); render text or fields") from None
    if kind != "ok":
        raise _ERRORS.get(kind, TemplateError)(value)
    return value


_ERRORS.update({cls.__name__: cls for cls in (TemplateBoundExceeded, PhoneFilterError,
                                              UndefinedError, SecurityError, TemplateError)})


async def render_bounded(value: Any, context: dict[str, Any]) -> Any:
    """:func:`render` in a render process: the caller's event loop and interpreter stay free."""
    return await _isolated("render", value, context)


async def condition_bounded(text: str, context: dict[str, Any]) -> bool:
    """:func:`condition` in a render process."""
    return await _isolated("condition", text, context)


def _render(value: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, str):
        expr = expression_of(value)
        if expr is not None:
            return _defined(ENV.compile_expression(expr, undefined_to_none=False)(**context))
        if "{{" not in value and "{%" not in value:
            return value
        return _text(value, context)
    if isinstance(value, dict):
        return {k: _render(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v, context) for v in value]
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
    return _within_deadline(lambda: bool(CONDITION_ENV.compile_expression(expr)(**context)))


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
        _within_deadline(ENV.compile, ast)  # unknown filters, tests and constant bombs show up here
    except TemplateError as exc:
        return [f"template error: {exc.message or exc}"]
    if any(ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))):
        return ["template error: templates cannot load other templates (include, import, "
                "extends); write the text in this field"]
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
    return out or _trial(source, trigger_sample, steps_before)


def _trial(source: str, trigger_sample: dict[str, Any] | None,
           steps_before: dict[str, Any]) -> list[str]:
    """Render once on the sample data (missing fields read as empty): a template that breaks a
    bound or touches what the sandbox forbids even there is refused before it ever runs."""
    context = {"trigger": trigger_sample or {},
               "steps": {step: {"data": sample, "status": "succeeded"}
                         for step, sample in steps_before.items()}}

    def run() -> None:
        for _ in CONDITION_ENV.from_string(source).generate(**context):
            _check_time()

    try:
        _within_deadline(run)
    except (TemplateBoundExceeded, SecurityError) as exc:
        return [f"template refused: {exc.message or exc}"]
    except Exception:  # noqa: BLE001 - other failures depend on the real data, checked at run time
        pass
    return []


def _problems_of(text: str, trigger_sample: Any, steps_before: dict[str, Any],
                 steps_after: set[str], is_condition: bool) -> list[str]:
    return problems(text, trigger_sample=trigger_sample, steps_before=steps_before,
                    steps_after=steps_after, is_condition=is_condition)


async def problems_bounded(text: str, *, trigger_sample: dict[str, Any] | None,
                           steps_before: dict[str, Any], steps_after: set[str],
                           is_condition: bool = False) -> list[str]:
    """:func:`problems` in a render process (its trial rendering may take RENDER_SECONDS)."""
    try:
        return await _isolated("_problems_of", text, trigger_sample, steps_before, steps_after,
                               is_condition)
    except TemplateError as exc:
        return [f"template refused: {exc.message or exc}"]
