"""From a spec's inputs to one pydantic model (validation) and one JSON Schema (forms).

Both come from the same generated model, so what a form shows is what the engine accepts.
Unknown fields pass through to the body of operations that have one; elsewhere they are refused.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    create_model,
)
from pydantic_core import PydanticCustomError

from engine.core.errors import InputInvalid
from engine.spec.model import Input, Operation

_SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "object": dict[str, Any],
}


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


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


def _annotation(field: Input) -> Any:
    if field.enum:
        return _one_of(field)
    if field.type == "array":
        return list[_SCALARS.get(field.items or "string", Any)]
    return _SCALARS[field.type]


def _field(field: Input) -> tuple[Any, Any]:
    extra: dict[str, Any] = {"x-location": field.location}
    if field.format:
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


_MODELS: dict[str, type[BaseModel]] = {}
_SCHEMAS: dict[str, dict[str, Any]] = {}


def input_model(op: Operation) -> type[BaseModel]:
    """The pydantic model of ``op``'s inputs, built once per operation."""
    model = _MODELS.get(op.key)
    if model is None:
        model = _MODELS[op.key] = _build_model(op)
    return model


def _build_model(op: Operation) -> type[BaseModel]:
    config = ConfigDict(
        extra="allow" if op.has_body else "forbid",
        populate_by_name=False,
        title=op.key,
    )
    fields = {f"f{i}": _field(field) for i, field in enumerate(op.inputs)}
    return create_model(f"Input_{op.key.replace('.', '_')}", __config__=config, **fields)


def input_schema(op: Operation) -> dict[str, Any]:
    """The JSON Schema of ``op``'s inputs, for forms; the same model validates them."""
    schema = _SCHEMAS.get(op.key)
    if schema is None:
        schema = input_model(op).model_json_schema(by_alias=True)
        schema["additionalProperties"] = op.has_body
        _SCHEMAS[op.key] = schema
    return schema


def validate(op: Operation, data: dict[str, Any]) -> dict[str, Any]:
    """Validate caller input; return the values by upstream name (unset optionals dropped)."""
    if not isinstance(data, dict):
        raise InputInvalid([{"field": "input", "message": "input must be a JSON object"}])
    try:
        model = input_model(op).model_validate(data)
    except ValidationError as exc:
        raise InputInvalid(_problems(op, exc)) from None
    values = model.model_dump(by_alias=True, exclude_unset=True)
    for field in op.inputs:
        if field.name not in values and field.default is not None:
            values[field.name] = field.default
    values.update(model.model_extra or {})
    return values


def _problems(op: Operation, exc: ValidationError) -> list[dict[str, Any]]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ())]
        name = loc[0] if loc else "input"
        field = op.input(name)
        where = field.location if field else "input"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = f"unknown field; this operation accepts: {', '.join(i.name for i in op.inputs) or 'no input'}"
        elif err["type"] == "missing" and field is not None:
            message = f"required {where} field is missing: {field.help}"
        elif err["type"] == "string_pattern_mismatch" and where == "path":
            message = "must be one id, without '/', '?' or '#'"
        elif field is not None and field.enum and err["type"] == "literal_error":
            message = f"must be one of {', '.join(map(str, field.enum))}"
        problems.append({"field": ".".join(["input", *loc]), "location": where, "message": message})
    return problems
