"""A separate engine process for the rate-budget test: fires N actions at once through the
engine's own executor and prints how many succeeded."""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def main(conn_id: str, count: int) -> None:
    from engine.accounts import connections
    from engine.actions import executor
    from engine.spec import registry
    from engine.wiring import open_runtime

    rt = await open_runtime()
    try:
        conn = await connections.load(rt.redis, conn_id, rt.vault)
        op = registry.get("contacts.find_contact")
        started_s = time.monotonic()
        results = await asyncio.gather(
            *[executor.run_action(rt, conn, op, {"email": f"n{i}@example.com"}) for i in range(count)],
            return_exceptions=True)
        errors = [repr(r) for r in results if isinstance(r, BaseException)]
        # CLOCK_MONOTONIC is one clock for every process of the machine: the test compares the
        # two processes' spans without counting their start-up
        print(json.dumps({"ok": count - len(errors), "errors": errors[:3],
                          "started_s": started_s, "finished_s": time.monotonic()}))
    finally:
        await rt.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
