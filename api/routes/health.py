from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.deps import runtime
from engine.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(rt: Runtime = Depends(runtime)):
    try:
        await rt.redis.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return JSONResponse({"status": "unavailable", "redis": type(exc).__name__}, status_code=503)
    return {"status": "ready", "redis": "ok"}
