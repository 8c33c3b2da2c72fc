"""One deadline per send, connect to last byte, against a receiver that drips its answer.

The issue's case is a header line every 8 s for 80 s in all, against a 10 s deadline; here it is
scaled by 1/10 (a line every 0.8 s for 8 s, ENGINE_DELIVERY_TIMEOUT_SECONDS=1), which keeps what
matters: each read comes sooner than the deadline, the whole answer much later. Each try fails
at the deadline, the retry schedule follows, a job stopped mid-send still leaves its attempt
counted, and at no time are two sends of one subscription in flight."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from engine.core import keys
from engine.core.settings import Settings
from engine.polling import delivery, subscriptions
from engine.wiring import open_runtime
from tests.polling_support import SkippingClock, poll, seed, subscribe

DRIP_EVERY_S, DRIP_FOR_S, DEADLINE_S = 0.8, 8.0, 1.0
SCHEDULE = (1.0, 1.0, 30.0)


class DripReceiver:
    """A raw HTTP server that answers a header line every DRIP_EVERY_S for DRIP_FOR_S."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self.lock:
            self.connections += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\n")
            started = time.monotonic()
            gone = asyncio.ensure_future(reader.read(1))  # completes when the sender hangs up
            n = 0
            while time.monotonic() - started < DRIP_FOR_S:
                n += 1
                writer.write(f"X-Drip-{n}: still here\r\n".encode())
                await writer.drain()
                await asyncio.wait([gone], timeout=DRIP_EVERY_S)
                if gone.done():
                    return  # the send ended on the sender's side
            gone.cancel()
            writer.write(b"Content-Length: 2\r\n\r\nok")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            with self.lock:
                self.in_flight -= 1
            writer.close()

    def start(self) -> "DripReceiver":
        self.thread.start()
        self.ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}/hook"
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)


@pytest.fixture
def drip():
    recv = DripReceiver().start()
    yield recv
    recv.stop()


@pytest.fixture
async def slow_rt(sandbox, tenant):
    rt = await open_runtime(Settings(
        ENGINE_DELIVERY_TIMEOUT_SECONDS=str(DEADLINE_S), ENGINE_DELIVERY_LEASE_SECONDS="2",
        ENGINE_DELIVERY_RETRY_SCHEDULE=",".join(map(str, SCHEDULE))))
    rt.clock = SkippingClock()
    yield rt
    for sub_id in await rt.redis.smembers(keys.TENANT_SUBSCRIPTIONS.format(tenant=tenant)):
        await subscriptions.remove(rt, sub_id.decode())
    await rt.close()


async def _record(rt, sub_id: str) -> dict[str, str]:
    (did,) = [m.decode() for m in await rt.redis.zrange(keys.SUB_DELIVERIES.format(sub_id=sub_id), 0, -1)]
    raw = await rt.redis.hgetall(keys.DELIVERY.format(delivery_id=did))
    return {k.decode(): v.decode() for k, v in raw.items()}


async def test_a_dripping_target_fails_each_try_at_the_deadline_then_the_schedule(
        api, connection, sandbox, slow_rt, drip):
    rt = slow_rt
    sub = subscribe(api, connection, drip)
    await poll(rt, sub["id"])
    seed(sandbox, 1)
    await poll(rt, sub["id"])

    for attempt in (1, 2, 3):
        started = time.monotonic()
        # two delivery jobs at once, as two workers would run them: one sends, one finds it locked
        results = await asyncio.gather(delivery.run_subscription(rt, sub["id"]),
                                       delivery.run_subscription(rt, sub["id"]))
        took = time.monotonic() - started
        failed_at_ms = rt.clock.now_ms()
        assert sorted(r.get("locked", 0) for r in results) == [0, 1], results
        assert DEADLINE_S * 0.9 <= took < DEADLINE_S + 1.5, took
        d = await _record(rt, sub["id"])
        assert int(d["attempts"]) == attempt and d["status"] == "retrying", d
        assert "timed out" in d["last_error"] and "connect to last byte" in d["last_error"]
        wait_s = (int(d["next_attempt"]) - failed_at_ms) / 1000
        assert abs(wait_s - SCHEDULE[attempt - 1]) < 0.5, (attempt, wait_s)
        if attempt < 3:
            rt.clock.skip_to(int(d["next_attempt"]) / 1000)  # the next try is due
    assert drip.connections == 3 and drip.max_in_flight == 1, (drip.connections, drip.max_in_flight)


async def test_a_job_stopped_mid_send_leaves_its_attempt_counted(api, connection, sandbox,
                                                                  slow_rt, drip):
    rt = slow_rt
    sub = subscribe(api, connection, drip)
    await poll(rt, sub["id"])
    seed(sandbox, 1)
    await poll(rt, sub["id"])
    job = asyncio.create_task(delivery.run_subscription(rt, sub["id"]))
    deadline = time.monotonic() + 10
    while not drip.in_flight:  # the send is in flight
        assert time.monotonic() < deadline and not job.done(), "the send never started"
        await asyncio.sleep(0.01)
    job.cancel()  # as arq does to a job past its timeout
    await asyncio.gather(job, return_exceptions=True)
    d = await _record(rt, sub["id"])
    assert int(d["attempts"]) == 1 and d["status"] == "retrying", d
    assert "stopped during the send" in d["last_error"]
    assert not await rt.redis.exists(keys.SUB_LOCK.format(sub_id=sub["id"]))
