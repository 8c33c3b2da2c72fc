"""`make dev` (ghl-engine dev) starts everything; what it prints works, every shell example of
the README runs as written against it, other `ghl-engine` commands find its Redis, its log is
quiet."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.receiver import Receiver
from tests.support import free_port


class DevStack:
    """`ghl-engine dev` running in ``cwd``; ``lines`` is everything it printed so far."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.env = cwd, env
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "dev"], cwd=cwd,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")),
                         daemon=True).start()
        deadline = time.time() + 120
        while not any("Ctrl-C stops everything" in line for line in self.lines):
            assert self.proc.poll() is None and time.time() < deadline, "".join(self.lines)
            time.sleep(0.2)
        self.ready_at = time.time()
        self.output = "".join(self.lines)
        self.exports = re.search(r"^export (.+)$", self.output, re.M).group(1)
        self.values = dict(part.split("=", 1) for part in self.exports.split())

    def shell(self, script: str) -> subprocess.CompletedProcess:
        """``script`` in bash (-e, pipefail) after the printed export line, from ``cwd``."""
        return subprocess.run(["bash", "-c", f"set -eo pipefail\nexport {self.exports}\n{script}"],
                              cwd=self.cwd, env={k: v for k, v in self.env.items()
                                                 if k != "ENGINE_PORT"},
                              capture_output=True, text=True, timeout=120)

    def stop(self) -> None:
        """Stop it as Ctrl-C does (SIGINT to the terminal's process group), and wait until its
        Redis no longer answers."""
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        port = json.loads((self.cwd / ".dev/state.json").read_text())["ports"]["redis"]
        deadline = time.time() + 20
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    return
            time.sleep(0.2)


@pytest.fixture(scope="module")
def dev(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("dev")
    (cwd / ".venv").symlink_to(ROOT / ".venv")  # the README runs .venv/bin/ghl-engine
    env = {k: v for k, v in os.environ.items()
           if k not in ("REDIS_URL", "GHL_BASE_URL", "SMSGLOBAL_BASE_URL", "ENGINE_SECRET_KEYS")}
    env["ENGINE_PORT"] = str(free_port())
    stack = DevStack(cwd, env)
    yield stack
    stack.stop()


def test_dev_prints_exports_and_a_curl_line_that_creates_a_contact(dev):
    assert "generated a local encryption key" in dev.output
    assert (dev.cwd / ".engine-keys").exists()
    assert set(dev.values) == {"ENGINE_URL", "ENGINE_KEY", "GHL_CONN", "SMS_CONN", "SANDBOX_URL"}
    assert dev.values["ENGINE_KEY"].startswith("ghle_")
    key_id = re.search(r"its key id: (key_\w+)", dev.output).group(1)  # to revoke it
    listed = dev.shell("COLUMNS=250 .venv/bin/ghl-engine keys list --tenant dev")
    assert key_id in listed.stdout and dev.values["ENGINE_KEY"] not in listed.stdout, listed.stdout
    curl = dev.output[dev.output.index("curl "):dev.output.index("Ctrl-C")]
    done = dev.shell(curl)
    assert done.returncode == 0, done.stdout + done.stderr
    contact = json.loads(done.stdout)["data"]["contact"]
    assert contact["email"] == "ada@example.com" and contact["id"]
    headers = {"Authorization": f"Bearer {dev.values['ENGINE_KEY']}"}
    conns = httpx.get(dev.values["ENGINE_URL"] + "/v1/connections", headers=headers).json()
    assert sorted(c["app"] for c in conns["connections"]) == ["ghl", "smsglobal"]
    sms = httpx.post(dev.values["ENGINE_URL"] + f"/v1/connections/{dev.values['SMS_CONN']}/test",
                     headers=headers).json()
    assert sms["ok"] is True


def test_every_shell_example_of_the_readme_runs_as_written(dev):
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    assert len(blocks) >= 4
    for block in blocks:
        done = dev.shell(block)
        assert done.returncode == 0, f"README block failed:\n{block}\n{done.stdout}\n{done.stderr}"
    hooks = httpx.get(dev.values["SANDBOX_URL"] + "/_sandbox/hooks").json()["hooks"]
    lin = [h for h in hooks if h["body"]["data"].get("firstName") == "Lin"]
    assert len(lin) == 1, hooks
    assert lin[0]["headers"]["webhook-signature"].startswith("v1,")


def test_the_worker_counts_reach_metrics_and_other_commands_find_the_stack(dev):
    base = dev.values["ENGINE_URL"]
    headers = {"Authorization": f"Bearer {dev.values['ENGINE_KEY']}"}
    receiver = Receiver().start()
    try:  # the worker (another process) polls a new subscription; its count reaches /metrics
        resp = httpx.post(base + "/v1/subscriptions", headers=headers, timeout=30, json={
            "trigger": "contacts.search_contacts", "connection_id": dev.values["GHL_CONN"],
            "target_url": receiver.url, "interval_minutes": 1, "params": {"query": "metrics"}})
        assert resp.status_code == 201, resp.text
        primed = re.compile(r'ghl_engine_polls_total\{[^}]*outcome="primed"[^}]*\} [1-9]')
        deadline = time.time() + 30
        while not primed.search(httpx.get(base + "/metrics", timeout=10).text):
            assert time.time() < deadline, "the worker's poll never showed at /metrics"
            time.sleep(0.3)
    finally:
        receiver.stop()
    listed = dev.shell("COLUMNS=250 .venv/bin/ghl-engine subscriptions list")
    assert resp.json()["id"] in listed.stdout, listed.stdout + listed.stderr
    made = dev.shell(".venv/bin/ghl-engine keys create --tenant ops")
    new_key = made.stdout.split("api key: ")[1].strip()
    assert httpx.get(base + "/v1/connections", timeout=10,
                     headers={"Authorization": f"Bearer {new_key}"}).status_code == 200


def test_every_file_under_dev_is_the_owners_only(dev):
    """.dev/ holds Redis's data, the dev key, the state file and the metrics of the API and the
    worker: every directory is 0700 and every file 0600."""
    data = dev.cwd / ".dev"
    metrics = data / "metrics"
    deadline = time.time() + 30
    while not any(metrics.glob("*.db")):  # the API and the worker write theirs when they count
        httpx.get(dev.values["ENGINE_URL"] + "/metrics", timeout=10)
        assert time.time() < deadline, "no metrics file was written"
        time.sleep(0.3)
    found = [data, *data.rglob("*")]
    assert (data / "state.json") in found and (data / "api-key") in found
    wrong = {str(p.relative_to(dev.cwd)): oct(p.stat().st_mode & 0o777) for p in found
             if p.stat().st_mode & 0o777 != (0o700 if p.is_dir() else 0o600)}
    assert wrong == {}, wrong


def test_the_log_is_quiet_at_info(dev):
    """A worker ticking every second, polling, writes no line per tick at INFO."""
    time.sleep(max(0.0, dev.ready_at + 5 - time.time()))
    later = dev.lines[len(dev.output.splitlines(True)):]
    ticking = [line for line in later if re.search(r"scheduler_tick|cron:|primed:|polled:", line)]
    assert ticking == [], "".join(later)


def test_a_restart_keeps_its_ports_key_and_connections(dev):
    """`make dev` started again in the same folder brings its own Redis and sandbox back up (on
    the default ports when free, else on the last run's), with the same API URL, dev key and
    connections, and the key still works."""
    before = dict(dev.values)
    headers = {"Authorization": f"Bearer {before['ENGINE_KEY']}"}
    conns_before = httpx.get(before["ENGINE_URL"] + "/v1/connections", headers=headers).json()
    printed = len(dev.lines)
    dev.stop()
    time.sleep(0.5)  # the reader thread takes the last lines
    said = "".join(dev.lines[printed:])
    assert dev.proc.returncode == 0, said  # Ctrl-C stops it quietly: no tracebacks
    assert "Traceback" not in said and "KeyboardInterrupt" not in said, said
    assert "Task was destroyed" not in said and "[dev] stopped" in said, said
    again = DevStack(dev.cwd, dev.env)
    try:
        assert "dev Redis on" in again.output, again.output
        for name in ("ENGINE_URL", "ENGINE_KEY", "GHL_CONN", "SMS_CONN"):
            assert again.values[name] == before[name], (name, again.output)
        conns = httpx.get(again.values["ENGINE_URL"] + "/v1/connections", headers=headers)
        assert conns.status_code == 200, conns.text
        assert conns.json() == conns_before  # kept, and no new "Sandbox location" per start
    finally:
        again.stop()


def test_the_default_ports_come_back_when_free_and_a_differing_port_says_why():
    """The default port when free (even if the last run used another), else the last run's,
    else any; each choice other than the default is explained."""
    from engine.cli.devserver import choose_port

    said: list[str] = []
    default, kept = free_port(), free_port()
    assert choose_port("the API", default, kept, said.append) == default and said == []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", default))
        taken.listen()
        assert choose_port("the API", default, kept, said.append) == kept
        assert said == [f"{default} was taken: the API is on {kept} (as in the last run)"]
        with socket.socket() as also:
            also.bind(("127.0.0.1", kept))
            also.listen()
            other = choose_port("the API", default, kept, said.append)
    assert other not in (default, kept) and said[-1] == f"{default} was taken: the API is on {other}"
