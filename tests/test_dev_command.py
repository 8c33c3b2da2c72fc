"""`make dev` (ghl-engine dev) starts everything, and the curl line it prints works."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import httpx

from tests.receiver import Receiver
from tests.support import free_port


def test_dev_starts_everything_and_its_curl_line_creates_a_contact(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "GHL_BASE_URL", "SMSGLOBAL_BASE_URL", "ENGINE_SECRET_KEYS")}
    env["ENGINE_PORT"] = str(free_port())
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "dev"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        output = "".join(lines)
        assert "Ctrl-C stops everything" in output, output
        assert "generated a local encryption key" in output
        assert (tmp_path / ".engine-keys").exists()
        curl = output[output.index("curl "):output.index("Ctrl-C")].replace("\\\n", " ")
        args = shlex.split(curl)
        url = next(a for a in args if a.startswith("http"))
        headers = dict(args[i + 1].split(": ", 1) for i, a in enumerate(args) if a == "-H")
        body = json.loads(args[args.index("-d") + 1])
        resp = httpx.post(url, headers=headers, json=body, timeout=30)
        assert resp.status_code == 200, resp.text
        contact = resp.json()["data"]["contact"]
        assert contact["email"] == "ada@example.com" and contact["id"]
        assert proc.poll() is None  # api, worker and sandbox are still up
        # the worker (another process) polls a new subscription; its count reaches /metrics
        base = url.split("/v1/")[0]
        receiver = Receiver().start()
        try:
            resp = httpx.post(base + "/v1/subscriptions", headers=headers, timeout=30, json={
                "trigger": "contacts.search_contacts", "connection_id": body["connection_id"],
                "target_url": receiver.url, "interval_minutes": 1})
            assert resp.status_code == 201, resp.text
            primed = 'ghl_engine_polls_total{outcome="primed",trigger="contacts.search_contacts"} 1.0'
            deadline = time.time() + 30
            while primed not in httpx.get(base + "/metrics", timeout=10).text:
                assert time.time() < deadline, "the worker's poll never showed at /metrics"
                time.sleep(0.3)
        finally:
            receiver.stop()
        assert re.search(r"API key \(tenant 'dev'\): ghle_", output)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
