"""The FastAPI application: routes, auth dependency and error mapping."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api import errors
from api.edge import EdgeSanitation
from api.limits import BodySizeLimit
from api.requestids import RequestIds
from api.responses import SafeJSONResponse
from api.routes import (actions, connections, console, flows, health, inbound, keys, oauth,
                        operations, subscriptions, triggers)
from api.routes import ghl_request, sms_provider
from engine.core.logs import setup_logging
from engine.core.settings import Settings, get_settings
from engine.wiring import open_runtime
from engine.spec.registry import registry

ROUTERS = [health.router, operations.router, actions.router, triggers.router, connections.router]
ROUTERS += [oauth.router, keys.router]
ROUTERS += [flows.router]
ROUTERS += [subscriptions.router]
ROUTERS += [inbound.router]
ROUTERS += [sms_provider.router]
ROUTERS += [ghl_request.router]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API application: logging set up, the operation catalog loaded (a malformed spec raises
    here, naming it), the error handlers, the edge middlewares (request ids, body size limit,
    input sanitation), every router and the console. The Runtime is opened on start-up and
    closed on shutdown. ``settings``: None reads them from the environment."""
    settings = settings or get_settings()
    setup_logging(settings.log_level, settings.log_format)
    registry()  # a malformed spec stops the start, naming it

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.runtime = await open_runtime(settings)
        try:
            yield
        finally:
            await app.state.runtime.close()

    # /docs and /redoc from assets packaged with fastapi-offline: they work without a CDN
    app = FastAPIOffline(title="ghl-engine", version="0.1.0", lifespan=lifespan,
                         default_response_class=SafeJSONResponse,
                         description="Polling triggers and actions for the GoHighLevel API v2 "
                                     "and SMSGlobal.")
    errors.install(app)
    app.add_middleware(EdgeSanitation)  # inside the size limit: it reads bodies already bounded
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIds)
    for router in ROUTERS:
        app.include_router(router)
    console.install(app)
    return app


def app_factory() -> FastAPI:
    """:func:`create_app` with the environment's settings, for ``uvicorn --factory``."""
    return create_app()
