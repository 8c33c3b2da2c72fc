"""The API's JSON responses: ASCII-escaped, so any stored text renders.

A record written before edge sanitation existed (or by another path) may hold a lone UTF-16
surrogate; plain UTF-8 encoding would fail on it with a 500 and break a whole listing. Escaped
as ``\\ud800`` it is still valid JSON text.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse


class SafeJSONResponse(JSONResponse):
    """A JSONResponse whose body is compact, ASCII-only JSON (non-ASCII as ``\\uXXXX`` escapes)."""

    def render(self, content: Any) -> bytes:
        """``content`` as compact ASCII JSON bytes; raises ValueError on NaN or infinity."""
        return json.dumps(content, ensure_ascii=True, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("ascii")
