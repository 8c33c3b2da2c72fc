"""The sandbox application: the GHL stand-in (and the SMSGlobal one under /v2 when present)."""

from __future__ import annotations

from fastapi import FastAPI

from sandbox import ghl


def create_app(**kwargs) -> FastAPI:
    return ghl.create_app(**kwargs)


def app_factory() -> FastAPI:
    return create_app()
