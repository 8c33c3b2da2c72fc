"""One upstream call, as the executor builds it and before the app signs it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    """One upstream call, before signing."""

    method: str
    path: str
    version: str | None = None
    query: list[tuple[str, Any]] = field(default_factory=list)
    body: Any = None
    safe_to_retry: bool = True
    response: str = "json"
    # False: a 401 is the answer, not a reason to refresh the OAuth token and send again (GHL's
    # status calls are refused with 401 for a few seconds after a send, whatever the token)
    reauthorize: bool = True
    body_format: str = "json"  # json | form | multipart
    file_fields: tuple[str, ...] = ()  # multipart body fields sent as file parts
