"""Log lines: JSON in production and readable in development, carrying the ids of the work in
hand, never a secret; the API returns each request's id."""

from __future__ import annotations

import io
import json
import logging

from engine.core import logs


def capture(fmt: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.formatter(fmt))
    logger = logging.getLogger(f"test.logs.{fmt}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def test_json_lines_carry_the_bound_ids_and_mask_secrets():
    logger, out = capture("json")
    logs.clear()
    logs.bind(request_id="req_1", tenant="acme", subscription_id="sub_9", watch_id="w_3")
    try:
        logger.info("sent with %s", "Authorization: Bearer eyJhbGciOi.payload.sig")
        logger.warning("stored refresh_token=rt-abc123def for conn_1")
    finally:
        logs.clear()
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    for line in (first, second):
        assert (line["request_id"], line["tenant"], line["subscription_id"], line["watch_id"]) == (
            "req_1", "acme", "sub_9", "w_3")
        assert line["timestamp"].endswith("Z") and line["logger"] == "test.logs.json"
    assert first["level"] == "info" and first["event"].startswith("sent with Authorization")
    assert "payload.sig" not in out.getvalue() and "rt-abc123def" not in out.getvalue()
    assert second["level"] == "warning"


def test_console_lines_are_readable():
    logger, out = capture("console")
    logs.clear()
    logs.bind(tenant="acme")
    try:
        logger.info("watch %s paused", "w_1")
    finally:
        logs.clear()
    line = out.getvalue().splitlines()[0]
    assert "watch w_1 paused" in line and "tenant=acme" in line and not line.startswith("{")


def test_every_answer_carries_its_request_id(api):
    resp = api.get("/v1/connections")
    assert resp.headers["x-request-id"].startswith("req_")
    given = api.get("/v1/connections", headers={"X-Request-Id": "trace-42"})
    assert given.headers["x-request-id"] == "trace-42"
    odd = api.get("/v1/connections", headers={"X-Request-Id": "bad id with spaces"})
    assert odd.headers["x-request-id"].startswith("req_")
