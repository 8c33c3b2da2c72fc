"""No-code flows: create, read, change, pause, resume, delete; their run log and retries; and
the flow templates that create ready-made flows from a few options."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import ConfigDict, Field

from api.deps import Reader, Writer, principal
from api.models import Strict
from engine.accounts.tenants import Principal
from engine.flows import service as flows
from engine.flows import templates as flow_templates

router = APIRouter(prefix="/v1", tags=["flows"])


@router.post("/flows", status_code=201)
async def create_flow(body: flows.FlowIn, caller: Writer) -> dict[str, Any]:
    """Check a flow (every problem named by its field) and subscribe it to its trigger: each
    new item runs its steps."""
    return await flows.create(caller.rt, caller.tenant, body)


@router.get("/flows")
async def list_flows(caller: Reader) -> dict[str, Any]:
    """The tenant's flows. `status` is `paused` when paused on request or when its trigger is
    paused (e.g. by a refused connection), with `status_reason` saying why."""
    return {"flows": await flows.list_for(caller.rt, caller.tenant)}


@router.get("/flows/{flow_id}")
async def get_flow(flow_id: str, caller: Reader) -> dict[str, Any]:
    """One flow with its status and why."""
    return await flows.get(caller.rt, caller.tenant, flow_id)


@router.patch("/flows/{flow_id}")
async def update_flow(flow_id: str, body: flows.FlowPatch, caller: Writer) -> dict[str, Any]:
    """Change a flow; a changed trigger moves it to a new subscription that gets items from now
    on."""
    return await flows.update(caller.rt, caller.tenant, flow_id, body)


@router.delete("/flows/{flow_id}", status_code=204)
async def delete_flow(flow_id: str, caller: Writer) -> None:
    """Delete a flow, its subscription and its runs."""
    await flows.delete(caller.rt, caller.tenant, flow_id)


@router.post("/flows/{flow_id}/pause")
async def pause_flow(flow_id: str, caller: Writer) -> dict[str, Any]:
    """Stop running steps; new items wait as `held` runs and run in order on resume."""
    return await flows.pause(caller.rt, caller.tenant, flow_id)


@router.post("/flows/{flow_id}/resume")
async def resume_flow(flow_id: str, caller: Writer) -> dict[str, Any]:
    """Run the held runs, and poll the flow's trigger again if it was paused."""
    return await flows.resume(caller.rt, caller.tenant, flow_id)


RunStatus = Literal["running", "retrying", "succeeded", "failed", "skipped", "held"]


@router.get("/flows/{flow_id}/runs")
async def list_runs(flow_id: str, caller: Reader, limit: int = Query(50, ge=1, le=500),
                    status: RunStatus | None = Query(None, description="Only runs in this status."),
                    exclude: RunStatus | None = Query(
                        None, description="Leave out runs in this status, e.g. 'skipped' (runs in "
                                          "which every step was skipped).")) -> dict[str, Any]:
    """The flow's runs, newest first, each step with its input and output or error. Filter with
    `status`, or leave some out with `exclude` (e.g. `skipped`: runs in which every step was
    skipped)."""
    return {"runs": await flows.list_runs(caller.rt, caller.tenant, flow_id, limit=limit,
                                          status=status, exclude=exclude)}


@router.get("/flows/{flow_id}/runs/{run_id}")
async def get_run(flow_id: str, run_id: str, caller: Reader) -> dict[str, Any]:
    """One run, step by step."""
    return await flows.get_run(caller.rt, caller.tenant, flow_id, run_id)


@router.post("/flows/{flow_id}/runs/{run_id}/retry")
async def retry_run(flow_id: str, run_id: str, caller: Writer) -> dict[str, Any]:
    """Run a failed run again from its failed step; steps that succeeded are not repeated. 409
    ``run_in_progress`` while the run is running (another retry, a resume or the outbox)."""
    return await flows.retry_run(caller.rt, caller.tenant, flow_id, run_id)


class FlowTestIn(Strict):
    """A test run's trigger item; left out, the trigger's newest item is read now."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"item": {"id": "ocQHyuzHvysMo5N5VsXc", "firstName": "Ada", "phone": "+61400000031"}}]})
    item: dict[str, Any] | None = Field(
        None, description="The trigger item to run on, as the trigger delivers it; left out: "
                          "the trigger's newest item, read now.",
        examples=[{"id": "ocQHyuzHvysMo5N5VsXc", "firstName": "Ada", "phone": "+61400000031"}])


@router.post("/flows/{flow_id}/test", summary="Test-run a flow")
async def test_flow(flow_id: str, caller: Writer, body: FlowTestIn | None = None) -> dict[str, Any]:
    """Runs the flow's steps once, now, on the given item or on the newest item its trigger
    reads (as a delivery carries it: `trigger.id` has the item's own type), and returns the
    run step by step. The run is kept in the run log with `test: true`. Its steps really act
    upstream (an SMS step sends the SMS)."""
    return await flows.test_run(caller.rt, caller.tenant, flow_id, body.item if body else None)


class InstantiateIn(Strict):
    """A flow made from a ready-made template: its connections by role and its options."""
    model_config = ConfigDict(json_schema_extra={"examples": [{"connections": {"ghl": "conn_3f9c2a1b7d4e5f60a1b2", "smsglobal": "conn_8a7b6c5d4e3f2a1b0c9d"}, "options": {"message": "Hi {{ trigger.firstName }}, welcome!"}}]})
    connections: dict[str, str] = Field(
        description="The connections the template needs, by role: e.g. {\"ghl\": \"conn_…\", "
                    "\"smsglobal\": \"conn_…\"} (see the template's 'connections').")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="The template's options (see its 'options').")
    name: str | None = Field(None, min_length=1, max_length=200)


@router.get("/flow-templates")
async def list_templates(who: Principal = Depends(principal)) -> dict[str, Any]:
    """Ready-made SMSGlobal ↔ GHL flows, with the connections and options each needs."""
    return {"templates": flow_templates.catalog()}


@router.post("/flow-templates/{name}/instantiate", status_code=201)
async def instantiate(name: str, body: InstantiateIn, caller: Writer) -> dict[str, Any]:
    """Create the flows of a template from your connections and its options."""
    created = await flow_templates.instantiate(caller.rt, caller.tenant, name,
                                               connections=body.connections,
                                               options=body.options, title=body.name)
    return {"flows": created}
