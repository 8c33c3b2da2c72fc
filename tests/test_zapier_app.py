"""The Zapier app (integrations/zapier) against the engine: the sandbox and the API on
127.0.0.1, a worker process running polls and deliveries, and the app's node test suite run with
zapier-platform-core's app tester (REST hook cycles, performList, creates, searches, dropdowns)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import stop_process

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "integrations" / "zapier"
NODE_TIMEOUT = 240


@pytest.fixture
def node_app() -> Path:
    """The app with its packages installed exactly from its lock file (as `make test` does)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: install Node.js 18+ to test the Zapier app")
    stamp = APP / "node_modules" / ".package-lock.json"
    lock = APP / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=APP,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"npm ci failed in integrations/zapier:\n{done.stderr[-4000:]}"
    return APP


@pytest.fixture
def worker(api_server, tmp_path):
    """A worker process (scheduler tick, polls, deliveries) on the tests' Redis and sandbox."""
    env = dict(os.environ)
    env["ENGINE_LOG_LEVEL"] = "INFO"
    env["ENGINE_INTERVAL_UNIT_SECONDS"] = "1"  # a subscription's "1 minute" is one second here
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "worker"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    time.sleep(0.5)
    assert proc.poll() is None, f"the worker did not start: {log.read_text()}"
    proc.log = log
    yield proc
    stop_process(proc)


def test_zapier_app_node_suite(node_app, api, smsglobal_connection, sandbox, sandbox_server,
                               api_server, worker):
    from sandbox.ghl import DEFAULT_COMPANY, DEFAULT_LOCATION, DEFAULT_TOKEN

    # a location connection that also knows its company (users and snapshots are per company)
    resp = api.post("/v1/connections", json={"name": "Sandbox location", "token": DEFAULT_TOKEN,
                                             "location_id": DEFAULT_LOCATION,
                                             "company_id": DEFAULT_COMPANY})
    assert resp.status_code == 201, resp.text
    env = dict(os.environ)
    env.update({
        "ENGINE_URL": api_server.url, "ENGINE_API_KEY": api.api_key,
        "GHL_CONNECTION_ID": resp.json()["id"],
        "SMSGLOBAL_CONNECTION_ID": smsglobal_connection["id"],
        "SANDBOX_URL": sandbox_server.url,
    })
    tests = sorted(str(p.relative_to(APP)) for p in (APP / "test").glob("*.test.js"))
    pattern = os.environ.get("ZAPIER_TEST_NAME_PATTERN")  # run a part of the suite while working
    args = [f"--test-name-pattern={pattern}"] if pattern else []
    proc = subprocess.run(["node", "--test", "--test-reporter=spec", *args, *tests], cwd=APP, env=env,
                          capture_output=True, text=True, timeout=NODE_TIMEOUT)
    out = proc.stdout + proc.stderr
    print(out)  # shown with `pytest -s` or on failure
    assert proc.returncode == 0, (f"the Zapier app's node suite failed:\n{out[-12000:]}\n"
                                  f"worker log:\n{worker.log.read_text()[-4000:]}")
    assert "# fail 0" in out or "ℹ fail 0" in out, out[-4000:]
    if not pattern:
        assert "skipped 0" in out, f"live tests were skipped:\n{out[-4000:]}"
