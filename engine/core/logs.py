"""Logging: structlog over the standard library, one line per event.

``ENGINE_LOG_FORMAT=json`` (the default, for production) writes one JSON object per line;
``console`` (what ``make dev`` uses) writes readable, aligned lines. Every line carries the ids
bound for the work in hand — ``request_id`` and ``tenant`` in the API, ``watch_id``,
``subscription_id`` and ``delivery_id`` in the workers — through structlog's context variables
(:func:`bind`). Lines from the standard ``logging`` module (the engine's modules, uvicorn, arq)
go through the same processors.

INFO is quiet: what happens every second (scheduler ticks, arq's per-job lines, a poll that found
nothing) is logged at DEBUG, so start-up lines and warnings stay visible.

Secrets never reach a log: the engine does not log credentials, and :func:`redact` masks
anything shaped like a bearer token, API key, signing secret or MAC header should one slip in,
in the message and in every string value of the event.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

import structlog

_SECRET = re.compile(r"(Bearer\s+|MAC\s+id=\"|mac=\"|ghle_|pit-|whsec_|hk_|eyJ"
                     r"|[?&]code=|(?:access_token|refresh_token|client_secret|api_secret|api_key)"
                     r"[\"']?\s*[:=]\s*[\"']?)"
                     r"[A-Za-z0-9._~+/=%\\-]+", re.IGNORECASE)

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

QUIET = {"arq.worker": logging.WARNING, "arq.jobs": logging.WARNING,  # a line per job and tick
         "httpx": logging.WARNING, "httpcore": logging.WARNING}  # httpcore DEBUG: raw headers


def mask(text: str) -> str:
    """``text`` with anything shaped like a secret replaced by its prefix and ``***``."""
    return _SECRET.sub(lambda m: m.group(1) + "***", text)


def redact(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: mask secrets in every string value of the event."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = mask(value)
    return event


def _stdlib_message(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """A standard-library record's message, formatted, as the event's text."""
    record = event.get("_record")
    if record is not None and event.get("event") is record.msg:
        event["event"] = record.getMessage()
    return event


def formatter(fmt: str = "json") -> logging.Formatter:
    """The formatter for ``json`` or ``console`` lines (shared by structlog and stdlib loggers)."""
    renderer = (structlog.processors.JSONRenderer() if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.contextvars.merge_contextvars,
                           structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name,
                           structlog.processors.TimeStamper(fmt="iso", utc=True)],
        processors=[_stdlib_message, structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, redact, renderer])


_HANDLER_NAME = "ghl-engine"


def setup_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send every log line (structlog's and the standard library's) to stderr as ``fmt``."""
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.set_name(_HANDLER_NAME)
        root.addHandler(handler)
    handler.setFormatter(formatter(fmt))
    for name in UVICORN_LOGGERS:  # uvicorn's own handlers do not go through the formatter above
        for own in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactSecrets) for f in own.filters):
                own.addFilter(RedactSecrets())
    root.setLevel(level.upper())
    debug = root.level <= logging.DEBUG
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(logging.DEBUG if debug and name.startswith("arq")
                                         else quiet)


def bind(**ids: Any) -> None:
    """Carry ids (request_id, tenant, subscription_id, watch_id …) on every line logged by the
    current task from now on."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})


def unbind(*names: str) -> None:
    """Stop carrying the ids ``names`` (as given to :func:`bind`) on the current task's lines."""
    structlog.contextvars.unbind_contextvars(*names)


class RedactSecrets(logging.Filter):
    """A filter for handlers outside :func:`setup_logging` (uvicorn's own): masks secrets in
    the message, in a traceback (exception text can quote a request header) and in stack info."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask ``record`` in place (message, exception text, stack info); always True: no
        record is dropped."""
        message = record.getMessage()
        redacted = mask(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and record.exc_info[0] is not None:
            text = record.exc_text or "".join(
                traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = mask(text)  # formatters print exc_text when it is set
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


def clear() -> None:
    """Forget the ids bound so far (at the start of a request or a job)."""
    structlog.contextvars.clear_contextvars()
