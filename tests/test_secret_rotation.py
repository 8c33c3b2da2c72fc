"""`ghl-engine secrets rotate`: every stored secret re-encrypted with the first key of
ENGINE_SECRET_KEYS, so that the old key can be removed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import redis as sync_redis
from cryptography.fernet import Fernet
from redis.asyncio import Redis

from engine.accounts import connections
from engine.accounts.vault import Vault, VaultError
from engine.core import keys
from tests.conftest import REDIS_URL, ROOT

_BASE, _INDEX = REDIS_URL.rsplit("/", 1)
# a database of its own, never the session's (nor, for the usual indexes 0-7, another's 0-7)
DB = f"{_BASE}/{(int(_INDEX or 0) + 8) % 16}"


def _cli(secret_keys: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, REDIS_URL=DB, ENGINE_SECRET_KEYS=secret_keys)
    return subprocess.run([sys.executable, "-m", "engine.cli.main", "secrets", "rotate"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def test_rotate_reencrypts_everything_and_the_old_key_can_go():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sync_redis.Redis.from_url(DB).flushdb()

    async def plant() -> list[str]:
        r = Redis.from_url(DB)
        try:
            vault = Vault([old])
            ids = []
            for i in range(3):
                conn = await connections.create(
                    r, vault, tenant="rot", app="ghl", name=f"c{i}", auth="oauth",
                    secret={"access_token": f"at-{i}", "refresh_token": f"rt-{i}"},
                    location_id=f"loc{i}")
                ids.append(conn.id)
            await r.hset(keys.PREFIX + "sub:rot1", mapping={"secret": vault.seal({"secret": "whsec_x"}),
                                                             "target_url": "https://x.example/"})
            return ids
        finally:
            await r.aclose()

    ids = asyncio.run(plant())
    done = _cli(f"{new},{old}")
    assert done.returncode == 0, done.stderr
    assert "re-encrypted: 4" in done.stdout

    async def check() -> None:
        r = Redis.from_url(DB)
        try:
            only_new = Vault([new])
            for i, conn_id in enumerate(ids):
                conn = await connections.load(r, conn_id, only_new)
                assert conn.secret == {"access_token": f"at-{i}", "refresh_token": f"rt-{i}"}
            sealed = (await r.hget(keys.PREFIX + "sub:rot1", "secret")).decode()
            assert only_new.open(sealed) == {"secret": "whsec_x"}
            try:
                Vault([old]).open(sealed)
            except VaultError:
                pass
            else:
                raise AssertionError("the old key still opens a rotated secret")
        finally:
            await r.aclose()

    asyncio.run(check())
    # with the old key gone, a second run finds everything readable
    again = _cli(new)
    assert again.returncode == 0 and "re-encrypted: 4" in again.stdout
    # a value sealed with a key no longer configured is reported, not silently skipped
    lost = _cli(Fernet.generate_key().decode())
    assert lost.returncode == 1 and "not readable" in lost.stderr
    sync_redis.Redis.from_url(DB).flushdb()
