"""A property test over every operation's input JSON Schema (hypothesis, with schemathesis's
JSON Schema generator: hypothesis-jsonschema 0.23 no longer runs on current hypothesis).

For every operation in the catalog: input the schema accepts is accepted and placed in the
request exactly where the spec (and so the official document) puts each field; input the schema
refuses is refused with a 422 naming a field, before any request is built. Examples are bounded
so the whole test stays around a minute.
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from datetime import timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import urls
from schemathesis.generation.jsonschema.builder import build

from engine.accounts.connections import Connection
from engine.actions.executor import build_call
from engine.core import phones
from engine.core.errors import InputInvalid
from engine.spec.inputs import EXTRA, PHONE_FORMATS, input_schema, validate
from engine.spec.registry import registry

KEYS = sorted(registry())
PHONES = st.sampled_from(["+61412345678", "+14155550123", "+442079460018", "61400000001"])
OFFSETS = st.sampled_from([timezone.utc, timezone(timedelta(hours=10)),
                           timezone(timedelta(hours=-5, minutes=-30))])
# a strategy for each format the input schemas use, so generated input is of that format
FORMATS = {
    "phone": PHONES, "msisdn": PHONES,
    "date-time": st.datetimes(timezones=OFFSETS).map(lambda d: d.isoformat()),
    "date": st.dates().map(lambda d: d.isoformat()),
    "email": st.emails(),
    "uri": urls(),
}
JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6)
                    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
EXAMPLES = settings(max_examples=8, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def _conn(op) -> Connection:
    return Connection(id="conn_x", tenant="t", app=op.app, name="x", auth="token",
                      location_id="loc_x", company_id="cmp_x")


def _is_phone(value: str) -> bool:
    try:
        phones.e164(value)
    except phones.PhoneError:
        return False
    return True


@pytest.mark.parametrize("key", KEYS)
def test_input_the_schema_accepts_is_accepted_and_placed_by_the_spec(key):
    op = registry()[key]
    schema = input_schema(op)

    @EXAMPLES
    @given(build(schema, draft=20, formats=FORMATS))
    def check(data: dict[str, Any]) -> None:
        values = validate(op, data)
        call = build_call(op, values, _conn(op))
        for field in op.inputs:
            if data.get(field.name) in (None, []) or (field.fill and data[field.name] == ""):
                continue  # unset, no values, or left to the connection to fill
            if field.location == "path":
                assert "{" + field.name + "}" not in call.path
            elif field.location == "query":
                assert field.name in {name for name, _ in call.query}
            elif op.upstream.body_input == field.name:
                assert call.body == values[field.name]
            else:
                assert call.body[field.name] == values[field.name]
        for name, value in (data.get(EXTRA) or {}).items():
            assert call.body.get(name) == value  # undeclared body fields go as given (null: not)

    check()


@pytest.mark.parametrize("key", KEYS)
def test_input_the_schema_refuses_gets_a_422_naming_a_field(key):
    op = registry()[key]
    schema = input_schema(op)
    validator = jsonschema_rs.validator_for(
        schema, validate_formats=True, formats={f: _is_phone for f in PHONE_FORMATS})
    names = [i.name for i in op.inputs]
    keys = st.sampled_from(names + ["emial", "extra", "x"]) if names else st.just("x")

    @EXAMPLES
    @given(st.dictionaries(keys, JSON, max_size=4))
    def check(data: dict[str, Any]) -> None:
        if validator.is_valid(data):
            validate(op, data)  # the schema accepts it: so does the engine
            return
        with pytest.raises(InputInvalid) as refused:
            validate(op, data)
        assert all(p["field"].startswith("input") for p in refused.value.details)

    check()
