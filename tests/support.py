"""Test helpers: real servers on loopback ports, in threads of the test process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Stop a child process as a service manager would: SIGTERM, then SIGKILL if it is still
    running ``timeout_s`` seconds later; returns once it has exited (at once if it already had)."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ServerThread:
    """Runs an ASGI app with uvicorn on 127.0.0.1 in a background thread (real sockets)."""

    def __init__(self, app, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_dev(cwd: Path, port: int, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """Start ``ghl-engine dev`` in ``cwd`` (its own session, the API on ``port``) with nothing
    configured, and read its output up to the ready line; (the process, that output)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "GHL_BASE_URL", "SMSGLOBAL_BASE_URL", "ENGINE_SECRET_KEYS")}
    env["ENGINE_PORT"] = str(port)
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "dev"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
    return proc, "".join(lines)


def smsglobal_connection_with_a_replaced_secret(api, sandbox) -> dict:
    """An SMSGlobal connection whose credentials passed when it was made, then stopped working
    (the secret was replaced at SMSGlobal): every later call is refused with a 403."""
    key = "typokey" + str(time.time_ns())
    sandbox.post("/_sandbox/smsglobal/credentials",
                 json={"api_key": key, "api_secret": "wrong-secret-123"}).raise_for_status()
    resp = api.post("/v1/connections", json={"app": "smsglobal", "name": "typo",
                                             "api_key": key, "api_secret": "wrong-secret-123"})
    assert resp.status_code == 201, resp.text
    sandbox.post("/_sandbox/smsglobal/credentials",
                 json={"api_key": key, "api_secret": "the-new-secret"}).raise_for_status()
    return resp.json()
