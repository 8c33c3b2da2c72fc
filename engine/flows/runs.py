"""Flow runs: one delivered item running a flow's steps, recorded step by step.

One delivery is one run, whose id is derived from the delivery id: a delivery tried again
(after a crash or a transient upstream error) resumes the same run. Each step's input and output
(or error) is written to the run before the next step starts, and a step is marked in flight
before it is sent, so a resumed or retried run never repeats a step that succeeded, and a write
cut short by a crash is not repeated without a person deciding to.

Steps run through the same executor as ``POST /v1/actions`` (validation, signing, rate budget,
retries). A step may also name a trigger, to read something (``contacts.get_contact``): its data
is the object read, or the list of items. An input that renders empty is left out. A 429, a
refused connection, or a 5xx on a step that is safe to repeat leaves the run ``retrying`` and
raises, so the outbox tries again on its schedule; other errors fail the run, which
``POST /v1/flows/{id}/runs/{run_id}/retry`` runs again once the cause is fixed.

Two flows that sync two apps both ways would echo each other's writes. A step's ``echo`` template
records a fingerprint of what it writes; a flow's ``skip_echo`` template, rendered for each new
item, skips the item when it matches a fingerprint recorded by a flow of the same tenant
(the fingerprint is used up).

A step's ``once`` template is the flow's memory: the step is done at most once per rendered value
(``{{ trigger.id }}``: once per contact, however often the contact changes). The first run that
gets past the step's ``when`` claims the value; a later run with the same value skips the step.

A run's ``trigger`` is the item as upstream gives it (what the trigger's sample shows):
``trigger.id`` is the object's id, also for triggers that fire on changes, whose webhook
deliveries key the item as ``<id>@<updated time>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from typing import Any

import httpx
from jinja2 import TemplateError, UndefinedError

from engine.accounts import connections
from engine.actions import executor
from engine.core import keys, metrics, scripts
from engine.core.errors import Conflict, EngineError, InputInvalid, NotFound, RateLimited, UpstreamError, UpstreamUnavailable
from engine.flows import templating
from engine.flows.models import FlowIn, FlowStep
from engine.polling import items, reader
from engine.runtime import Runtime
from engine.spec import registry

log = logging.getLogger("engine.flows.service")

RUNS_KEPT = 500  # runs kept in a flow's log
RUN_TTL_SECONDS = 30 * 24 * 3600
ECHO_TTL_SECONDS = 24 * 3600


class _Transient(Exception):
    """A step failed in a way that may heal by waiting; the outbox tries the delivery again."""


def decode(raw: dict[bytes, bytes]) -> dict[str, str]:
    """A Redis hash reply (bytes to bytes) as str to str (UTF-8)."""
    return {k.decode(): v.decode() for k, v in raw.items()}


def run_id_for(flow_id: str, delivery_id: str) -> str:
    """The run id of a flow's delivery: ``run_`` + 24 hex digits of a SHA-256 of both ids, so a
    delivery sent again runs (and is recorded) as the same run."""
    return "run_" + hashlib.sha256(f"{flow_id}\n{delivery_id}".encode()).hexdigest()[:24]


async def load_run(rt: Runtime, run_id: str) -> dict[str, Any] | None:
    """A stored run (its JSON record) by id, or None when unknown or expired."""
    raw = await rt.redis.get(keys.FLOW_RUN.format(run_id=run_id))
    return json.loads(raw) if raw else None


async def _save_run(rt: Runtime, run: dict[str, Any]) -> None:
    run["updated_at"] = time.time()
    await rt.redis.set(keys.FLOW_RUN.format(run_id=run["id"]), json.dumps(run, default=str),
                       ex=RUN_TTL_SECONDS)


def _trigger_item(data: Any) -> dict[str, Any]:
    """The delivered item with ``id`` back to the object's id (``object_id`` is kept too)."""
    if not isinstance(data, dict):
        return {}
    if data.get("object_id") not in (None, ""):
        return {**data, "id": data["object_id"]}
    return data


async def _new_run(rt: Runtime, flow_id: str, run_id: str, delivery: dict[str, Any]) -> dict[str, Any]:
    now = time.time()
    run = {"id": run_id, "flow_id": flow_id, "delivery_id": delivery.get("delivery_id"),
           "subscription_id": delivery.get("subscription_id"), "item_id": delivery.get("item_id"),
           "trigger": _trigger_item(delivery.get("data")), "status": "running", "error": None,
           "steps": {}, "order": [], "attempts": 0, "created_at": now, "finished_at": None}
    runs_key = keys.FLOW_RUNS.format(flow_id=flow_id)
    await _save_run(rt, run)
    await rt.redis.zadd(runs_key, {run_id: int(now * 1000)})
    excess = await rt.redis.zcard(runs_key) - RUNS_KEPT
    if excess > 0:
        old = [m.decode() for m in await rt.redis.zrange(runs_key, 0, excess - 1)]
        await rt.redis.zrem(runs_key, *old)
        await rt.redis.delete(*[keys.FLOW_RUN.format(run_id=r) for r in old])
    return run


async def deliver(rt: Runtime, flow_id: str, delivery: dict[str, Any]) -> None:
    """Run a flow for one delivered item (called by the outbox). Raises when the delivery
    should be tried again later; a delivery tried again resumes its run."""
    raw = await rt.redis.hgetall(keys.FLOW.format(flow_id=flow_id))
    if not raw:
        return  # the flow was deleted; its subscription goes with it
    flow = decode(raw)
    run_id = run_id_for(flow_id, str(delivery.get("delivery_id") or delivery.get("webhook_id")))
    run = await load_run(rt, run_id)
    if run is None:
        run = await _new_run(rt, flow_id, run_id, delivery)
    elif run["status"] in ("succeeded", "skipped", "failed"):
        return  # done before; a failed run is retried on request, not by redelivery
    if flow.get("status") == "paused":
        run["status"] = "held"
        await _save_run(rt, run)
        metrics.FLOW_RUNS.labels(outcome="held").inc()
        return
    await execute(rt, flow_id, flow, run, transient_raises=True)


async def test_run(rt: Runtime, flow_id: str, flow: dict[str, str],
                   item: dict[str, Any] | None) -> dict[str, Any]:
    """Run a flow once, now, on ``item`` (an item as its trigger delivers it) or, when none is
    given, on the newest item its trigger reads now. The run is recorded like any other, with
    ``test: true``; its steps really act upstream. Raises InputInvalid when the trigger has no
    item to test with."""
    definition = FlowIn.model_validate_json(flow["definition"])
    if item is None:
        op = registry.get(definition.trigger.key)
        conn = await connections.get(rt.redis, flow["tenant"], definition.trigger.connection_id,
                                     rt.vault)
        # the newest item as a delivery carries it (the upstream object, its own id type)
        found = (await reader.newest_items(rt, conn, op, definition.trigger.params, 1))[1]
        if not found:
            raise InputInvalid([{"field": "item", "location": "body", "message": (
                f"the trigger {op.key} has no item to test with now; give one in 'item' (its "
                f"shape: GET /v1/operations/{op.key}, 'sample')")}])
        item, item_id = found[0], items.dedupe_key(op, found[0])
    else:
        item_id = str(item.get("id", ""))
    run = await _new_run(rt, flow_id, "run_" + secrets.token_hex(12), {
        "delivery_id": None, "subscription_id": flow.get("subscription_id"),
        "item_id": item_id, "data": item})
    run["test"] = True
    return await execute(rt, flow_id, flow, run, transient_raises=False)


def _context(run: dict[str, Any], region: str | None = None) -> dict[str, Any]:
    steps = {sid: {"data": rec.get("output"), "status": rec["status"]}
             for sid, rec in run["steps"].items() if rec["status"] in ("succeeded", "skipped")}
    return {"trigger": run["trigger"], "steps": steps, templating.REGION: region}


class _Region:
    """A run's default phone region: the flow's ``region``, else the country of the flow's GHL
    location, looked up only when a national number needs it."""

    def __init__(self, rt: Runtime, tenant: str, definition: FlowIn) -> None:
        self.rt, self.tenant, self.definition = rt, tenant, definition
        self.value: str | None = definition.region
        self.known = definition.region is not None

    async def resolve(self) -> str | None:
        if not self.known:
            self.known = True
            conn_ids = [self.definition.trigger.connection_id,
                        *(s.connection_id for s in self.definition.steps)]
            for conn_id in dict.fromkeys(conn_ids):
                conn = await connections.get(self.rt.redis, self.tenant, conn_id, self.rt.vault)
                if conn.app == "ghl":
                    self.value = await executor.location_region(self.rt, conn)
                    break
        return self.value


async def _render_values(step: FlowStep, run: dict[str, Any], region: _Region) -> dict[str, Any]:
    """The step's input rendered; a phone filter that met a national number is tried again
    with the flow's region once that is known."""
    try:
        return _inputs(await _render_input(step, _context(run, region.value)))
    except templating.PhoneFilterError:
        if region.known:
            raise
    return _inputs(await _render_input(step, _context(run, await region.resolve())))


async def _echo_seen(rt: Runtime, tenant: str, fingerprint: str) -> bool:
    """Whether a flow recorded this write (and use the record up)."""
    key = keys.FLOW_ECHOES.format(tenant=tenant)
    now_ms = int(time.time() * 1000)
    await rt.redis.zremrangebyscore(key, "-inf", now_ms)
    return bool(await rt.redis.zrem(key, fingerprint))


async def _once_holder(rt: Runtime, flow_id: str, key: str, run_id: str) -> str | None:
    """Claim ``key`` for this run in the flow's memory. None when the run may go on (the key was
    free, or this run claimed it before); else the id of the run that holds it."""
    memory = keys.FLOW_ONCE.format(flow_id=flow_id)
    if await rt.redis.hsetnx(memory, key, run_id):
        return None
    holder = await rt.redis.hget(memory, key)
    holder = holder.decode() if holder else None
    return None if holder in (None, run_id) else holder


async def _echo_record(rt: Runtime, tenant: str, fingerprint: str) -> None:
    await rt.redis.zadd(keys.FLOW_ECHOES.format(tenant=tenant),
                        {fingerprint: int((time.time() + ECHO_TTL_SECONDS) * 1000)})


def _repeatable(step: FlowStep) -> bool:
    op = registry.get(step.action)
    return op is not None and op.upstream.idempotent


def _transient(exc: Exception, step: FlowStep) -> bool:
    """Whether the outbox may simply try again later. A request that may have reached upstream
    (5xx, a timeout) is tried again only for a step that is safe to repeat: sending an SMS or
    creating a note twice costs the user, so such a step fails the run for a person to check."""
    if isinstance(exc, RateLimited) or (isinstance(exc, UpstreamError) and exc.status == 429):
        return True
    safe = _repeatable(step)
    if isinstance(exc, UpstreamUnavailable):
        return safe or exc.message.startswith("could not connect")
    if isinstance(exc, httpx.HTTPError):
        return safe
    return isinstance(exc, UpstreamError) and exc.status >= 500 and safe


def _error_of(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, EngineError):
        return {"code": exc.code, "message": exc.message, "details": exc.details,
                "status": exc.status}
    if isinstance(exc, TemplateError):
        return {"code": "template_error", "message": f"template error: {exc.message or exc}"}
    # the text of any other exception may quote a request header or a credential: not stored
    log.warning("flow step failed unexpectedly: %s", type(exc).__name__)
    return {"code": "internal_error", "message": f"the step failed unexpectedly "
                                                 f"({type(exc).__name__}); the error is logged"}


async def _run_step(rt: Runtime, tenant: str, step: FlowStep, values: dict[str, Any],
                    region: str | None) -> Any:
    op = registry.get(step.action)
    if op is None:
        raise NotFound(f"operation {step.action!r} is no longer in the catalog; edit the flow",
                       code="operation_not_found")
    conn = await connections.get(rt.redis, tenant, step.connection_id, rt.vault)
    if op.kind == "action":
        return (await executor.run_action(rt, conn, op, values, region=region)).data
    # a read: the step gets the object (single-object reads) or the list of items
    prepared = reader.prepare(op, conn, values)
    found = items.extract(op, (await executor.call(rt, conn, op, prepared)).data)
    if op.trigger.items.single:
        return found[0] if found else None
    return found


async def _render_input(step: FlowStep, context: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, template in step.input.items():
        try:
            out[name] = await templating.render_bounded(template, context)
        except templating.TemplateBoundExceeded as exc:
            raise TemplateError(f"input.{name}: {exc.message or exc}") from None
        except templating.PhoneFilterError as exc:
            raise templating.PhoneFilterError(f"input.{name} = {template!r}: {exc.message}") from None
        except UndefinedError as exc:
            raise TemplateError(f"input.{name} = {template!r}: {exc.message or exc}; the item "
                                "lacks it: add | default('') or a 'when'") from None
        except TemplateError as exc:
            raise TemplateError(f"input.{name} = {template!r}: {exc.message or exc}") from None
    return out


def _inputs(rendered: dict[str, Any]) -> dict[str, Any]:
    """An input that renders empty (None or "") is left out, so optional fields stay unset."""
    return {k: v for k, v in rendered.items() if v is not None and v != ""}


RUN_LEASE_MS = 30_000
"""How long a run's lock outlives its holder (it is extended every third of it while held)."""


async def execute(rt: Runtime, flow_id: str, flow: dict[str, str], run: dict[str, Any], *,
                  transient_raises: bool) -> dict[str, Any]:
    """Run (or resume) a run's steps; returns the run as recorded. Raises ``_Transient`` when
    ``transient_raises`` and a step failed in a way that may heal by waiting.

    One execution of a run at a time: it holds the run's lock in Redis (extended while it runs,
    free ``RUN_LEASE_MS`` after a process dies) and starts only from the run as stored, so two
    retries, a retry and a resume, or a retry and the outbox never do a step twice. The one that
    finds the lock held, or the run changed since it was read, gets :class:`Conflict`
    ``run_in_progress``."""
    lock_key = keys.FLOW_RUN_LOCK.format(run_id=run["id"])
    token = secrets.token_hex(16)
    if not await rt.redis.set(lock_key, token, nx=True, px=RUN_LEASE_MS):
        raise Conflict(f"run {run['id']} is running now (another retry, resume or delivery of "
                       "it); read it with GET /v1/flows/{id}/runs/{run_id} when it is done",
                       code="run_in_progress")
    keeper = asyncio.create_task(scripts.keep_lock(rt.redis, lock_key, token, RUN_LEASE_MS,
                                                   f"flow run {run['id']}"))
    try:
        stored = await load_run(rt, run["id"])
        if stored is not None and stored.get("updated_at") != run.get("updated_at"):
            raise Conflict(f"run {run['id']} changed while this request read it (another "
                           f"retry, resume or delivery ran it; it is {stored['status']} now); "
                           "read it again", code="run_in_progress")
        try:
            return await _execute(rt, flow_id, flow, run, transient_raises=transient_raises)
        finally:
            metrics.FLOW_RUNS.labels(outcome=run.get("status") or "failed").inc()
    finally:
        keeper.cancel()
        await scripts.script(rt.redis, scripts.UNLOCK)(keys=[lock_key], args=[token])


async def _execute(rt: Runtime, flow_id: str, flow: dict[str, str], run: dict[str, Any], *,
                   transient_raises: bool) -> dict[str, Any]:
    tenant = flow["tenant"]
    definition = FlowIn.model_validate_json(flow["definition"])
    region = _Region(rt, tenant, definition)
    run["status"] = "running"
    run["error"] = None
    run["attempts"] = int(run.get("attempts") or 0) + 1
    if definition.skip_echo and not run.get("echo_checked"):
        try:
            fingerprint = str(await templating.render_bounded(definition.skip_echo, _context(run)))
        except TemplateError as exc:
            fingerprint = ""
            log.info("flow %s: skip_echo did not render: %s", flow_id, exc)
        run["echo_checked"] = True
        if fingerprint and await _echo_seen(rt, tenant, fingerprint):
            run.update(status="skipped", finished_at=time.time(),
                       reason=f"echo of a write a flow made ({fingerprint})")
            await _save_run(rt, run)
            return run
    await _save_run(rt, run)
    for step in definition.steps:
        done = run["steps"].get(step.id)
        if done and done["status"] in ("succeeded", "skipped"):
            continue  # never repeat a step that succeeded
        if step.id not in run["order"]:
            run["order"].append(step.id)
        if done and done["status"] == "running" and transient_raises and not _repeatable(step):
            # the engine stopped while this step was in flight: it may have acted upstream
            done.update(status="failed", finished_at=time.time(), error={
                "code": "interrupted", "message": "the engine stopped while this step was "
                "running, so it may have happened upstream (e.g. the SMS may be sent); check, "
                "then retry the run to do it again"})
            run.update(status="failed", error=f"step {step.id}: {done['error']['message']}",
                       finished_at=time.time())
            await _save_run(rt, run)
            return run
        record: dict[str, Any] = {"status": "running", "action": step.action, "input": None,
                                  "output": None, "error": None,
                                  "attempts": int((done or {}).get("attempts") or 0) + 1,
                                  "started_at": time.time()}
        context = _context(run, region.value)
        try:
            if step.when and not await templating.condition_bounded(step.when, context):
                record.update(status="skipped", reason=f"condition is false: {step.when}",
                              finished_at=time.time())
                run["steps"][step.id] = record
                await _save_run(rt, run)
                continue
            if step.once:
                once_key = str(await templating.render_bounded(step.once, context))
                holder = await _once_holder(rt, flow_id, once_key, run["id"]) if once_key else None
                if holder:
                    record.update(status="skipped", finished_at=time.time(),
                                  reason=f"done once already for {once_key} (run {holder})")
                    run["steps"][step.id] = record
                    await _save_run(rt, run)
                    continue
            values = await _render_values(step, run, region)
            record["input"] = values
            if step.echo:
                await _echo_record(rt, tenant, str(await templating.render_bounded(step.echo, context)))
            run["steps"][step.id] = record
            await _save_run(rt, run)  # in flight: a crash from here on is seen on resume
            output = await _run_step(rt, tenant, step, values, region.value)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded in the run
            record.update(status="failed", error=_error_of(exc), finished_at=time.time())
            run["steps"][step.id] = record
            if _transient(exc, step) and transient_raises:
                record["status"] = "retrying"
                run.update(status="retrying", error=f"step {step.id}: {record['error']['message']}")
                await _save_run(rt, run)
                raise _Transient(run["error"]) from exc
            if not isinstance(exc, (EngineError, TemplateError, httpx.HTTPError)):
                log.exception("flow %s run %s: step %s failed unexpectedly", flow_id, run["id"], step.id)
            run.update(status="failed", error=f"step {step.id}: {record['error']['message']}",
                       finished_at=time.time())
            await _save_run(rt, run)
            return run
        record.update(status="succeeded", output=output, finished_at=time.time())
        run["steps"][step.id] = record
        await _save_run(rt, run)  # recorded before the next step starts
    if run["steps"] and all(rec["status"] == "skipped" for rec in run["steps"].values()):
        # nothing was done: recorded as such, so the run log can leave such runs out
        run.update(status="skipped", finished_at=time.time(), reason="every step was skipped")
        await _save_run(rt, run)
        return run
    run.update(status="succeeded", finished_at=time.time())
    await _save_run(rt, run)
    return run


def public_run(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the API shows it: id, flow_id, status ("running", "held", "succeeded", "failed",
    "skipped" or "retrying"), error, reason, item_id, delivery_id, trigger item, steps in order
    (each with its id), attempts, test, created_at and finished_at (epoch s, float; None while
    running)."""
    steps = [{"id": sid, **run["steps"][sid]} for sid in run.get("order", []) if sid in run["steps"]]
    return {"id": run["id"], "flow_id": run["flow_id"], "status": run["status"],
            "error": run.get("error"), "reason": run.get("reason"), "item_id": run.get("item_id"),
            "delivery_id": run.get("delivery_id"), "trigger": run.get("trigger"), "steps": steps,
            "attempts": run.get("attempts", 0), "test": bool(run.get("test")),
            "created_at": run.get("created_at"),
            "finished_at": run.get("finished_at")}
