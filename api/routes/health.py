"""Health and metrics: liveness (/healthz), readiness (/readyz: Redis answers) and the Prometheus
exposition (/metrics); none needs an API key."""

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from api.deps import runtime
from engine.core import metrics
from engine.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(rt: Runtime = Depends(runtime)):
    """Readiness: Redis answers (503 with the error's kind when it does not)."""
    try:
        await rt.redis.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        kwargs = rt.redis.connection_pool.connection_kwargs
        where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}" if "host" in kwargs \
            else str(kwargs.get("path", "?"))
        return JSONResponse({"status": "unavailable", "redis": type(exc).__name__,
                             "reason": f"Redis at {where} is unreachable ({type(exc).__name__}); "
                                       "the API answers 503 until it is back"},
                            status_code=503, headers={"Retry-After": "5"})
    return {"status": "ready", "redis": "ok"}


@router.get("/metrics", summary="Prometheus metrics",
            description="Polls, upstream requests and 429s, rate budget left per location, "
                        "schedule lag, deliveries and their latency, outbox depth, dead letters, "
                        "token refreshes and flow runs, in the Prometheus text format. The "
                        "workers' series appear here when the API and the workers share "
                        "PROMETHEUS_MULTIPROC_DIR (README, Metrics).",
            response_class=Response)
async def metrics_route(rt: Runtime = Depends(runtime)) -> Response:
    """The Prometheus text exposition (:func:`engine.core.metrics.exposition`), with its content
    type."""
    body, content_type = await metrics.exposition(rt.redis)
    return Response(body, media_type=content_type)
