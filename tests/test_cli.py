"""The operator CLI, run as a real ``ghl-engine`` process against the test Redis: replaying
1,000 dead letters with a progress bar (the receiver then gets each exactly once), the tables
operators read, connection updates, flows, and ``doctor``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from engine.core import keys
from engine.core.settings import Settings
from engine.polling import delivery
from engine.wiring import open_runtime
from tests.conftest import ROOT
from tests.polling_support import deliver_all, receiver, subscribe  # noqa: F401
from tests.test_status import make_flow, new_token, poll_now


def cli(*args: str, tenant: str | None = None, env: dict | None = None,
        ok: bool = True) -> subprocess.CompletedProcess:
    """``ghl-engine ARGS`` as its own process (what an operator runs)."""
    full = [sys.executable, "-m", "engine.cli.main", *args]
    if tenant:
        full += ["--tenant", tenant]
    done = subprocess.run(full, cwd=ROOT, env={**os.environ, "COLUMNS": "250", **(env or {})},
                          capture_output=True, text=True, timeout=180)
    if ok:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def run(*args: str, tenant: str | None = None, ok: bool = True):
    """``ghl-engine ARGS`` in this process (the same command code, without a process start
    per call); ``stdout``/``stderr``/``returncode`` as for :func:`cli`."""
    from typer.testing import CliRunner

    from engine.cli.main import app

    full = [*args, *(["--tenant", tenant] if tenant else [])]
    result = CliRunner().invoke(app, full, env={"COLUMNS": "250"})
    result.returncode = result.exit_code
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.mark.covers("contacts.search_contacts")
async def test_replay_dead_replays_a_thousand_dead_letters_each_received_once(
        api, sandbox, connection, receiver, tenant):  # noqa: F811
    sub = subscribe(api, connection, receiver)
    assert poll_now(api, sub["id"])["outcome"] == "primed"
    for _ in range(2):  # two polls of 500 new contacts each
        sandbox.post("/_sandbox/seed/contacts", json={"count": 500}).raise_for_status()
        assert poll_now(api, sub["id"])["deliveries"] == 500
    receiver.status = 500
    rt = await open_runtime(Settings(ENGINE_DELIVERY_RETRY_SCHEDULE=""))  # no retries: dead at once
    try:
        await deliver_all(rt, [sub["id"]], timeout=300)
        assert await rt.redis.llen(keys.SUB_DEAD.format(sub_id=sub["id"])) == 1000
        assert len(await delivery.dead_letters(rt, tenant=tenant)) == 1000
        receiver.received.clear()
        receiver.status = 200

        done = cli("deliveries", "replay", "--dead", tenant=tenant)
        assert "replayed 1000 dead letter(s)" in done.stdout
        assert "replaying dead letters" in done.stderr and "1000/1000" in done.stderr  # the bar
        assert await rt.redis.llen(keys.SUB_DEAD.format(sub_id=sub["id"])) == 0
        await deliver_all(rt, [sub["id"]], timeout=300)
    finally:
        await rt.close()
    ids = Counter(r["headers"]["webhook-id"] for r in receiver.accepted())
    assert len(ids) == 1000 and set(ids.values()) == {1}
    assert "dead" not in cli("deliveries", "list", sub["id"], "--status", "dead",
                             tenant=tenant).stdout.split("─")[-1]


def test_operators_read_tables_and_fix_a_connection(api, sandbox, receiver, tenant):  # noqa: F811
    from sandbox.ghl import DEFAULT_LOCATION

    token = new_token(sandbox)
    conn = api.post("/v1/connections", json={"name": "Clinic", "token": token,
                                             "location_id": DEFAULT_LOCATION}).json()
    flow = make_flow(api, conn)
    sub = subscribe(api, conn, receiver)
    assert "primed" in run("subscriptions", "poll-now", sub["id"], tenant=tenant).stdout
    sandbox.delete(f"/_sandbox/tokens/{token}")
    assert "paused" in run("subscriptions", "poll-now", sub["id"], tenant=tenant).stdout

    listed = run("subscriptions", "list", tenant=tenant).stdout
    assert sub["id"] in listed and "paused" in listed and "GoHighLevel refused" in listed
    flows = run("flows", "list", tenant=tenant).stdout
    assert flow["id"] in flows and "paused" in flows
    conns = run("connections", "list", tenant=tenant).stdout
    assert conn["id"] in conns and "failing" in conns
    assert run("connections", "test", conn["id"], tenant=tenant, ok=False).returncode == 1

    fresh = new_token(sandbox)
    fixed = run("connections", "update", conn["id"], "--token", fresh, tenant=tenant)
    assert "test passed" in fixed.stdout and fresh not in fixed.stdout + fixed.stderr
    assert api.get(f"/v1/flows/{flow['id']}").json()["status"] == "active"
    shown = json.loads(run("subscriptions", "show", sub["id"], tenant=tenant).stdout)
    assert shown["status"] == "active"

    assert "paused" in run("subscriptions", "pause", sub["id"], tenant=tenant).stdout
    assert "active" in run("subscriptions", "resume", sub["id"], tenant=tenant).stdout
    assert "paused" in run("flows", "pause", flow["id"], tenant=tenant).stdout
    assert "active" in run("flows", "resume", flow["id"], tenant=tenant).stdout
    missing = run("subscriptions", "show", "sub_nope", tenant=tenant, ok=False)
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert "list yours with `ghl-engine subscriptions list`" in missing.stderr, missing.stderr
    other = run("subscriptions", "show", sub["id"], tenant="someone-else", ok=False)
    assert other.returncode == 1  # another tenant's subscription is not found
    run("subscriptions", "delete", sub["id"], "--yes", tenant=tenant)
    assert api.get(f"/v1/subscriptions/{sub['id']}").status_code == 404


def test_doctor_checks_redis_keys_and_upstream(api, sandbox_server):
    done = run("doctor")
    for check in ("settings", "encryption keys", "redis", "clock (vs Redis)", "GHL reachable",
                  "SMSGlobal reachable"):
        assert check in done.stdout, done.stdout
    assert "FAIL" not in done.stdout
    broken = cli("doctor", env={"REDIS_URL": "redis://127.0.0.1:1/0",
                                "GHL_BASE_URL": sandbox_server.url,
                                "SMSGLOBAL_BASE_URL": sandbox_server.url}, ok=False)
    assert broken.returncode == 1 and "FAIL" in broken.stdout
