"""The sandbox application: the GHL stand-in, with the SMSGlobal one under /v2."""

from __future__ import annotations

from fastapi import FastAPI

from sandbox import ghl, providers, smsglobal


def create_app(**kwargs) -> FastAPI:
    app = ghl.create_app(**kwargs)
    smsglobal.install(app)  # its routes go ahead of GHL's catch-all
    providers.install(app)
    return app


def app_factory() -> FastAPI:
    return create_app()
