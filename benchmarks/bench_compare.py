"""Old code against new, side by side in one run.

The code at ``--base`` (default 1163d86, the last commit before engine/ became packages) is
checked out into a temporary git worktree; each side runs its own API and worker processes
(``python -m engine.cli``, with that tree first on ``sys.path``) on a Redis database of its own,
against one shared sandbox and one webhook receiver. Both sides are measured in the same repeat,
so the machine's noise falls on both:

* **action latency**: ``POST /v1/actions/contacts.find_contact`` one request at a time, the two
  sides interleaved in blocks; p50 per side per repeat.
* **polling**: the same subscriptions on both sides (``contacts.search_contacts``, distinct
  params, so one watch each, spread over a few locations, a 2 s interval), both workers polling
  at once for a window; worker CPU per poll (polls counted from the cursors' versions).

Reported: each repeat's values, the median per side, the spread of repeats and the new/old ratio
of the medians. "No regression" means the ratio stays within the spread of the repeats.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from redis.asyncio import Redis as AsyncRedis

from benchmarks.harness import (PY, ROOT, Proc, Stack, command, free_port, log, sandbox_location,
                                spread, wait_port, write_result)
from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN

BASE = "1163d86"
TRIGGER = "contacts.search_contacts"
SIDES = ("old", "new")


def checkout(rev: str) -> Path:
    """A detached worktree of ``rev`` in a temporary directory (removed by :func:`remove`)."""
    path = Path(tempfile.mkdtemp(prefix="ghle-base-")) / "tree"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path),
                    rev], check=True)
    return path


def remove(path: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                   check=False)
    shutil.rmtree(path.parent, ignore_errors=True)


class Side:
    """One side's processes: its tree, its Redis database, its API key, API and worker."""

    def __init__(self, name: str, tree: Path, stack: Stack, db: int) -> None:
        self.name, self.tree, self.stack = name, tree, stack
        base = stack.redis.url.rsplit("/", 1)[0]
        self.env = {**stack.env, "REDIS_URL": f"{base}/{db}", "PYTHONPATH": str(tree),
                    "ENGINE_MIN_INTERVAL_SECONDS": "1", "ENGINE_INTERVAL_UNIT_SECONDS": "1",
                    "ENGINE_RATE_BURST": "100000", "ENGINE_RATE_WINDOW_MS": "10000"}
        self.procs: list[Proc] = []

    def spawn(self, label: str, args: list[str], port: int | None) -> Proc:
        logf = self.stack.dir / f"{self.name}-{label}.log"
        with open(logf, "wb") as fh:
            popen = subprocess.Popen([PY, "-m", "engine.cli", *args], cwd=self.tree, env=self.env,
                                     stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        proc = Proc(f"{self.name}-{label}", popen, logf, port)
        self.procs.append(proc)
        if port is not None:
            wait_port(port, proc=popen)
        return proc

    def start(self) -> None:
        out = subprocess.run([PY, "-m", "engine.cli", "keys", "create", "--tenant", "bench"],
                             cwd=self.tree, env=self.env, capture_output=True, text=True, check=True)
        self.key = re.search(r"api key:\s*(\S+)", out.stdout).group(1)
        port = free_port()
        self.spawn("api", ["api", "--port", str(port)], port)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30,
                                   headers={"Authorization": f"Bearer {self.key}"})
        resp = self.client.post("/v1/connections", json={
            "name": "bench", "token": DEFAULT_TOKEN, "location_id": DEFAULT_LOCATION})
        resp.raise_for_status()
        self.conn_id = resp.json()["id"]

    def connect(self, token: str, location_id: str) -> str:
        resp = self.client.post("/v1/connections", json={"name": location_id, "token": token,
                                                         "location_id": location_id})
        resp.raise_for_status()
        return resp.json()["id"]

    def close(self) -> None:
        for proc in self.procs:
            proc.stop()


def _latency(sides: dict[str, Side], n: int, block: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in sides}
    i = 0
    while len(samples["new"]) < n:
        for name, side in sides.items():
            for _ in range(block):
                t = time.perf_counter()
                r = side.client.post("/v1/actions/contacts.find_contact", json={
                    "connection_id": side.conn_id, "input": {"email": f"c{i}@example.com"}})
                samples[name].append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
                i += 1
    return {name: spread(v)["median"] for name, v in samples.items()}


async def _polls(url: str) -> int:
    """Committed polls so far: the sum of every cursor's version."""
    r = AsyncRedis.from_url(url)
    try:
        total = 0
        async for key in r.scan_iter(match="ghle:cursor:*", count=1000):
            if key.endswith(b":seen"):
                continue
            total += int(await r.hget(key, "version") or 0)
        return total
    finally:
        await r.aclose()


def _poll_cpu(sides: dict[str, Side], window_s: float) -> dict[str, float]:
    before = {n: (s.worker.cpu(), asyncio.run(_polls(s.env["REDIS_URL"]))) for n, s in sides.items()}
    time.sleep(window_s)
    out = {}
    for n, s in sides.items():
        cpu, polls = s.worker.cpu(), asyncio.run(_polls(s.env["REDIS_URL"]))
        out[n] = round((cpu - before[n][0]) * 1000 / max(1, polls - before[n][1]), 3)
        out[n + "_polls"] = polls - before[n][1]
    return out


def run(base: str = BASE, repeats: int = 5, n: int = 200, block: int = 20, watches: int = 60,
        locations: int = 6, window_s: float = 20.0) -> dict:
    tree = checkout(base)
    reps = []
    try:
        with Stack() as s:
            s.start_sandbox({"rate_limit": 100_000, "window_ms": 10_000, "latency_ms": 0})
            receiver = s.start_receiver()
            sides = {"old": Side("old", tree, s, 1), "new": Side("new", ROOT, s, 2)}
            try:
                for side in sides.values():
                    side.start()
                # the same watches on both sides, spread over a few locations
                tokens = []
                for i in range(locations):
                    loc = f"loc_cmp_{i:03d}"
                    tok = sandbox_location(s.sandbox.url, loc, f"Compare {i}")
                    tokens.append((tok, loc))
                for side in sides.values():
                    conns = [side.connect(tok, loc) for tok, loc in tokens]
                    for j in range(watches):
                        resp = side.client.post("/v1/subscriptions", json={
                            "trigger": TRIGGER, "connection_id": conns[j % locations],
                            "params": {"query": f"w{j}"}, "interval_minutes": 2,
                            "target_url": receiver.url + "/hook"})
                        resp.raise_for_status()
                    side.worker = side.spawn("worker", ["worker"], None)
                time.sleep(5.0)  # priming and start-up
                for rep in range(repeats):
                    lat = _latency(sides, n, block)
                    cpu = _poll_cpu(sides, window_s)
                    rec = {"action_p50_ms": lat, "worker_cpu_ms_per_poll": cpu}
                    reps.append(rec)
                    log(f"compare repeat {rep + 1}/{repeats}: action p50 old {lat['old']:.2f} ms "
                        f"new {lat['new']:.2f} ms; worker CPU/poll old {cpu['old']} ms "
                        f"({cpu['old_polls']} polls) new {cpu['new']} ms ({cpu['new_polls']} polls)")
            finally:
                for side in sides.values():
                    side.close()
    finally:
        remove(tree)
    result: dict = {"base": base, "repeats": reps, "sides": {}}
    for metric in ("action_p50_ms", "worker_cpu_ms_per_poll"):
        per = {name: spread([r[metric][name] for r in reps]) for name in SIDES}
        ratio = per["new"]["median"] / per["old"]["median"] if per["old"]["median"] else None
        result["sides"][metric] = {**per, "ratio_new_over_old": round(ratio, 3) if ratio else None}
    result["params"] = {"repeats": repeats, "requests_per_repeat": n, "block": block,
                        "watches_per_side": watches, "locations": locations,
                        "interval_s": 2, "window_s": window_s, "trigger": TRIGGER}
    result["command"] = command("benchmarks.bench_compare", "--base", base)
    write_result("compare", result)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--base", default=BASE, help="the old commit (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=200, help="action requests per side per repeat")
    ap.add_argument("--watches", type=int, default=60, help="watches per side")
    ap.add_argument("--window", type=float, default=20.0, help="polling window per repeat (s)")
    args = ap.parse_args()
    out = run(args.base, args.repeats, args.n, watches=args.watches, window_s=args.window)
    for metric, sides in out["sides"].items():
        print(f"{metric}: old {sides['old']['median']} new {sides['new']['median']} "
              f"(ratio {sides['ratio_new_over_old']}; spread old {sides['old']}, new {sides['new']})")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
