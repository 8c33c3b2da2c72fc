"""What every part of the GHL sandbox answers with, and how a part says what it serves.

GHL's error body, JSON answers, a request's body, the checks GHL makes before most answers
(required fields and paging params, the location a token may touch) and the lookup of an object
that the token's location owns. An area of the sandbox (a module per part of the API: contacts,
calendars...) describes itself as an :class:`Area`: its hand-written handlers, how it seeds its
data, and the collections it names otherwise. A handler says which upstream endpoint it answers
where it is written, as web frameworks put a route on its view: ``@answers("GET /blogs/site/all")``
only marks the function (nothing is registered on import), and ``Area.of`` gathers the marked
functions a module defines. The mark also declares the checks GHL makes before the handler's
answer (``checked=True``, ``required_query=(...)``, ``required=True``), which the sandbox runs
before it calls the handler (:func:`sandbox.handlers.handle`), so a handler holds only its own
logic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, TypeVar

from fastapi.responses import JSONResponse, Response

from sandbox.store import Store

DEFAULT_TOKEN = "pit-sandbox-token"
DEFAULT_LOCATION = "loc_sandbox0000000001"
DEFAULT_COMPANY = "cmp_sandbox0000000001"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

Handler = Callable[[Any], Response]
# how POST /_sandbox/seed/{collection} makes its i-th object: (store, i, location id, fields)
Maker = Callable[[Store, int, str, dict], dict[str, Any]]
Seed = Callable[[Store, str, str], None]


F = TypeVar("F", bound=Callable[..., Any])
# the attribute @answers marks a handler with: ("METHOD /path", route key or None) per endpoint
MARK = "answers"
# the attribute with the checks its mark declares (a Checks), on a handler that declares any
CHECKS = "answers_checks"


@dataclass(frozen=True)
class Checks:
    """The checks GHL makes before a handler's answer, as its mark declares them: the spec's
    required fields, then the query params GHL requires (``query``: paging params), then, with
    ``location``, the token's access to the location the request names. Called with a request's
    context, it answers GHL's error of the first that fails, or None."""

    location: bool = True
    query: tuple[str, ...] = ()

    def __call__(self, ctx) -> JSONResponse | None:
        if self.location:
            return checked(ctx, *self.query)
        return missing_required(ctx) or require_query(ctx, *self.query)


def answers(*endpoints: str, key: str | None = None, checked: bool = False,
            required_query: Iterable[str] = (), required: bool = False) -> Callable[[F], F]:
    """Mark a handler as the answer to upstream ``endpoints`` (``"METHOD /path/{param}"``), the
    way a web framework puts a route beside its view. The mark is an attribute of the function
    and nothing else: the module's :class:`Area` (or route table) gathers it. Marks stack, for a
    handler answering several endpoints. ``key`` names the route where no spec declares the
    endpoint (then the mark names one endpoint).

    The mark also declares the checks GHL makes before the handler answers, which the sandbox
    runs first and answers with when one fails (:class:`Checks`): ``checked=True``, the checks
    before most answers (:func:`checked`: required fields, the location the request names);
    ``required_query``, the query params GHL also requires (paging params; implies
    ``checked``); ``required=True``, the spec's required fields only. Stacked marks declare the
    same checks."""
    if key is not None and len(endpoints) != 1:
        raise TypeError("@answers(..., key=...) names one endpoint")
    query = tuple(required_query)
    declared = (Checks(location=True, query=query) if checked or query
                else Checks(location=False) if required else None)

    def mark(fn: F) -> F:
        if getattr(fn, MARK, ()) and getattr(fn, CHECKS, None) != declared:
            raise TypeError(f"{fn.__module__}.{fn.__name__}: stacked @answers marks declare "
                            "different checks")
        setattr(fn, MARK, tuple((name, key) for name in endpoints) + getattr(fn, MARK, ()))
        setattr(fn, CHECKS, declared)
        return fn
    return mark


def marks(fn: Callable[..., Any]) -> tuple[tuple[str, str | None], ...]:
    """(``"METHOD /path"``, route key or None) for each endpoint ``fn`` is marked to answer."""
    found = getattr(fn, MARK, ())
    return found if isinstance(found, tuple) else ()


def checks(fn: Callable[..., Any]) -> Checks | None:
    """The checks ``fn``'s mark declares GHL makes before it answers, or None."""
    found = getattr(fn, CHECKS, None)
    return found if isinstance(found, Checks) else None


def marked(namespace: Mapping[str, Any]) -> tuple[Callable[..., Any], ...]:
    """The functions a module defines and marks with :func:`answers`, in the order written, from
    the module's ``vars()`` (functions it imports are its neighbours', not its own)."""
    found: dict[int, Callable[..., Any]] = {}
    for value in namespace.values():
        if (callable(value) and marks(value)
                and getattr(value, "__module__", None) == namespace.get("__name__")):
            found.setdefault(id(value), value)
    return tuple(found.values())


def table(functions: Iterable[Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """``"METHOD /path"`` (trailing slash aside) -> the one function of ``functions`` marked to
    answer that endpoint.

    :raises ValueError: a function has no mark, an endpoint is not named ``METHOD /path``, or
        two functions answer one endpoint.
    """
    found: dict[str, Callable[..., Any]] = {}
    for fn in functions:
        name_of = f"{fn.__module__}.{fn.__name__}"
        if not marks(fn):
            raise ValueError(f"{name_of} answers no endpoint: mark it @answers('METHOD /path')")
        for name, _key in marks(fn):
            method, _, template = name.partition(" ")
            if not template.startswith("/") or method not in METHODS:
                raise ValueError(f"{name_of}: {name!r}: a handler names its endpoint as "
                                 "'METHOD /path'")
            endpoint_key = endpoint(method, template)
            if found.get(endpoint_key, fn) is not fn:
                other = found[endpoint_key]
                raise ValueError(f"{endpoint_key} has two hand-written handlers: "
                                 f"{other.__module__}.{other.__name__} and {name_of}")
            found[endpoint_key] = fn
    return found


@dataclass(frozen=True)
class Area:
    """One part of the GHL API as the sandbox serves it.

    ``handlers`` are the hand-written handlers, each marked with the upstream endpoints it
    answers (:func:`answers`; the generic store answers the rest, and a mark's key names a route
    no spec declares); ``seed`` puts the area's data into a fresh store (location id, company
    id); ``makers`` make more objects of a collection for the seed control route; ``aliases``
    name the collection of a list path whose objects live in another."""

    name: str
    handlers: tuple[Handler, ...] = ()
    seed: Seed | None = None
    makers: Mapping[str, Maker] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, namespace: Mapping[str, Any], **parts: Any) -> Area:
        """The area ``name`` served by the handlers its module marks (pass the module's
        ``vars()``), with its other ``parts`` (seed, makers, aliases)."""
        return cls(name, handlers=marked(namespace), **parts)

    def routes(self) -> tuple[tuple[str, str, str], ...]:
        """(key, method, path) of the endpoints its handlers answer that no spec declares."""
        return tuple((key, *name.split(" ", 1)) for fn in self.handlers
                     for name, key in marks(fn) if key is not None)


def endpoint(method: str, template: str) -> str:
    """``("GET", "/contacts/")`` → ``"GET /contacts"``: how a handler names the upstream endpoint
    it answers (the trailing slash aside, as GHL routes it)."""
    return f"{method.upper()} /{template.strip('/')}"


ERROR_NAMES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               422: "Unprocessable Entity", 429: "Too Many Requests",
               500: "Internal Server Error"}


def error(status: int, message: Any, error_name: str | None = None, **extra: Any) -> JSONResponse:
    """An error in GHL's body shape: ``{statusCode, message, error}`` (and ``extra``)."""
    return JSONResponse({"statusCode": status, "message": message,
                         "error": error_name or ERROR_NAMES.get(status, "Error"), **extra},
                        status_code=status)


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


async def read_json(request) -> Any:
    """A request's JSON body, or None when it is empty or not JSON."""
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def read_body(request) -> Any:
    """A request's body: its JSON, or its fields for an HTML form or a multipart form (a file
    part as its file name), or None when it is empty or unreadable."""
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        return {name: getattr(value, "filename", None) or value if not isinstance(value, str) else value
                for name, value in form.multi_items()}
    return await read_json(request)


# ----------------------------------------------------------------------------- checks


def location_mismatch(ctx, location_id: Any) -> JSONResponse | None:
    if location_id and location_id != ctx.location_id:
        return error(403, "The token does not have access to this location.")
    return None


def missing_required(ctx) -> JSONResponse | None:
    """422 in GHL's shape for required body and query fields the spec declares."""
    problems = []
    for item in ctx.op.inputs:
        if not item.required or item.location == "path":
            continue
        source = ctx.body if item.location == "body" else ctx.query
        if source.get(item.name) in (None, ""):
            problems.append(f"{item.name} should not be empty")
    return error(422, problems) if problems else None


def _is_int(value: Any) -> bool:
    try:
        int(value)
        return True
    except (TypeError, ValueError):
        return False


def require_query(ctx, *names: str) -> JSONResponse | None:
    """422 in GHL's shape when query params GHL requires are absent (skip, limit, offset...)."""
    problems = [f"{n} should not be empty" for n in names if ctx.query.get(n) in (None, "")]
    problems += [f"{n} must be a number conforming to the specified constraints"
                 for n in names if ctx.query.get(n) not in (None, "") and not _is_int(ctx.query[n])]
    return error(422, problems) if problems else None


def checked(ctx, *required_query: str) -> JSONResponse | None:
    """The checks GHL makes before most answers: the spec's required fields, the paging params
    it requires (``required_query``) and the token's access to the location the request names
    (in its body, else in its query). A handler's mark declares them where they come first
    (``@answers(..., checked=True)``); a handler calls this where GHL checks something else
    first."""
    return (missing_required(ctx) or require_query(ctx, *required_query)
            or location_mismatch(ctx, ctx.body.get("locationId", ctx.query.get("locationId"))))


def owned(ctx, collection: str, obj_id: Any, missing: str, status: int = 400,
          parents: tuple[str, ...] = ()) -> tuple[dict[str, Any] | None, JSONResponse | None]:
    """(the object ``obj_id`` of ``collection`` when the token's location owns it, None) or
    (None, GHL's ``status`` error saying ``missing``)."""
    found = ctx.store.get(collection, str(obj_id), parents)
    if found is None or found.get("locationId") != ctx.location_id:
        return None, error(status, missing)
    return found, None


def number(value: Any, name: str) -> tuple[int | None, JSONResponse | None]:
    """(``value`` as a whole number, or None when it is empty; None), or (None, GHL's 422 for
    the param ``name``) when it is not a number."""
    if value in (None, ""):
        return None, None
    try:
        return int(float(value)), None
    except (TypeError, ValueError):
        return None, error(422, [f"{name} must be a number"])


def bounded(ctx, name: str, default: int, most: int,
            source: Mapping[str, Any] | None = None) -> tuple[int, JSONResponse | None]:
    """(the page size param ``name`` of the query, or of ``source``, as a number, or ``default``
    when it is absent or 0; None), or (0, GHL's 422) when it is not a number or above ``most``."""
    size, bad = number((ctx.query if source is None else source).get(name), name)
    if bad:
        return 0, bad
    size = size or default
    if not 1 <= size <= most:
        return 0, error(422, [f"{name} must not be greater than {most}"])
    return size, None
