"""A failover that demotes the primary while the engine's connections stay open: commands on
them are answered READONLY. The engine's client drops such a connection and runs the command
again on a new one (which, on a managed service, resolves the primary endpoint's name again and
reaches the new primary). Against a redis-server of the test's own, made a replica and back."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis
from redis.exceptions import ReadOnlyError

from engine.wiring import connect_redis
from tests.support import free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="needs a redis-server binary to start a Redis of its own")


@pytest.fixture
def own_redis():
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    admin = redis.Redis(port=port)
    deadline = time.time() + 10
    while True:
        try:
            admin.ping()
            break
        except redis.ConnectionError:
            assert time.time() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield port, admin
    admin.close()
    proc.terminate()
    proc.wait(timeout=10)


def _connections(admin) -> int:
    return int(admin.info("stats")["total_connections_received"])


async def test_a_demoted_primary_s_connection_is_dropped_and_the_command_runs_again(own_redis):
    port, admin = own_redis
    r = connect_redis(f"redis://127.0.0.1:{port}/0")
    try:
        await r.set("k", "1")
        before = _connections(admin)
        admin.replicaof("127.0.0.1", free_port())  # demoted: a replica of a primary not there
        with pytest.raises(ReadOnlyError):  # still a replica on the second try: raised
            await r.set("k", "2")
        assert _connections(admin) == before + 1  # the command ran again on a new connection
        mid = _connections(admin)  # the failed command dropped its second connection too
        with pytest.raises(ReadOnlyError):  # a pipeline's write: the same
            async with r.pipeline(transaction=False) as pipe:
                pipe.get("k")
                pipe.set("k", "2")
                await pipe.execute()
        assert _connections(admin) == mid + 2  # it connects, is refused, and tries once more
        admin.replicaof("NO", "ONE")  # the endpoint answers as a primary again
        await r.set("k", "3")
        async with r.pipeline(transaction=False) as pipe:  # pipelines too
            pipe.set("k", "4")
            pipe.get("k")
            assert (await pipe.execute())[1] == b"4"
        assert await r.get("k") == b"4"
    finally:
        await r.aclose()
