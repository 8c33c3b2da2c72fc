"""Request bodies of our own API. Unknown top-level fields are refused, naming them, and every
field is strictly typed: ``true`` or ``"5"`` is not an integer, ``5`` is not a string."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, SecretStr, Tag,
                      field_validator, model_validator)

ID_PATTERN = r"^[A-Za-z0-9_-]+$"
"""GHL location and company ids: letters, digits, '_' and '-' (GHL's own are 20 alphanumerics)."""


class FieldError(ValueError):
    """A rule of a request model broken by one field, raised in a model validator: its 422 names
    ``field`` (a model validator's error otherwise names the whole body) with ``message``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Strict(BaseModel):
    """Base of the API's request bodies: unknown fields are refused and types are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True)


def credential(value: SecretStr, what: str) -> SecretStr:
    """A pasted credential with surrounding whitespace stripped; refuses (ValueError, never
    echoing the value) control characters and non-ASCII, which no HTTP header can carry."""
    text = value.get_secret_value().strip()
    if not text:
        raise ValueError(f"{what} is empty")
    if any(not (0x20 < ord(ch) < 0x7f) for ch in text):
        raise ValueError(f"{what} holds a space, a control character or a non-ASCII character; "
                         "paste the exact value")
    return SecretStr(text)


class GHLConnectionIn(Strict):
    """A GHL connection to create: a Private Integration token for a location (or an agency
    token with ``company_id``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Acme Dental", "token": "pit-…", "location_id": "ve9EPM428h8vShlRW1KT"}]})
    app: Literal["ghl"] = "ghl"
    name: str = Field("GHL location", min_length=1, max_length=200)
    token: SecretStr = Field(description="A GHL Private Integration token (Settings > Private "
                                         "Integrations in the sub-account), starting with 'pit-'.")
    location_id: str | None = Field(None, min_length=1, max_length=100, pattern=ID_PATTERN,
                                    description="The GHL sub-account (location) id the token is for.")
    company_id: str | None = Field(None, min_length=1, max_length=100, pattern=ID_PATTERN,
                                   description="The agency (company) id, for agency tokens.")

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        return credential(value, "the token")

    @model_validator(mode="after")
    def _scope(self) -> "GHLConnectionIn":
        if not self.location_id and not self.company_id:
            raise FieldError("location_id", "required: the GHL sub-account (location) id the "
                             "token is for (or company_id for an agency token)")
        return self


class SMSGlobalConnectionIn(Strict):
    """An SMSGlobal connection to create: a REST API key and its secret."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"app": "smsglobal", "name": "Acme SMS", "api_key": "…", "api_secret": "…"}]})
    app: Literal["smsglobal"]
    name: str = Field("SMSGlobal account", min_length=1, max_length=200)
    api_key: SecretStr = Field(min_length=8, max_length=200,
                               description="The REST API key from MXT > Integrations > REST API "
                                           "keys (32 hex characters).")
    api_secret: SecretStr = Field(min_length=8, max_length=200,
                                  description="The secret shown once beside that API key.")

    @field_validator("api_key", "api_secret")
    @classmethod
    def _credential(cls, value: SecretStr, info) -> SecretStr:
        return credential(value, info.field_name)


class ConnectionPatch(Strict):
    """New credentials or a new name for a connection; only the fields of its app."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"token": "pit-…"}]})
    name: str | None = Field(None, min_length=1, max_length=200)
    token: SecretStr | None = Field(None, min_length=1, max_length=4000,
                                    description="GHL: a new Private Integration token.")
    api_key: SecretStr | None = Field(None, min_length=8, max_length=200,
                                      description="SMSGlobal: a new REST API key.")
    api_secret: SecretStr | None = Field(None, min_length=8, max_length=200,
                                         description="SMSGlobal: the secret of that key.")

    @field_validator("token", "api_key", "api_secret")
    @classmethod
    def _credential(cls, value: SecretStr | None, info) -> SecretStr | None:
        # an empty one is left to engine.polling.health.update, which names it "must not be empty"
        if value is None or not value.get_secret_value().strip():
            return value
        return credential(value, info.field_name)


def _connection_app(value: Any) -> str:
    if isinstance(value, dict) and "app" not in value and "token" not in value and (
            "api_key" in value or "api_secret" in value):
        return "smsglobal"  # SMSGlobal's fields without app: the answer asks for app
    app = value.get("app", "ghl") if isinstance(value, dict) else getattr(value, "app", "ghl")
    return app if app in ("ghl", "smsglobal") else "unknown"


ConnectionIn = Annotated[
    Union[Annotated[GHLConnectionIn, Tag("ghl")],
          Annotated[SMSGlobalConnectionIn, Tag("smsglobal")]],
    Discriminator(_connection_app, custom_error_type="unknown_app",
                  custom_error_message="app must be 'ghl' or 'smsglobal'"),
]
"""A new connection: a GHL token (``app`` left out means ghl) or an SMSGlobal key and secret
(``app: smsglobal``; SMSGlobal's fields without ``app`` are refused on ``app``, saying so)."""


class GHLRequestIn(Strict):
    """One raw GHL request (``POST /v1/ghl/request``), for endpoints the catalog has no
    operation for."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "connection_id": "conn_3f9c2a1b7d4e5f60a1b2", "method": "GET",
        "path": "/contacts/ocQHyuzHvysMo5N5VsXc", "version": "2021-07-28"}]})

    connection_id: str = Field(min_length=1, max_length=100)
    method: str = Field(max_length=10, description="GET, POST, PUT, PATCH or DELETE.")
    path: str = Field(max_length=2000, description="The path under the GHL API base URL with its "
                                                   "parameters filled in, e.g. '/contacts/abc'.")
    query: dict[str, Any] = Field(default_factory=dict, description="Query parameters; a list "
                                                                    "value repeats the parameter.")
    body: Any = Field(None, description="The JSON body (not for GET).")
    version: str | None = Field(None, description="The Version header: 2021-07-28 (default) or "
                                                  "2021-04-15, as the endpoint's documentation says.")


class ActionIn(Strict):
    """An action call: the connection to act through and the operation's input (a JSON object,
    checked against the operation's input schema)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"connection_id": "conn_3f9c2a1b7d4e5f60a1b2", "input": {"firstName": "Ada", "email": "ada@example.com"}}]})
    connection_id: str = Field(min_length=1, max_length=100)
    input: dict[str, Any] = Field(default_factory=dict)
