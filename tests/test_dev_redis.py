"""`make dev`'s own Redis and supervision: a write answered 201 one second before its Redis is
killed with SIGKILL is still there after; Redis listens on 127.0.0.1 with an append-only file
whose files are 0600; a crashed child is started again while the rest keeps running."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis as sync_redis

from tests.support import free_port, start_dev


def _start(tmp_path: Path, port: int) -> tuple[subprocess.Popen, str]:
    proc, output = start_dev(tmp_path, port)
    assert "Ctrl-C stops everything" in output, output
    return proc, output


def _children(pid: int) -> dict[int, str]:
    out = subprocess.run(["ps", "-ww", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return {int(line.split(None, 1)[0]): line.split(None, 1)[1] for line in out.splitlines() if line.strip()}


def _child(pid: int, word: str) -> int:
    """The child of ``pid`` whose command line holds ``word`` (waiting for it, should it be
    being started again just now)."""
    deadline = time.time() + 30
    while True:
        found = [p for p, args in _children(pid).items() if word in args]
        if found:
            return found[0]
        assert time.time() < deadline, _children(pid)
        time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _until(check, timeout: float, what: str) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            if check():
                return
        except (httpx.HTTPError, sync_redis.RedisError):
            pass
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_dev_redis_survives_sigkill_and_children_are_restarted(tmp_path):
    port = free_port()
    proc, output = _start(tmp_path, port)
    try:
        api = f"http://127.0.0.1:{port}"
        key = re.search(r"API key \(tenant 'dev'\): (\S+)", output).group(1)
        conn_id = re.search(r"GHL location (\S+),", output).group(1)
        redis_url = re.search(r"dev Redis on (\S+)", output).group(1)
        client = httpx.Client(base_url=api, timeout=30, headers={"Authorization": f"Bearer {key}"})
        r = sync_redis.Redis.from_url(redis_url)
        assert r.config_get("bind")["bind"] == "127.0.0.1"
        assert r.config_get("appendonly")["appendonly"] == "yes"
        assert r.config_get("appendfsync")["appendfsync"] == "everysec"

        sub = client.post("/v1/subscriptions", json={"trigger": "contacts.search_contacts",
                                                     "connection_id": conn_id,
                                                     "target_url": "http://127.0.0.1:9/hook"})
        assert sub.status_code == 201, sub.text
        time.sleep(1.0)
        os.kill(_child(proc.pid, "redis-server"), signal.SIGKILL)
        _until(lambda: client.get("/v1/subscriptions").status_code == 200, 60, "Redis back")
        assert [s["id"] for s in client.get("/v1/subscriptions").json()["subscriptions"]] == \
            [sub.json()["id"]]
        assert conn_id in [c["id"] for c in client.get("/v1/connections").json()["connections"]]

        worker = _child(proc.pid, " worker")
        os.kill(worker, signal.SIGKILL)
        _until(lambda: any(" worker" in a and p != worker for p, a in _children(proc.pid).items()),
               30, "the worker started again")
        assert proc.poll() is None, "the dev stack stopped"
        assert client.get("/readyz").status_code == 200
        client.close()
        r.close()
        data = tmp_path / ".dev"
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        files = [f for f in data.rglob("*") if f.is_file()
                 if "appendonly" in f.name or f.suffix in (".aof", ".rdb") or f.name == "api-key"]
        assert any("appendonly" in f.name or f.suffix == ".aof" for f in files), files
        for f in files:  # Redis's data (customer data) and the dev key
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, (f, oct(f.stat().st_mode))
    finally:
        _stop(proc)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting to be reaped counts as gone)."""
    out = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    return out.stdout.strip() not in ("", "Z") and not out.stdout.strip().startswith("Z")


def test_one_stack_per_directory_and_sigterm_stops_all_of_it(tmp_path):
    """A second `ghl-engine dev` in the same directory is refused at once (saying which process
    runs there and how to stop it) while the first runs; SIGTERM to the first (its process
    alone, as `kill <pid>` sends it) stops it and every child quietly; then a new one starts."""
    port = free_port()
    proc, output = _start(tmp_path, port)
    try:
        children = _children(proc.pid)
        assert {"redis-server", " sandbox", " api", " worker"} <= {
            word for word in ("redis-server", " sandbox", " api", " worker")
            if any(word in args for args in children.values())}, children
        started = time.time()
        second = subprocess.run([sys.executable, "-m", "engine.cli.main", "dev"], cwd=tmp_path,
                                env={k: v for k, v in os.environ.items() if k != "REDIS_URL"},
                                capture_output=True, text=True, timeout=30)
        said = second.stdout + second.stderr
        assert second.returncode != 0 and time.time() - started < 10, said
        assert "another dev stack is running here" in said, said
        assert f"kill {proc.pid}" in said and f"http://127.0.0.1:{port}" in said, said
        assert "Traceback" not in said, said
        assert _children(proc.pid) == children  # the running stack is untouched

        os.kill(proc.pid, signal.SIGTERM)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "[dev] stopped" in rest, rest
        assert "Traceback" not in rest, rest
        deadline = time.time() + 10
        while any(_alive(pid) for pid in children):
            assert time.time() < deadline, {p: a for p, a in children.items() if _alive(p)}
            time.sleep(0.2)
    finally:
        _stop(proc)
    again, output = _start(tmp_path, port)
    try:
        assert "another dev stack" not in output, output
    finally:
        _stop(again)
