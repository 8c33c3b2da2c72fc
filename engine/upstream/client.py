"""The upstream client: one pooled httpx.AsyncClient for every call to GHL or SMSGlobal.

For each request it takes a slot of the rate budget, signs the request for its app, sends it,
and retries with exponential backoff and full jitter on 429, 5xx and connection errors,
honouring Retry-After. A request that is not safe to repeat (a POST that may have reached
upstream) is not sent again once it may have arrived: only failures that prove it never did
(connection refused, 429) are retried for it.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from typing import Any, Mapping

import httpx

from engine.accounts.connections import Connection
from engine.core import keys, metrics
from engine.core.errors import RateLimited, UpstreamAuthError, UpstreamError, UpstreamUnavailable
from engine.core.scripts import ScriptCall, together
from engine.core.settings import Settings
from engine.upstream.apps import APPS
from engine.upstream.budget import Budget, Priority, Quarantined
from engine.upstream.call import Call
from engine.upstream.httppool import use_lean_pool

log = logging.getLogger("engine.upstream.client")

_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_MAYBE_SENT = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError,
               httpx.RemoteProtocolError)


URLS_KEPT = 4096  # parsed request URLs an Upstream keeps


@dataclass
class Response:
    """An upstream answer: HTTP ``status``, decoded ``data`` (JSON, or a description of a
    binary or text body), ``attempts`` sent and ``duration_ms`` of the whole call."""
    status: int
    data: Any
    headers: httpx.Headers
    attempts: int
    duration_ms: float


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date, RFC 9110
    section 10.2.3); None when absent or unreadable (``soon``, ``120junk``, ``inf``), so the
    caller falls back on its own backoff. Never raises."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if parsed is None or parsed.tzinfo is None:
            return None
        seconds = parsed.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def encode_body(call: Call) -> dict[str, Any]:
    """httpx keyword arguments for the call's body: JSON, an HTML form, or multipart/form-data
    with the call's file fields as file parts (named after the field)."""
    if call.body is None:
        return {}
    if call.body_format == "json" or not isinstance(call.body, dict):
        return {"json": call.body}
    if call.body_format == "form":
        return {"data": {k: _form_value(v) for k, v in call.body.items()}}
    parts = [(name, (name, str(value).encode()) if name in call.file_fields
              else (None, _form_value(value).encode()))
             for name, value in call.body.items()]
    return {"files": parts or [("", (None, b""))]}


def _decode(resp: httpx.Response, kind: str) -> Any:
    if kind == "binary":
        return {"content_type": resp.headers.get("content-type"), "size": len(resp.content),
                "content_base64": base64.b64encode(resp.content).decode()}
    if kind == "text":
        return {"content_type": resp.headers.get("content-type"), "text": resp.text}
    if not resp.content:
        return {}
    try:
        return resp.json()
    except ValueError:
        return {"text": resp.text}


def readable_errors(errors: Any, field: str = "") -> str:
    """Field errors as text: SMSGlobal's ``{"errors": {field: {"errors": [message, …]}}}`` (or
    ``{field: [message]}``, or a list) → ``"field: message; other: message"``."""
    if isinstance(errors, dict):
        if set(errors) == {"errors"}:
            return readable_errors(errors["errors"], field)
        return "; ".join(readable_errors(v, f"{field}.{k}" if field else str(k))
                         for k, v in errors.items())
    if isinstance(errors, list):
        return "; ".join(readable_errors(e, field) for e in errors)
    return f"{field}: {errors}" if field else str(errors)


def _upstream_message(data: Any) -> str:
    if isinstance(data, dict):
        msg = data.get("message") or data.get("error") or data.get("msg")
        if isinstance(msg, list):
            return "; ".join(map(str, msg))
        if msg:
            return str(msg)
        if isinstance(data.get("errors"), (dict, list)):
            return readable_errors(data["errors"])
        if data.get("text"):
            return str(data["text"])[:300]
    return "no message"


def _count(conn: Connection, resp: httpx.Response) -> None:
    """Count an answer in /metrics, with the budget upstream reports left (GHL's
    X-RateLimit-Remaining and X-RateLimit-Daily-Remaining headers, per GHL's API v2 rate
    limits documentation)."""
    metrics.UPSTREAM_REQUESTS.labels(app=conn.app, status=str(resp.status_code)).inc()
    if resp.status_code == 429:
        metrics.UPSTREAM_RATE_LIMITED.labels(app=conn.app).inc()
    for header, window in (("x-ratelimit-remaining", "burst"),
                           ("x-ratelimit-daily-remaining", "daily")):
        value = resp.headers.get(header)
        if value is not None:
            try:
                left = float(value)
            except ValueError:
                continue
            metrics.RATE_BUDGET_REMAINING.labels(scope=conn.rate_scope, window=window).set(left)


class Upstream:
    """The one pooled httpx client to GHL and SMSGlobal: each call takes a rate slot, is signed for
    its connection, sent, and retried on connection errors, 5xx (when safe to repeat) and 429
    (after Retry-After)."""

    def __init__(self, settings: Settings, budget: Budget,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.budget = budget
        self.http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout_seconds, connect=5.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            follow_redirects=False,
            transport=transport,
        )
        use_lean_pool(self.http)  # same pool decisions, linear bookkeeping per request
        self._pending: set[asyncio.Future] = set()  # budget corrections still being written
        self._urls: dict[str, httpx.URL] = {}  # parsed request URLs, by their text
        self.tokens = None  # engine.oauth.tokens.TokenManager: refreshes OAuth tokens (set by the runtime)

    async def close(self) -> None:
        """Wait for pending budget corrections, then close the HTTP pool."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self.http.aclose()

    def _in_background(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Future) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("rate budget correction failed: %r", task.exception())

    def _quarantined(self, conn: Connection, label: str) -> UpstreamAuthError:
        """The error of a call refused at once, without upstream or a rate slot, because its
        connection is quarantined (the budget's acquire checks the quarantine key)."""
        return UpstreamAuthError(
            f"{label} refused the credentials of connection {conn.id} again and again; it is "
            f"quarantined for up to {self.settings.auth_quarantine_seconds} s (no call is "
            "sent meanwhile): update its credentials or re-authorize it",
            status=401, details={"quarantined": True})

    async def _strike(self, conn: Connection) -> None:
        """Count a 401/403 answer; enough of them within 10 minutes quarantine the connection.

        The count's 600 s window starts at its first strike (``SET NX EX`` then ``INCR``, which
        keeps the TTL: Redis 6.2 has no ``EXPIRE NX``)."""
        strikes_key = keys.AUTH_STRIKES.format(conn_id=conn.id)
        async with self.budget.redis.pipeline(transaction=True) as pipe:
            pipe.set(strikes_key, 0, ex=600, nx=True)
            pipe.incr(strikes_key)
            _, strikes = await pipe.execute()
        if strikes >= self.settings.auth_quarantine_strikes:
            await self.budget.redis.set(keys.AUTH_QUARANTINE.format(conn_id=conn.id), "1",
                                        ex=self.settings.auth_quarantine_seconds)
            log.warning("connection %s quarantined after %d refusals of its credentials",
                        conn.id, strikes)

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the client's transport and read the whole answer. This is
        what ``AsyncClient.send`` does for this client, minus the layers it does not use (auth
        flows, redirects: never followed here, cookies: upstream APIs authenticate every
        request, event hooks); the transport is the one the client picks for the URL (a proxy
        from the environment included), and its errors are httpx's. Raises httpx.HTTPError."""
        transport = self.http._transport_for_url(request.url)
        resp = await transport.handle_async_request(request)
        resp.request = request
        try:
            await resp.aread()
        finally:
            await resp.aclose()
        return resp

    def _backoff_s(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt`` + 1: uniform in [cap / 2, cap], the cap
        doubling from ENGINE_BACKOFF_BASE_SECONDS up to ENGINE_BACKOFF_MAX_SECONDS."""
        cap = min(self.settings.backoff_max_seconds, self.settings.backoff_base_seconds * 2 ** (attempt - 1))
        return random.uniform(cap / 2, cap)

    def _url(self, text: str) -> httpx.URL:
        """``text`` parsed as an httpx URL, once per process for the same text (at most
        :data:`URLS_KEPT` kept): a poll sends the same URL again and again. Raises httpx's
        InvalidURL as ``httpx.URL`` does."""
        found = self._urls.get(text)
        if found is None:
            if len(self._urls) >= URLS_KEPT:
                self._urls.clear()
            found = self._urls[text] = httpx.URL(text)
        return found

    @staticmethod
    def quarantine_key(conn: Connection) -> str | None:
        """The key whose presence refuses ``conn``'s calls (its rate slots are not given while
        it exists); None for credentials still being verified."""
        return keys.AUTH_QUARANTINE.format(conn_id=conn.id) if conn.verified else None

    def give_back(self, held: dict[str, str]) -> None:
        """Refund, in the background, a slot taken ahead (``{"scope", "slot"}``) that no request
        used (:meth:`Budget.refund`), and empty ``held``."""
        if held.get("slot"):
            self._in_background(self.budget.refund(held["scope"], held["slot"]))
        held.clear()

    def write_later(self, observations: list[ScriptCall]) -> None:
        """Write budget corrections (:meth:`Budget.observation`) in the background, in one round
        trip, and empty the list; :meth:`close` waits for them."""
        if observations:
            self._in_background(together(self.budget.redis, list(observations)))
            observations.clear()

    async def send(self, conn: Connection, call: Call, *, priority: Priority = "interactive",
                   max_wait: float | None = None,
                   observations: list[ScriptCall] | None = None,
                   held: dict[str, str] | None = None) -> Response:
        """Send ``call`` for ``conn`` and return its successful Response (status, decoded data,
        headers, attempts, duration_ms). ``priority``: "interactive" may use the whole burst,
        "background" stops short of the reserve; ``max_wait``: seconds to wait for a rate slot
        (None: ENGINE_RATE_MAX_WAIT_SECONDS). Raises RateLimited (the day's budget spent, no slot
        within ``max_wait``, or a 429 on the last try or asking a longer wait than
        ENGINE_MAX_RETRY_AFTER_SECONDS), UpstreamAuthError (credentials
        refused, or the connection quarantined), UpstreamError (another 4xx, a 5xx not retried,
        an unsendable request) and UpstreamUnavailable (502/504 after the last try)..

        The budget's correction from a successful answer is written without holding the answer
        up: in the background, or, given ``observations``, appended to that list for the caller
        to write with its next Redis round trip (:func:`engine.core.scripts.together`; or
        :meth:`write_later`). ``held`` (``{"scope": …, "slot": …}``), a slot its caller already
        took on the connection's scope, is used for the first attempt and removed from it."""
        app = APPS[conn.app]
        base = app.base_url(self.settings).rstrip("/")
        started = time.perf_counter()
        max_wait = self.settings.rate_max_wait_seconds if max_wait is None else max_wait
        attempts = 0
        last_error = "no attempt made"
        reauthorized = False
        may_have_arrived = False  # whether a failed attempt may have reached upstream
        # a quarantined connection fails at once, without upstream or a rate slot
        quarantine = self.quarantine_key(conn)
        while True:
            attempts += 1
            final = attempts >= self.settings.max_attempts
            slot = held.pop("slot", "") if held and held.get("scope") == conn.rate_scope else ""
            try:
                slot = slot or await self.budget.acquire(
                    conn.rate_scope, priority, max_wait=max_wait, tenant=conn.tenant,
                    quarantine=quarantine)
            except Quarantined:
                raise self._quarantined(conn, app.label) from None
            headers = {"Accept": "application/json"}
            if call.version:
                headers["Version"] = call.version
            if self.tokens is not None:
                await self.tokens.before_send(conn)
            try:
                request = self.http.build_request(
                    call.method, self._url(base + call.path), params=call.query or None,
                    headers=headers, **encode_body(call))
                await app.authorize(request, conn)
            except (ValueError, TypeError, KeyError, httpx.HTTPError) as exc:
                await self.budget.observe(conn.rate_scope, {}, 0, None, slot)
                # the text of such errors can quote a header, credentials included: never kept
                raise UpstreamError(
                    f"the request to {app.label} could not be built ({type(exc).__name__}): the "
                    f"credentials of connection {conn.id} or an input hold characters an HTTP "
                    "request cannot carry; update the connection or the input",
                    status=502, code="request_unsendable", details={"attempts": attempts},
                    attempts=attempts) from None
            try:
                resp = await self._exchange(request)
            except _NOT_SENT as exc:
                metrics.UPSTREAM_REQUESTS.labels(app=conn.app, status="error").inc()
                last_error = f"could not connect to {app.label}: {type(exc).__name__}"
                if final:
                    break
                await asyncio.sleep(self._backoff_s(attempts))
                continue
            except _MAYBE_SENT as exc:
                metrics.UPSTREAM_REQUESTS.labels(app=conn.app, status="error").inc()
                may_have_arrived = True
                await self.budget.observe(conn.rate_scope, {}, 0, None, slot)
                last_error = f"{app.label} did not answer in time: {type(exc).__name__}"
                if final or not call.safe_to_retry:
                    if not call.safe_to_retry:
                        last_error += (" (not retried: the request may have reached "
                                       f"{app.label} and repeating it could act twice)")
                    break
                await asyncio.sleep(self._backoff_s(attempts))
                continue
            except httpx.HTTPError as exc:  # a protocol error: may quote request headers
                await self.budget.observe(conn.rate_scope, {}, 0, None, slot)
                raise UpstreamError(
                    f"the request to {app.label} failed ({type(exc).__name__}); the credentials of "
                    f"connection {conn.id} may hold characters a header cannot carry",
                    status=502, code="request_unsendable", details={"attempts": attempts},
                    attempts=attempts) from None

            _count(conn, resp)
            retry_after_s = retry_after_seconds(resp.headers)
            if resp.is_success:  # later requests need the correction; this answer does not
                found = self.budget.observation(conn.rate_scope, resp.headers, resp.status_code,
                                                retry_after_s, slot)
                if found is not None and observations is not None:
                    observations.append(found)  # the caller writes it with its next round trip
                elif found is not None:
                    self.write_later([found])
            else:  # a 429 or an error may be retried at once: the budget must know first
                await self.budget.observe(conn.rate_scope, resp.headers, resp.status_code,
                                          retry_after_s, slot)
            data = _decode(resp, call.response if resp.is_success else "json")
            status = resp.status_code
            if resp.is_success:
                return Response(status, data, resp.headers, attempts,
                                (time.perf_counter() - started) * 1000)
            message = _upstream_message(data)
            if status == 429:
                wait_s = retry_after_s if retry_after_s is not None else self._backoff_s(attempts)
                if final or wait_s > self.settings.max_retry_after_seconds:
                    raise RateLimited(
                        f"{app.label} rate limit reached: {message}", retry_after=wait_s or 1.0,
                        details={"upstream_status": 429, "attempts": attempts})
                log.info("429 from %s, retrying in %.2fs", app.label, wait_s)
                await asyncio.sleep(wait_s)
                continue
            if status >= 500:
                last_error = f"{app.label} answered {status}: {message}"
                if final or not call.safe_to_retry:
                    if not call.safe_to_retry:
                        last_error += " (not retried: repeating this request could act twice)"
                    raise UpstreamError(last_error, status=status,
                                        details={"upstream_status": status, "upstream": data,
                                                 "attempts": attempts}, attempts=attempts)
                wait_s = retry_after_s if retry_after_s is not None else self._backoff_s(attempts)
                await asyncio.sleep(min(wait_s, self.settings.max_retry_after_seconds))
                continue
            if (status == 401 and call.reauthorize and not reauthorized and self.tokens is not None
                    and await self.tokens.after_unauthorized(conn)):
                reauthorized = True  # a fresh token, sent once more
                continue
            if status in (401, 403):  # the credentials' fault: not the location's budget
                await self.budget.refund(conn.rate_scope, slot)
                if call.reauthorize:  # a call that expects early refusals (GHL's message-status
                    await self._strike(conn)  # window) says nothing about the credentials
            if status in app.auth_failure_statuses:
                help_text = app.auth_help or ("The token is invalid or expired: create a new "
                                              "token (or re-authorize) and update the connection.")
                raise UpstreamAuthError(
                    f"{app.label} refused the credentials of connection {conn.id} "
                    f"({status}: {message}). {help_text}",
                    status=401, details={"upstream_status": status, "upstream": data},
                    attempts=attempts)
            raise UpstreamError(f"{app.label} answered {status}: {message}", status=status,
                                details={"upstream_status": status, "upstream": data},
                                attempts=attempts)
        raise UpstreamUnavailable(last_error, status=504 if "in time" in last_error else 502,
                                  details={"attempts": attempts, "may_have_arrived": may_have_arrived},
                                  attempts=attempts)
