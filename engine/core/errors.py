"""The engine's exceptions. Every one maps to one HTTP status and the error shape
``{"error": {"code", "message", "details"}}`` a caller sees.

EngineError
 ├── InputInvalid          422  bad input; details list every bad field
 ├── NotFound              404  unknown operation, connection, subscription...
 ├── Conflict              409  idempotency key reused with another body, ...
 ├── Unauthorized          401  missing or unknown API key
 ├── Forbidden             403  read-only key on a write route
 ├── RateLimited           429  our own per-key limit or the GHL budget; carries retry_after
 └── UpstreamError         GHL/SMSGlobal answered with an error (status passed on)
      ├── UpstreamAuthError      the token is invalid or expired
      └── UpstreamUnavailable    502/504: unreachable after retries
"""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """The base of the engine's errors: its HTTP ``status`` and ``code`` are class defaults,
    set by each kind as class keywords (``class NotFound(EngineError, status=404,
    code="not_found")``); one raise may override either."""

    status: int = 500
    code: str = "internal_error"

    def __init_subclass__(cls, *, status: int | None = None, code: str | None = None,
                          **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if code is not None:
            cls.code = code

    def __init__(self, message: str, *, details: Any = None, status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def body(self) -> dict[str, Any]:
        """The error as the API sends it: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InputInvalid(EngineError, status=422, code="invalid_input"):
    """422: the input failed validation; ``problems`` (the details) is a list of
    ``{"field": dotted path, ...}`` dicts, one per bad field."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        fields = ", ".join(p["field"] for p in problems)
        super().__init__(f"invalid input: {fields}", details=problems)


class NotFound(EngineError, status=404, code="not_found"):
    """404: an unknown (or another tenant's) operation, connection, subscription or flow."""


class Conflict(EngineError, status=409, code="conflict"):
    """409: the request clashes with stored state: an Idempotency-Key reused with another body
    or still in progress, an identical subscription, a pushed event already received."""


class Unauthorized(EngineError, status=401, code="unauthorized"):
    """401: no API key, or one the engine does not know."""


class Forbidden(EngineError, status=403, code="forbidden"):
    """403: the API key may not do this (a read-only key on a write route)."""


class RateLimited(EngineError, status=429, code="rate_limited"):
    """429: the API key's own limit or the upstream budget is spent; ``retry_after`` is the wait
    in seconds (float) before a retry may pass."""

    def __init__(self, message: str, *, retry_after: float, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class UpstreamError(EngineError, code="upstream_error"):
    """GHL or SMSGlobal answered with an error: ``status`` is the status passed on to the caller,
    ``attempts`` how many requests were made (retries included)."""

    def __init__(self, message: str, *, status: int, details: Any = None, attempts: int = 1,
                 code: str | None = None) -> None:
        super().__init__(message, details=details, status=status, code=code)
        self.attempts = attempts


class UpstreamAuthError(UpstreamError, code="upstream_unauthorized"):
    """Upstream refused the credentials (401/403), or an OAuth token could not be issued or
    refreshed: the connection needs new credentials."""


class UpstreamUnavailable(UpstreamError, code="upstream_unavailable"):
    """502/504: upstream could not be reached, or kept failing, after every retry."""
