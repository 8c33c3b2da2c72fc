"""The operation spec: one frozen pydantic model per GHL or SMSGlobal operation.

A spec is data. It says which upstream endpoint an operation calls, which inputs it takes and
where each goes (path, query or body), and, for a polling trigger, how the response is read as a
list of items: where the items are, their id and timestamp fields, how to page, how to dedupe.

Paginators are composed of small parts with a ``type`` tag (a discriminated union), not one enum
of styles: a *strategy* says what the next page token is; where a page parameter goes (query or
body) is its input's ``location``, like any other input.

    Paginator examples
    ------------------
    NoPagination()                                             # one request, one page
    OffsetPaginator(offset_param="skip", size_param="limit", page_size=100)
    PagePaginator(page_param="page", size_param="pageLimit", page_size=100)
    CursorPaginator(tokens=(Token(param="startAfterId", path="meta.startAfterId"),
                            Token(param="startAfter", path="meta.startAfter")),
                    size_param="limit", page_size=100)
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
PATH_PARAM_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

InputType = Literal["string", "integer", "number", "boolean", "array", "object"]
Location = Literal["path", "query", "body"]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChoicesFrom(_Part):
    """Where an input's choices come from: the items of a list trigger that declares how its items
    are shown as choices (:class:`Choices`), for a form to offer them as a dropdown.

    :param trigger: the key of the list trigger (``users.list_users_by_location``).
    :param each: for choices listed inside each item (the ``stages`` of every pipeline): that
        list field; the trigger must declare choices with the same ``each``.
    :param parent: another input of the operation whose value is the id of the item whose
        ``each`` entries are the choices (the stages of the pipeline given as ``pipelineId``).
    """

    trigger: str
    each: str | None = None
    parent: str | None = None


class FieldsFrom(_Part):
    """An array input of custom field values (``[{"id", "field_value"}]``) that a form shows as
    one field per custom field of the location, as the list trigger ``trigger`` lists them.

    :param trigger: the key of the list trigger of custom fields (``other.list_custom_fields``);
        it must declare choices (:class:`Choices`).
    :param model: the GHL object the fields belong to (``contact``, ``opportunity``).
    """

    trigger: str
    model: str


class Input(_Part):
    """One input of an operation, with everything a form or a validator needs.

    :param name: the upstream name, exactly as sent (``contactId``, ``locationId``).
    :param location: where it goes: the path template, the query string or the JSON body.
    :param type: JSON type; ``items`` gives the element type of an array.
    :param help: one or two sentences a person can act on (where to find the value, its format).
    :param fill: ``location_id`` fills the connection's location when the caller leaves it out.
    :param choices_from: the list trigger whose items a form offers as this input's choices.
    :param found_by: the key of the search action that finds this input's value (an id) from
        what a person knows (``contacts.find_contact`` for a ``contactId``).
    :param fields_from: for custom field values: one form field per custom field listed.
    """

    name: str
    location: Location
    type: InputType = "string"
    required: bool = False
    help: str = Field(min_length=4)
    enum: tuple[Any, ...] | None = None
    default: Any = None
    example: Any = None
    items: InputType | None = None
    format: Literal["date-time", "date", "email", "uri", "phone", "msisdn", "binary"] | None = None
    # location_id / company_id: the connection's; notify_url / incoming_url: the engine's push
    # URLs for this connection (only when ENGINE_PUBLIC_URL is set)
    fill: Literal["location_id", "company_id", "notify_url", "incoming_url"] | None = None
    label: str | None = None
    choices_from: ChoicesFrom | None = None
    found_by: str | None = None
    fields_from: FieldsFrom | None = None

    @model_validator(mode="after")
    def _coherent(self) -> "Input":
        if self.location == "path" and not self.required:
            raise ValueError(f"path input {self.name!r} must be required")
        if self.items is not None and self.type != "array":
            raise ValueError(f"input {self.name!r}: 'items' is only for arrays")
        if self.enum is not None and self.default is not None and self.default not in self.enum:
            raise ValueError(f"input {self.name!r}: default {self.default!r} is not in enum")
        return self


# ----------------------------------------------------------------------------- paginators


class NoPagination(_Part):
    """The whole result comes in one response."""

    type: Literal["none"] = "none"


class _CountedPages(_Part):
    """Pages asked for by a counter that starts at ``start``, each of ``page_size`` items (sent
    as ``size_param``); a shorter page is the last."""

    size_param: str
    page_size: int = Field(gt=0)


class OffsetPaginator(_CountedPages):
    """skip/limit or offset/limit: the next offset is the previous plus the page size."""

    type: Literal["offset"] = "offset"
    offset_param: str
    start: int = 0


class PagePaginator(_CountedPages):
    """page/pageLimit: the next page number is the previous plus one."""

    type: Literal["page"] = "page"
    page_param: str
    start: int = 1


class Token(_Part):
    """One part of a cursor token: the request ``param`` takes the value found at ``path``,
    read from the whole response (``source="response"``) or from the last item of the page."""

    param: str
    path: str
    source: Literal["response", "last_item"] = "response"


class CursorPaginator(_Part):
    """The response (or its last item) carries the token for the next page; tokens may have
    several parts, like GHL's ``startAfter`` + ``startAfterId``."""

    type: Literal["cursor"] = "cursor"
    tokens: tuple[Token, ...] = Field(min_length=1)
    size_param: str | None = None
    page_size: int = Field(default=100, gt=0)
    # the most items upstream gives per page: deep reads and backlogs ask for this many (each
    # page costs one request of the rate budget, whatever its size)
    max_page_size: int | None = Field(default=None, gt=0)
    # dotted path of a boolean in the response that is false on the last page (GHL's
    # ``nextPage``), so the read stops without asking for an empty page
    more_path: str | None = None


class NextUrlPaginator(_Part):
    """The response holds the full URL of the next page at ``path``."""

    type: Literal["next_url"] = "next_url"
    path: str
    size_param: str | None = None
    page_size: int = Field(default=100, gt=0)


Paginator = Annotated[
    Union[NoPagination, OffsetPaginator, PagePaginator, CursorPaginator, NextUrlPaginator],
    Field(discriminator="type"),
]


# ----------------------------------------------------------------------------- trigger parts


class Items(_Part):
    """Where the items are in a response, by dotted path (``contacts``, ``meta.items``; ``$`` is
    the whole body). A missing path gives no items; an object gives a list of one."""

    path: str = "$"
    id_field: str = "id"
    timestamp_field: str | None = None
    single: bool = False
    # for a map keyed by name (free slots: {"2026-03-02": {"slots": [...]}, ...}): the items are
    # the entries at this sub-path of every value, each tagged with its map ``key``
    each: str | None = None


class TimeWindow(_Part):
    """A rolling time range filled into two query params on every read, for endpoints that
    return what lies inside a window (calendar events, free slots)."""

    start_param: str
    end_param: str
    unit: Literal["ms", "s", "iso", "date", "datetime"] = "ms"  # datetime: "YYYY-MM-DD HH:MM:SS" UTC
    lookback_hours: float = 24.0
    lookahead_hours: float = 24.0 * 30


class Dedupe(_Part):
    """How new items are told from known ones.

    ``new``: an item is new when its id was never seen.
    ``updated``: new when its (id, updated timestamp) pair was never seen.
    ``changed``: new when a hash of its content was never seen (objects without timestamps).
    """

    strategy: Literal["new", "updated", "changed"]
    updated_field: str | None = None
    overlap_seconds: int = Field(default=3600, ge=0)
    order: Literal["newest_first", "oldest_first", "unordered"] = "unordered"

    @model_validator(mode="after")
    def _needs_field(self) -> "Dedupe":
        if self.strategy == "updated" and not self.updated_field:
            raise ValueError("dedupe strategy 'updated' needs updated_field")
        return self


class Signal(_Part):
    """The pushed events that tell a watch of this trigger to poll now (an instant trigger).

    An event is a poke, never an item: the poll reads the truth through the watch's cursor.

    :param types: event ``type`` values (GHL's ``ContactCreate``..., or ``SmsDeliveryReceipt``
        and ``SmsIncoming`` for SMSGlobal pushes); GHL's list: its webhook events documents.
    :param match: watch param -> dotted path in the event body. A watch whose param holds
        another value than the event's is not poked; an event without the value pokes every
        watch of the trigger (GHL events may lack fields, e.g. TaskCreate without contactId).
    """

    types: tuple[str, ...] = Field(min_length=1)
    match: dict[str, str] = Field(default_factory=dict)


class Choices(_Part):
    """How a list trigger's items are shown as the choices of a dropdown (the inputs that offer
    them name the trigger in :attr:`Input.choices_from`).

    :param name: the name of this list of choices (``calendars``), stable: a form that kept a
        choice knows the list by it; unique in the catalog.
    :param noun: what one choice is, singular and capitalised (``Calendar``).
    :param label: item fields tried in order for the text a person reads.
    :param value: the item field that is the choice's value (the id a request needs).
    :param each: a list field of every item whose entries are the choices instead of the items
        (a pipeline's ``stages``); ``label`` and ``value`` are then read in those entries.
    :param params: fixed params of the read (``{"model": "all"}``).
    :param params_from_connection: params filled from the chosen connection (param →
        ``location_id`` or ``company_id``), for a read whose location is a path parameter.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    noun: str = Field(min_length=2)
    label: tuple[str, ...] = Field(default=("name", "title"), min_length=1)
    value: str = "id"
    each: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    params_from_connection: dict[str, Literal["location_id", "company_id"]] = Field(
        default_factory=dict)


class Trigger(_Part):
    """How a trigger's response is read as items, paged and deduped.

    ``page_paths`` says where the page is in a response when an endpoint answers in more than
    one shape: the first of these dotted paths that holds an object is the page, and the items
    path, the cursor tokens read from the response and ``more_path`` are read inside it. GHL's
    live ``GET /conversations/{conversationId}/messages`` nests the page under ``messages``
    (``{"messages": {"lastMessageId", "nextPage", "messages": [...]}}``, see
    GoHighLevel/highlevel-api-docs#54) while its document shows it flat; ``("messages", "$")``
    reads both.
    """

    items: Items
    page_paths: tuple[str, ...] = Field(default=("$",), min_length=1)
    paginator: Paginator = NoPagination()
    dedupe: Dedupe
    window: TimeWindow | None = None
    max_pages: int = Field(default=10, gt=0)
    default_interval_minutes: int = Field(default=5, ge=1, le=15)
    # a 404 answer means "no item yet" (a call recording or transcription still being made),
    # not a broken watch: the read gives no items and the next poll asks again
    not_found_is_empty: bool = False
    # pushed events that make a watch of this trigger poll at once (None: polling only)
    events: Signal | None = None
    # how the items are offered as choices of dropdowns: one entry per list of choices (the
    # items themselves, or the entries of a list field of each item)
    choices: tuple[Choices, ...] = ()


# ----------------------------------------------------------------------------- the operation


class Upstream(_Part):
    """The upstream request: method, path template, GHL ``Version`` header and OAuth scopes."""

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    version: str | None = None
    scopes: tuple[str, ...] = ()
    response: Literal["json", "binary", "text"] = "json"
    safe_to_retry: bool | None = None  # None: GET, PUT and DELETE are; POST and PATCH are not
    body_input: str | None = None  # the JSON body is this one body input's value (an array body)
    # a JSON body is sent even when no body field is given (an empty object at least): for a
    # GET or DELETE whose official document defines a request body. None: POST, PUT and PATCH
    # always send one, GET and DELETE only when a body field is given
    json_body: bool | None = None
    # how the body is encoded: JSON, an HTML form (application/x-www-form-urlencoded) or
    # multipart/form-data (file uploads), as the official document of the operation says
    body_format: Literal["json", "form", "multipart"] = "json"

    @property
    def path_params(self) -> list[str]:
        """The ``{name}`` placeholders of ``path``, in order."""
        return PATH_PARAM_RE.findall(self.path)

    @property
    def idempotent(self) -> bool:
        """Whether repeating the request is safe: ``safe_to_retry`` when set, else True for GET, PUT
        and DELETE."""
        if self.safe_to_retry is not None:
            return self.safe_to_retry
        return self.method in ("GET", "PUT", "DELETE")


class Output(_Part):
    """Where the main object of an action's response is (``contact`` in ``{"contact": {...}}``)."""

    path: str = "$"
    id_field: str = "id"


def singular(name: str) -> str:
    """A category or group name as a capitalised singular noun: ``opportunities`` →
    ``Opportunity``, ``businesses`` → ``Business``, ``custom_fields`` → ``Custom Field``."""
    words = name.replace("_", " ").title()
    if words.endswith("ies"):
        return words[:-3] + "y"
    if words.endswith("sses"):
        return words[:-2]
    return words[:-1] if words.endswith("s") and not words.endswith("ss") else words


class Operation(_Part):
    """One operation of the catalog: a polling trigger or an action.

    ``noun`` is what the operation acts on, singular (``Contact``); left out, it is made from the
    group or category (:func:`singular`). ``create_with``, on a search, names the create action
    a form offers with it as "find or create" (the create runs when the search finds nothing).
    """

    key: str
    app: Literal["ghl", "smsglobal"]
    category: str
    group: str | None = None  # a finer grouping inside a broad category ("other" → "blogs")
    title: str
    description: str = Field(min_length=8)
    kind: Literal["trigger", "action"]
    upstream: Upstream
    inputs: tuple[Input, ...] = ()
    trigger: Trigger | None = None
    output: Output = Output()
    search: bool = False
    noun: str = Field(min_length=2)
    create_with: str | None = None
    sample: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _default_noun(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("noun"):
            group = data.get("group") or data.get("category")
            if isinstance(group, str) and group:
                return {**data, "noun": singular(group)}
        return data

    @model_validator(mode="after")
    def _coherent(self) -> "Operation":
        if not KEY_RE.match(self.key):
            raise ValueError(f"key {self.key!r} must look like 'category.snake_name'")
        if (self.kind == "trigger") != (self.trigger is not None):
            raise ValueError("a trigger needs a 'trigger' part and an action must not have one")
        return self

    def input(self, name: str) -> Input | None:
        """The input named ``name``, or None."""
        for field in self.inputs:
            if field.name == name:
                return field
        return None

    def inputs_at(self, location: Location) -> list[Input]:
        """The inputs placed in ``location`` ("path", "query" or "body"), in declared order."""
        return [field for field in self.inputs if field.location == location]

    @property
    def has_body(self) -> bool:
        """Whether the request carries a body: ``json_body`` set, a POST, PUT or PATCH, or any body
        input."""
        return (bool(self.upstream.json_body) or self.upstream.method in ("POST", "PUT", "PATCH")
                or bool(self.inputs_at("body")))
