"""Logging set-up. Secrets never reach a log: the engine does not log credentials, and this
filter masks anything shaped like a bearer token, API key or MAC header should one slip in."""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(r"(Bearer\s+|mac=\"|ghle_|pit-|whsec_|eyJ"
                     r"|[?&]code=|(?:access_token|refresh_token|client_secret|api_secret)[\"']?\s*[:=]\s*[\"']?)"
                     r"[A-Za-z0-9._~+/=%-]+", re.IGNORECASE)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET.sub(lambda m: m.group(1) + "***", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(isinstance(f, RedactSecrets) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.addFilter(RedactSecrets())
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)  # its DEBUG lines carry raw headers
