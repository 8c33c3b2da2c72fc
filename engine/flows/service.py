"""No-code flows: a trigger's new items run a list of steps inside the engine.

A flow is a subscriber of its trigger's watch (:func:`engine.polling.subscriptions.create` with
``flow_id``), so it gets the same dedupe, outbox and crash safety as a webhook. The outbox calls
:func:`deliver` (:mod:`engine.flows.runs`) once per new item; raising there means "try this
delivery again later".

This module checks a flow before it is stored (every problem named by its field), stores,
changes, pauses, resumes and deletes flows, and gives the run log. How a run executes is in
:mod:`engine.flows.runs`; the definition's shape in :mod:`engine.flows.models`; the template
language in :mod:`engine.flows.templating`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

from pydantic import ValidationError

from engine.accounts import connections, quotas
from engine.core import keys
from engine.core.errors import Conflict, InputInvalid, NotFound
from engine.flows import runs as flow_runs
from engine.flows import templating
from engine.flows.models import MAX_STEPS, FlowIn, FlowPatch, FlowStep, FlowTrigger
from engine.flows.runs import deliver
from engine.polling import subscriptions
from engine.runtime import Runtime
from engine.spec import registry

__all__ = ["FlowIn", "FlowPatch", "FlowStep", "FlowTrigger", "MAX_STEPS", "create", "delete",
           "deliver", "get", "get_run", "list_for", "list_runs", "pause", "resume",
           "retry_run", "test_run", "update", "validate"]

log = logging.getLogger("engine.flows.service")


# ----------------------------------------------------------------------------- validation


def _problem(field: str, message: str) -> dict[str, Any]:
    return {"field": field, "location": "body", "message": message}


async def _connection(rt: Runtime, tenant: str, conn_id: str, app: str, field: str,
                      what: str) -> list[dict[str, Any]]:
    try:
        conn = await connections.get(rt.redis, tenant, conn_id)
    except NotFound:
        return [_problem(field, f"connection {conn_id!r} not found; list yours with GET "
                                "/v1/connections")]
    if conn.app != app:
        return [_problem(field, f"{what} needs a {app} connection; {conn_id} is a {conn.app} "
                                "connection")]
    return []


def _unknown(key: str, kinds: tuple[str, ...]) -> str:
    near = [k for k in registry.closest(key) if registry.get(k).kind in kinds]
    hint = f"; did you mean {', '.join(near)}?" if near else "; see GET /v1/operations"
    return f"unknown operation {key!r}{hint}"


async def validate(rt: Runtime, tenant: str, flow: FlowIn) -> list[dict[str, Any]]:
    """Every problem of a flow definition, each naming its field."""
    out: list[dict[str, Any]] = []
    trig = registry.get(flow.trigger.key)
    trigger_sample: dict[str, Any] | None = None
    if trig is None or trig.kind != "trigger":
        out.append(_problem("trigger.key", _unknown(flow.trigger.key, ("trigger",))
                            if trig is None else f"{flow.trigger.key} is an action, not a trigger"))
    else:
        trigger_sample = trig.sample
        found = await _connection(rt, tenant, flow.trigger.connection_id, trig.app,
                                  "trigger.connection_id", f"trigger {trig.key}")
        out += found
        if not found:
            conn = await connections.get(rt.redis, tenant, flow.trigger.connection_id)
            try:
                subscriptions.normalize(trig, conn, flow.trigger.params)
            except InputInvalid as exc:
                out += [{**p, "field": "trigger." + str(p.get("field", "params"))}
                        for p in exc.details or []]
    ids = [s.id for s in flow.steps]
    if flow.skip_echo:
        out += [_problem("skip_echo", m) for m in await templating.problems_bounded(
            flow.skip_echo, trigger_sample=trigger_sample, steps_before={}, steps_after=set(ids))]
    before: dict[str, dict[str, Any] | None] = {}
    for n, step in enumerate(flow.steps):
        where = f"steps[{n}]"
        if step.id in before:
            out.append(_problem(f"{where}.id", f"step id {step.id!r} is used twice"))
        op = registry.get(step.action)
        if op is None:
            out.append(_problem(f"{where}.action", _unknown(step.action, ("action", "trigger"))))
        else:
            out += await _connection(rt, tenant, step.connection_id, op.app,
                                     f"{where}.connection_id", f"step {step.id} ({op.key})")
        after = set(ids[n + 1:]) | {step.id}
        for path, text in _templates(step.input, f"{where}.input"):
            out += [_problem(path, m) for m in await templating.problems_bounded(
                text, trigger_sample=trigger_sample, steps_before=before, steps_after=after)]
        for name in ("when", "echo", "once"):
            text = getattr(step, name)
            if text:
                out += [_problem(f"{where}.{name}", m) for m in await templating.problems_bounded(
                    text, trigger_sample=trigger_sample, steps_before=before, steps_after=after,
                    is_condition=name == "when")]
        if op is not None:
            out += _check_static_input(op, step.input, where)
        before[step.id] = _step_sample(op)
    return out


def _step_sample(op) -> Any:
    """What a step's ``data`` looks like, for checking templates that read it."""
    if op is None or not op.sample:
        return None
    if op.kind == "trigger" and not op.trigger.items.single:
        return [op.sample]
    return op.sample


def _templates(value: Any, path: str):
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _templates(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _templates(v, f"{path}[{i}]")


def _check_static_input(op, data: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """Unknown input names and missing required inputs show at creation, not at the first run."""
    out = []
    names = {f.name for f in op.inputs}
    if op.kind == "trigger" or not op.has_body:
        for name in data:
            if name not in names:
                out.append(_problem(f"{where}.input.{name}", "unknown field; "
                                    f"{op.key} accepts: {', '.join(sorted(names)) or 'no input'}"))
    for field in op.inputs:
        if field.required and field.fill is None and field.name not in data:
            out.append(_problem(f"{where}.input.{field.name}",
                                f"required by {op.key}: {field.help}"))
    return out


# ----------------------------------------------------------------------------- storage


async def _record(rt: Runtime, tenant: str, flow_id: str) -> dict[str, str]:
    raw = await rt.redis.hgetall(keys.FLOW.format(flow_id=flow_id)) if flow_id.startswith("flow_") else {}
    flow = flow_runs.decode(raw) if raw else None
    if flow is None or flow.get("tenant") != tenant:
        raise NotFound(f"flow {flow_id!r} not found; list yours with GET /v1/flows",
                       code="flow_not_found")
    return flow


def _public(flow_id: str, flow: dict[str, str]) -> dict[str, Any]:
    definition = json.loads(flow["definition"])
    return {"id": flow_id, "name": definition["name"], "status": flow.get("status", "active"),
            "trigger": definition["trigger"], "steps": definition["steps"],
            "skip_echo": definition.get("skip_echo"),
            "subscription_id": flow.get("subscription_id") or None,
            "template": flow.get("template") or None,
            "created_at": int(flow.get("created_at") or 0),
            "updated_at": int(flow.get("updated_at") or 0)}


async def _subscribe(rt: Runtime, tenant: str, flow_id: str, trig: FlowTrigger) -> str:
    try:
        sub = await subscriptions.create(
            rt, tenant, trigger=trig.key, connection_id=trig.connection_id, params=trig.params,
            interval_minutes=trig.interval_minutes, flow_id=flow_id)
    except InputInvalid as exc:
        raise InputInvalid([{**p, "field": "trigger." + str(p.get("field"))}
                            for p in exc.details or []]) from None
    return sub["id"]


async def create(rt: Runtime, tenant: str, flow: FlowIn, *, template: str | None = None) -> dict[str, Any]:
    """Check a flow, store it and subscribe it to its trigger."""
    found = await validate(rt, tenant, flow)
    if found:
        raise InputInvalid(found)
    flow_id = "flow_" + secrets.token_hex(10)
    now = int(time.time())
    fkey = keys.FLOW.format(flow_id=flow_id)
    await quotas.reserve(rt.redis, keys.TENANT_FLOWS.format(tenant=tenant), flow_id,
                         rt.settings.max_flows_per_tenant, what="flows",
                         setting="ENGINE_MAX_FLOWS_PER_TENANT")
    try:
        await rt.redis.hset(fkey, mapping={"tenant": tenant, "definition": flow.model_dump_json(),
                                           "status": "active", "created_at": now,
                                           "updated_at": now, "template": template or ""})
        sub_id = await _subscribe(rt, tenant, flow_id, flow.trigger)
    except Exception:
        await _forget(rt, tenant, flow_id)
        raise
    await rt.redis.hset(fkey, "subscription_id", sub_id)
    log.info("flow %s created (%s, %d steps)", flow_id, flow.trigger.key, len(flow.steps))
    return await get(rt, tenant, flow_id)


async def _shown(rt: Runtime, tenant: str, flow_id: str, flow: dict[str, str]) -> dict[str, Any]:
    """A flow as the API shows it, its ``status`` telling the truth: ``paused`` when paused on
    request or when its trigger is paused (``status_reason`` says why and what to do),
    ``failing`` when its trigger's deliveries keep failing, else ``active``."""
    out = _public(flow_id, flow)
    out["status_reason"] = None
    if out["status"] == "paused":
        out["status_reason"] = ("paused on request: new items wait as held runs and run on "
                                f"resume (POST /v1/flows/{flow_id}/resume)")
        return out
    sub_id = out["subscription_id"]
    if sub_id:
        try:
            trigger = await subscriptions.get(rt, tenant, sub_id)
        except NotFound:
            return out
        if trigger["status"] != "active":
            out["status"] = trigger["status"]
            out["status_reason"] = f"its trigger is {trigger['status']}: {trigger['status_reason']}"
    return out


async def get(rt: Runtime, tenant: str, flow_id: str) -> dict[str, Any]:
    """The tenant's flow as the API shows it (status and status_reason included); raises NotFound
    (404) for an unknown id or another tenant's."""
    return await _shown(rt, tenant, flow_id, await _record(rt, tenant, flow_id))


async def list_for(rt: Runtime, tenant: str) -> list[dict[str, Any]]:
    """The tenant's flows, by id, as :func:`get` shows them."""
    ids = sorted(m.decode() for m in await rt.redis.smembers(keys.TENANT_FLOWS.format(tenant=tenant)))
    out = []
    for flow_id in ids:
        raw = await rt.redis.hgetall(keys.FLOW.format(flow_id=flow_id))
        if raw:
            out.append(await _shown(rt, tenant, flow_id, flow_runs.decode(raw)))
    return out


async def update(rt: Runtime, tenant: str, flow_id: str, patch: FlowPatch) -> dict[str, Any]:
    """Change a flow. A changed trigger moves the flow to a new subscription (items from now)."""
    record = await _record(rt, tenant, flow_id)
    current = FlowIn.model_validate_json(record["definition"])
    changes = patch.model_dump(exclude_unset=True)
    try:
        merged = FlowIn.model_validate({**current.model_dump(), **changes})
    except ValidationError as exc:  # e.g. an explicit null for a field a flow must have
        raise InputInvalid([{"field": ".".join(map(str, e["loc"])) or "body", "location": "body",
                             "message": e["msg"]} for e in exc.errors()]) from None
    found = await validate(rt, tenant, merged)
    if found:
        raise InputInvalid(found)
    fkey = keys.FLOW.format(flow_id=flow_id)
    if merged.trigger != current.trigger:
        new_sub = await _subscribe(rt, tenant, flow_id, merged.trigger)
        old_sub = record.get("subscription_id")
        await rt.redis.hset(fkey, "subscription_id", new_sub)
        if old_sub:
            await _unsubscribe(rt, tenant, old_sub)
    await rt.redis.hset(fkey, mapping={"definition": merged.model_dump_json(),
                                       "updated_at": int(time.time())})
    return await get(rt, tenant, flow_id)


async def _unsubscribe(rt: Runtime, tenant: str, sub_id: str) -> None:
    try:
        await subscriptions.delete(rt, tenant, sub_id)
    except NotFound:
        pass


async def _forget(rt: Runtime, tenant: str, flow_id: str) -> None:
    runs = [m.decode() for m in await rt.redis.zrange(keys.FLOW_RUNS.format(flow_id=flow_id), 0, -1)]
    async with rt.redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.FLOW.format(flow_id=flow_id), keys.FLOW_RUNS.format(flow_id=flow_id),
                    keys.FLOW_ONCE.format(flow_id=flow_id))
        for run_id in runs:
            pipe.delete(keys.FLOW_RUN.format(run_id=run_id))
        pipe.srem(keys.TENANT_FLOWS.format(tenant=tenant), flow_id)
        await pipe.execute()


async def delete(rt: Runtime, tenant: str, flow_id: str) -> None:
    """Delete a flow, its subscription (and so its watch, if no one else reads it) and its runs."""
    record = await _record(rt, tenant, flow_id)
    if record.get("subscription_id"):
        await _unsubscribe(rt, tenant, record["subscription_id"])
    await _forget(rt, tenant, flow_id)


async def pause(rt: Runtime, tenant: str, flow_id: str) -> dict[str, Any]:
    """Stop running steps. The trigger keeps being read: its new items wait as ``held`` runs
    and run, in order, on resume, so nothing is missed while paused."""
    await _record(rt, tenant, flow_id)
    await rt.redis.hset(keys.FLOW.format(flow_id=flow_id), mapping={
        "status": "paused", "updated_at": int(time.time())})
    return await get(rt, tenant, flow_id)


async def resume(rt: Runtime, tenant: str, flow_id: str) -> dict[str, Any]:
    """Run steps again, starting with the runs held while paused (oldest first), and poll its
    trigger again if it was paused (a paused trigger shows as a paused flow)."""
    record = await _record(rt, tenant, flow_id)
    fkey = keys.FLOW.format(flow_id=flow_id)
    await rt.redis.hset(fkey, mapping={"status": "active", "updated_at": int(time.time())})
    if record.get("subscription_id"):
        try:
            await subscriptions.resume(rt, tenant, record["subscription_id"])
        except NotFound:
            pass
    flow = flow_runs.decode(await rt.redis.hgetall(fkey))
    held = 0
    for run_id in [m.decode() for m in await rt.redis.zrange(keys.FLOW_RUNS.format(flow_id=flow_id), 0, -1)]:
        run = await flow_runs.load_run(rt, run_id)
        if run is not None and run["status"] == "held":
            held += 1
            try:
                await flow_runs.execute(rt, flow_id, flow, run, transient_raises=False)
            except Conflict:
                pass  # the outbox or another resume is running it now
    out = await get(rt, tenant, flow_id)
    out["held_runs_started"] = held
    return out


# ----------------------------------------------------------------------------- runs


async def list_runs(rt: Runtime, tenant: str, flow_id: str, *, limit: int = 50,
                    status: str | None = None, exclude: str | None = None) -> list[dict[str, Any]]:
    """A flow's runs, newest first: only those in ``status`` if given, without those in
    ``exclude`` if given."""
    await _record(rt, tenant, flow_id)
    ids = [m.decode() for m in await rt.redis.zrevrange(keys.FLOW_RUNS.format(flow_id=flow_id), 0, -1)]
    out = []
    for run_id in ids:
        run = await flow_runs.load_run(rt, run_id)
        if run is None or (status and run["status"] != status) or run["status"] == exclude:
            continue
        out.append(flow_runs.public_run(run))
        if len(out) >= limit:
            break
    return out


async def get_run(rt: Runtime, tenant: str, flow_id: str, run_id: str) -> dict[str, Any]:
    """One run of the tenant's flow (:func:`engine.flows.runs.public_run`); raises NotFound (404,
    ``run_not_found``) when the run is unknown or belongs to another flow."""
    await _record(rt, tenant, flow_id)
    run = await flow_runs.load_run(rt, run_id)
    if run is None or run["flow_id"] != flow_id:
        raise NotFound(f"run {run_id!r} not found in flow {flow_id}", code="run_not_found")
    return flow_runs.public_run(run)


async def test_run(rt: Runtime, tenant: str, flow_id: str,
                   item: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the flow once now on ``item`` or its trigger's newest item, marked as a test run
    (see :func:`engine.flows.runs.test_run`)."""
    flow = await _record(rt, tenant, flow_id)
    return flow_runs.public_run(await flow_runs.test_run(rt, flow_id, flow, item))


async def retry_run(rt: Runtime, tenant: str, flow_id: str, run_id: str) -> dict[str, Any]:
    """Run a failed run again from its failed step; steps that succeeded are not repeated."""
    flow = await _record(rt, tenant, flow_id)
    run = await flow_runs.load_run(rt, run_id)
    if run is None or run["flow_id"] != flow_id:
        raise NotFound(f"run {run_id!r} not found in flow {flow_id}", code="run_not_found")
    if run["status"] not in ("failed", "retrying", "held"):
        raise InputInvalid([_problem("run_id", f"run {run_id} is {run['status']}; only a failed "
                                               "run can be retried")])
    return flow_runs.public_run(await flow_runs.execute(rt, flow_id, flow, run, transient_raises=False))
