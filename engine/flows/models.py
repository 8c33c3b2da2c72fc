"""The flow definition: a trigger and the steps its new items run, as the API accepts them."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from engine.core import phones

MAX_STEPS = 20
STEP_ID = r"^[a-z][a-z0-9_]{0,39}$"


def _region(value: str | None) -> str | None:
    try:
        return phones.region_code(value)
    except phones.PhoneError as exc:
        raise ValueError(exc.message) from None


Region = Annotated[str | None, AfterValidator(_region), Field(
    None, description="Country (ISO 3166-1 alpha-2, e.g. AU) for phone numbers "
    "written without their country code; empty: the GHL location's country.")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # true is no integer, "5" neither


class FlowTrigger(_Model):
    """What starts a flow: a trigger key, the connection it reads through, its inputs and its poll
    interval in minutes (1 to 15; None: the trigger's default)."""

    key: str = Field(min_length=3, max_length=100, description="A trigger key, e.g. smsglobal.new_incoming_sms.")
    connection_id: str = Field(min_length=1, max_length=100)
    params: dict[str, Any] = Field(default_factory=dict)
    interval_minutes: int | None = Field(None, ge=1, le=15)


class FlowStep(_Model):
    """One step of a flow: an action (or a trigger read) through a connection, with an input whose
    strings may be templates, and optional ``when``, ``echo`` and ``once`` templates."""

    id: str = Field(pattern=STEP_ID, description="Short name later steps use: steps.<id>.data.")
    action: str = Field(min_length=3, max_length=100,
                        description="An action key, or a trigger key to read something.")
    connection_id: str = Field(min_length=1, max_length=100)
    input: dict[str, Any] = Field(default_factory=dict,
                                  description="The action's input; strings may be templates.")
    when: str | None = Field(None, max_length=2000,
                             description="Run the step only when this expression is true.")
    echo: str | None = Field(None, max_length=2000,
                             description="Fingerprint of what the step writes, for skip_echo.")
    once: str | None = Field(None, max_length=2000,
                             description="Do the step at most once per value of this template in "
                                         "the flow, e.g. once per contact: {{ trigger.id }}.")


class FlowIn(_Model):
    """A flow: a name, its trigger, 1 to 20 steps run in order for each new trigger item, an
    optional ``skip_echo`` fingerprint and the default phone region of its templates."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Inbound SMS to note", "trigger": {"key": "smsglobal.new_incoming_sms", "connection_id": "conn_8a7b6c5d4e3f2a1b0c9d", "interval_minutes": 1}, "steps": [{"id": "find", "action": "contacts.find_contact", "connection_id": "conn_3f9c2a1b7d4e5f60a1b2", "input": {"number": "{{ trigger.origin }}"}}]}]})
    name: str = Field(min_length=1, max_length=200)
    trigger: FlowTrigger
    steps: list[FlowStep] = Field(min_length=1, max_length=MAX_STEPS)
    skip_echo: str | None = Field(None, max_length=2000,
                                  description="Fingerprint of a trigger item; an item matching a "
                                              "write recorded by a step's echo is skipped.")
    region: Region = None


class FlowPatch(_Model):
    """Changes to a flow: any of its name, region, trigger, steps and ``skip_echo``."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Inbound SMS to a note"}]})
    name: str | None = Field(None, min_length=1, max_length=200)
    region: Region = None
    trigger: FlowTrigger | None = None
    steps: list[FlowStep] | None = Field(None, min_length=1, max_length=MAX_STEPS)
    skip_echo: str | None = Field(None, max_length=2000)
