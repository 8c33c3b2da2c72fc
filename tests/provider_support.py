"""Helpers for the conversation-provider tests: a clean provider slot for the sandbox location."""

from __future__ import annotations

import pytest
import redis

from engine.core import keys
from sandbox.ghl import DEFAULT_LOCATION
from tests.conftest import REDIS_URL


@pytest.fixture(autouse=True)
def no_provider():
    """The sandbox location starts without a provider set-up (it is one per location, whoever
    made it, so an earlier test's set-up would be in the way)."""
    r = redis.Redis.from_url(REDIS_URL)
    r.delete(keys.PROVIDER.format(location_id=DEFAULT_LOCATION))
    yield
    r.delete(keys.PROVIDER.format(location_id=DEFAULT_LOCATION))  # nor a later test's
    r.close()
