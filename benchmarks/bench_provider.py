"""Benchmark — SMSGlobal as GHL's SMS provider: outbound messages per second per worker, and the
latency from GHL's event to the SMSGlobal request.

Processes: the sandbox (GHL and SMSGlobal stand-ins), the API (GHL's Delivery URL, verifying the
sandbox's Ed25519 signature) and one worker. The sandbox's staff-send route adds a message to a
conversation and posts the signed ProviderOutboundMessage to the API, as GHL does.

* **latency** — messages sent one at a time (a pause between them); for each, the time from
  the event's POST leaving the sandbox to the SMSGlobal stand-in receiving ``POST /v2/sms``
  (both stamped by the sandbox's clock).
* **throughput** — ``burst`` events posted while no worker runs (they wait in the event
  queue), then one worker started; measured: SMS per second at the SMSGlobal stand-in from the
  first to the last send, and the worker's CPU per message (start-up included). Receipts are held back (a long delivery delay) so the figure is the send path; each
  status report then costs one GHL call, inside GHL's 100 requests per 10 s per location.

The per-SMSGlobal-account send budget (ENGINE_PROVIDER_SMS_BURST, 30 a second by default) and the
generic upstream budget (ENGINE_RATE_BURST, GHL's 100 per 10 s, which every SMSGlobal connection
also goes through) are raised for the run, so the figure is the engine's, not the settings'.

    python -m benchmarks.bench_provider [--burst 300] [--latency 40]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx

from benchmarks.harness import Stack, command, log, summary, write_result
from sandbox.push import PUBLIC_KEY_B64


async def _sms_times(client: httpx.AsyncClient, sandbox: str) -> dict[str, float]:
    """Text of each SMS the SMSGlobal stand-in received → when (sandbox clock)."""
    reqs = (await client.get(sandbox + "/_sandbox/requests")).json()["requests"]
    return {r["body"]["message"]: r["t"] for r in reqs
            if r.get("app") == "smsglobal" and r["path"] == "/v2/sms" and r["method"] == "POST"
            and isinstance(r.get("body"), dict)}


async def _send(client: httpx.AsyncClient, sandbox: str, conversation_id: str, text: str) -> float:
    started = time.time()
    r = await client.post(f"{sandbox}/_sandbox/provider/conversations/{conversation_id}/send",
                          json={"message": text})
    r.raise_for_status()
    assert r.json()["delivery_status"] == 200, r.text
    return started


async def _wait_for(client, sandbox: str, texts: set[str], timeout: float) -> dict[str, float]:
    deadline = time.time() + timeout
    while True:
        seen = await _sms_times(client, sandbox)
        if texts <= set(seen) or time.time() > deadline:
            return seen
        await asyncio.sleep(0.2)


async def _run(burst: int, latency_n: int) -> dict:
    s = Stack()
    try:
        s.start_sandbox({"rate_limit": 100_000, "window_ms": 10_000})
        api = s.start_api({"GHL_WEBHOOK_PUBLIC_KEY": PUBLIC_KEY_B64})
        env = {"ENGINE_PUBLIC_URL": api.url, "ENGINE_PROVIDER_SMS_BURST": "100000",
               "ENGINE_RATE_BURST": "100000",  # the generic upstream budget also holds SMSGlobal
               "GHL_WEBHOOK_PUBLIC_KEY": PUBLIC_KEY_B64}
        worker = s.start_worker(env)
        key = await asyncio.to_thread(s.api_key)  # it runs its own event loop
        sandbox = s.sandbox.url
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(timeout=60, headers=headers) as client:
            from sandbox.ghl import DEFAULT_LOCATION, DEFAULT_TOKEN
            from sandbox.smsglobal import DEFAULT_KEY, DEFAULT_SECRET

            ghl = (await client.post(api.url + "/v1/connections", json={
                "token": DEFAULT_TOKEN, "location_id": DEFAULT_LOCATION})).json()["id"]
            sms = (await client.post(api.url + "/v1/connections", json={
                "app": "smsglobal", "api_key": DEFAULT_KEY, "api_secret": DEFAULT_SECRET})).json()["id"]
            made = await client.post(api.url + "/v1/sms-provider", json={
                "ghl_connection_id": ghl, "smsglobal_connection_id": sms, "sender": "BenchCo"})
            made.raise_for_status()
            await client.put(sandbox + "/_sandbox/provider",
                             json={"delivery_url": api.url + "/v1/inbound/ghl"})
            await client.put(sandbox + "/_sandbox/smsglobal/config",
                             json={"delivery_seconds": 3600, "balance": 1e9})
            conv = (await client.post(sandbox + "/_sandbox/provider/contacts",
                                      json={"phone": "+61400000555"})).json()["conversation"]["id"]

            # latency: one message at a time
            await _send(client, sandbox, conv, "warm-up")
            await _wait_for(client, sandbox, {"warm-up"}, 30)
            posted = {}
            for i in range(latency_n):
                text = f"latency {i}"
                posted[text] = await _send(client, sandbox, conv, text)
                await _wait_for(client, sandbox, {text}, 30)
                await asyncio.sleep(0.05)
            seen = await _sms_times(client, sandbox)
            latencies = [seen[t] - posted[t] for t in posted if t in seen]

            # throughput: the burst waits in the event queue while no worker runs, then one
            # worker works through it (so the figure is the worker's, not the posting side's)
            worker.stop()
            texts = [f"burst {i}" for i in range(burst)]
            queue = list(texts)

            async def poster():
                while queue:
                    await _send(client, sandbox, conv, queue.pop())
            await asyncio.gather(*[poster() for _ in range(16)])
            worker = s.start_worker(env)
            cpu0 = worker.cpu()
            seen = await _wait_for(client, sandbox, set(texts), 300)
            cpu = worker.cpu() - cpu0
            times = sorted(seen[t] for t in texts if t in seen)
            span = times[-1] - times[0] if len(times) > 1 else float("nan")
            sent = len(times)
        return {
            "latency_s": summary(latencies, 4),
            "throughput": {"messages": burst, "sent": sent, "span_s": round(span, 3),
                           "messages_per_s": round((sent - 1) / span, 1) if span else None,
                           "worker_cpu_ms_per_message": round(cpu / max(sent, 1) * 1000, 3)},
        }
    finally:
        s.close()


def run(burst: int = 300, latency_n: int = 40) -> dict:
    started = time.time()
    result = asyncio.run(_run(burst, latency_n))
    out = {"command": command("benchmarks.bench_provider", "--burst", str(burst),
                              "--latency", str(latency_n)),
           "duration_s": round(time.time() - started, 1), **result}
    write_result("provider", out)
    log(f"provider: {out}")
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--burst", type=int, default=300)
    ap.add_argument("--latency", type=int, default=40)
    a = ap.parse_args()
    run(a.burst, a.latency)
