"""Request bodies of our own API. Unknown top-level fields are refused, naming them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GHLConnectionIn(Strict):
    app: Literal["ghl"] = "ghl"
    name: str = Field("GHL location", min_length=1, max_length=200)
    token: SecretStr = Field(description="A GHL Private Integration token (Settings > Private "
                                         "Integrations in the sub-account), starting with 'pit-'.")
    location_id: str | None = Field(None, min_length=1, max_length=100,
                                    description="The GHL sub-account (location) id the token is for.")
    company_id: str | None = Field(None, min_length=1, max_length=100,
                                   description="The agency (company) id, for agency tokens.")

    @model_validator(mode="after")
    def _scope(self) -> "GHLConnectionIn":
        if not self.location_id and not self.company_id:
            raise ValueError("location_id is required (or company_id for an agency token)")
        return self


class ActionIn(Strict):
    connection_id: str = Field(min_length=1, max_length=100)
    input: dict[str, Any] = Field(default_factory=dict)
