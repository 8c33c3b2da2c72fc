"""From a spec's inputs to one pydantic model (validation) and one JSON Schema (forms).

Both come from the same generated model, so what a form shows is what the engine accepts.

Validation is strict: a boolean is ``true`` or ``false`` (never ``"yes"``), a number is a JSON
number, and a string with a ``format`` must be one (date-time is RFC 3339 with its offset, date
is ``YYYY-MM-DD``, email an address, uri an absolute URI). Phone numbers (``format: phone``) are
read by libphonenumber and sent as E.164 (``+61412345678``), SMSGlobal numbers
(``format: msisdn``) as digits with the country code first (``61412345678``).

A key the spec does not declare is refused, naming the closest known names. Body fields the spec
does not list go in the explicit ``extra`` object of an operation with a JSON body; they are sent
in the body as given.
"""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BeforeValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    create_model,
)
from pydantic_core import PydanticCustomError

from engine.core import phones
from engine.core.errors import InputInvalid
from engine.spec.model import Input, Operation

EXTRA = "extra"

_SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "object": dict[str, Any],
}

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")


def _bad(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(f"format_{kind}", message)


def _date_time(value: str, info: ValidationInfo) -> str:
    try:
        if _DATE_TIME.match(value):
            datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
            return value
    except ValueError:
        pass
    raise _bad("date_time", "must be a date and time with its offset (RFC 3339), e.g. "
                            "2026-02-01T11:00:00Z or 2026-02-01T11:00:00+10:00")


def _date(value: str, info: ValidationInfo) -> str:
    try:
        if _DATE.match(value):
            date.fromisoformat(value)
            return value
    except ValueError:
        pass
    raise _bad("date", "must be a date as YYYY-MM-DD, e.g. 2026-02-01")


def _email(value: str, info: ValidationInfo) -> str:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise _bad("email", f"must be an email address like name@example.com ({exc})") from None
    return value


def _uri(value: str, info: ValidationInfo) -> str:
    scheme, _, rest = value.partition(":")
    ok = bool(rest) and _SCHEME.match(scheme) and not re.search(r"[\s<>\"{}|\\^`\x00-\x1f\x7f]", value)
    if ok and scheme.lower() in ("http", "https"):
        try:
            ok = bool(urlsplit(value).hostname)
        except ValueError:
            ok = False
    if not ok:
        raise _bad("uri", "must be an absolute URL, e.g. https://example.com/page")
    return value


def _region(info: ValidationInfo) -> str | None:
    return (info.context or {}).get("region")


def _phone(value: str, info: ValidationInfo) -> str:
    try:
        return phones.e164(value, _region(info))
    except phones.PhoneError as exc:
        raise _bad("phone", exc.message) from None


def _msisdn(value: str, info: ValidationInfo) -> str:
    try:
        return phones.msisdn(value, _region(info))
    except phones.PhoneError as exc:
        raise _bad("phone", exc.message) from None


_FORMATS = {"date-time": _date_time, "date": _date, "email": _email, "uri": _uri,
            "phone": _phone, "msisdn": _msisdn}
PHONE_FORMATS = ("phone", "msisdn")


def _one_of(field: Input) -> Any:
    """A scalar restricted to the spec's choices, listed in the spec's order. (A ``Literal``
    would do, but pydantic shares the schema of equal Literals, whatever their order.)"""
    choices = tuple(field.enum or ())
    base = _SCALARS.get(field.type, str) if field.type in ("string", "integer", "number", "boolean") \
        else type(choices[0])

    def check(value: Any) -> Any:
        if value not in choices:
            raise PydanticCustomError("literal_error", "must be one of {choices}",
                                      {"choices": ", ".join(map(str, choices))})
        return value

    schema = {"type": _JSON_TYPES.get(base, "string"), "enum": list(choices)}
    return Annotated[base, AfterValidator(check), WithJsonSchema(schema)]


def _scalar(kind: str, fmt: str | None) -> Any:
    base = _SCALARS.get(kind, Any)
    if fmt in _FORMATS and kind == "string":  # "binary" (a file part's content) is any text
        return Annotated[str, AfterValidator(_FORMATS[fmt])]
    if kind == "integer":  # JSON's 2.0 is the integer 2, as the JSON Schema says
        return Annotated[int, BeforeValidator(_integral)]
    return base


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _annotation(field: Input) -> Any:
    if field.enum:
        return _one_of(field)
    if field.type == "array":
        return list[_scalar(field.items or "string", field.format)]
    return _scalar(field.type, field.format)


def _field(field: Input) -> tuple[Any, Any]:
    extra: dict[str, Any] = {"x-location": field.location}
    if field.format and field.type == "array":
        extra["items"] = {"type": field.items or "string", "format": field.format}
    elif field.format:
        extra["format"] = field.format
    if field.fill:
        extra["x-fill"] = field.fill
    constraints: dict[str, Any] = {}
    if field.location == "path":
        constraints = {"min_length": 1, "pattern": r"^[^/?#]+$"}
    annotation = _annotation(field)
    required = field.required and field.fill is None
    if not required:
        annotation = annotation | None
    return annotation, Field(
        default=... if required else field.default,
        alias=field.name,
        title=field.label or field.name,
        description=field.help,
        examples=[field.example] if field.example is not None else None,
        json_schema_extra=extra,
        **constraints,
    )


def takes_extra(op: Operation) -> bool:
    """Whether ``op`` accepts an ``extra`` object of undeclared JSON body fields."""
    return op.has_body and not op.upstream.body_input and op.input(EXTRA) is None


_MODELS: dict[str, type[BaseModel]] = {}
_SCHEMAS: dict[str, dict[str, Any]] = {}


def input_model(op: Operation) -> type[BaseModel]:
    """The pydantic model of ``op``'s inputs, built once per operation."""
    model = _MODELS.get(op.key)
    if model is None:
        model = _MODELS[op.key] = _build_model(op)
    return model


def _build_model(op: Operation) -> type[BaseModel]:
    config = ConfigDict(extra="forbid", strict=True, populate_by_name=False, title=op.key)
    fields = {f"f{i}": _field(field) for i, field in enumerate(op.inputs)}
    if takes_extra(op):
        fields["extra_"] = (dict[str, Any] | None, Field(
            default=None, alias=EXTRA, title="Other body fields",
            description="JSON body fields this operation does not list, by their API name, "
                        "sent as given, e.g. {\"customField\": \"value\"}.",
            json_schema_extra={"x-location": "body", "propertyNames": {
                "not": {"enum": [i.name for i in op.inputs]}}}))
    return create_model(f"Input_{op.key.replace('.', '_')}", __config__=config, **fields)


def input_schema(op: Operation) -> dict[str, Any]:
    """The JSON Schema of ``op``'s inputs, for forms; the same model validates them."""
    schema = _SCHEMAS.get(op.key)
    if schema is None:
        schema = input_model(op).model_json_schema(by_alias=True)
        schema["additionalProperties"] = False
        _SCHEMAS[op.key] = schema
    return schema


def needs_region(op: Operation, data: Any) -> bool:
    """Whether a phone input of ``data`` is written without its country (so validating it
    needs the connection's region)."""
    if not isinstance(data, dict):
        return False
    for field in op.inputs:
        if field.format in PHONE_FORMATS and data.get(field.name) is not None:
            value = data[field.name]
            if any(isinstance(v, str) and phones.needs_region(v)
                   for v in (value if isinstance(value, list) else [value])):
                return True
    return False


def validate(op: Operation, data: dict[str, Any], *, region: str | None = None) -> dict[str, Any]:
    """Validate caller input; return the values by upstream name (unset optionals dropped),
    with the ``extra`` object's fields merged in.

    :param region: ISO 3166-1 alpha-2 region reading phone numbers written without country.
    :raises InputInvalid: every bad field at once, each named with how to fix it.
    """
    if not isinstance(data, dict):
        raise InputInvalid([{"field": "input", "message": "input must be a JSON object"}])
    try:
        model = input_model(op).model_validate(data, context={"region": region})
    except ValidationError as exc:
        raise InputInvalid(_problems(op, exc)) from None
    values = model.model_dump(by_alias=True, exclude_unset=True)
    for field in op.inputs:
        if field.name not in values and field.default is not None:
            values[field.name] = field.default
    extra = values.pop(EXTRA, None) if takes_extra(op) else None
    if extra:
        clash = [name for name in extra if op.input(name) is not None]
        if clash:
            raise InputInvalid([{"field": f"input.{EXTRA}.{name}", "location": "body",
                                 "message": f"{name} is a field of this operation: give it "
                                            "directly, not inside extra"} for name in clash])
        values.update(extra)
    return values


def suggest(name: str, known: list[str]) -> list[str]:
    """The known names closest to a mistyped ``name`` (case-insensitive), best first."""
    lowered = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
    return [lowered[c] for c in close]


def _unknown(op: Operation, name: str) -> str:
    known = [i.name for i in op.inputs] + ([EXTRA] if takes_extra(op) else [])
    close = suggest(name, known)
    message = "unknown field"
    if close:
        message += f"; did you mean {' or '.join([', '.join(close[:-1]), close[-1]] if len(close) > 1 else close)}?"
    else:
        message += "."
    message += f" This operation accepts: {', '.join(known) or 'no input'}"
    if takes_extra(op):
        message += ". Other body fields go in the 'extra' object"
    return message


def _problems(op: Operation, exc: ValidationError) -> list[dict[str, Any]]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ())]
        name = loc[0] if loc else "input"
        field = op.input(name)
        where = field.location if field else ("body" if name == EXTRA else "input")
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = _unknown(op, name)
        elif err["type"] == "missing" and field is not None:
            message = f"required {where} field is missing: {field.help}"
        elif err["type"] == "string_pattern_mismatch" and where == "path":
            message = "must be one id, without '/', '?' or '#'"
        elif field is not None and field.enum and err["type"] == "literal_error":
            message = f"must be one of {', '.join(map(str, field.enum))}"
        elif err["type"].startswith("format_") and isinstance(err.get("input"), str):
            message = f"{err['input']!r}: {message}"
        problems.append({"field": ".".join(["input", *loc]), "location": where, "message": message})
    return problems
