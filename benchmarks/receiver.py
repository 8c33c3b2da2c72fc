"""A webhook receiver for the benchmarks, run in its own process: a bare ASGI app on uvicorn.

``POST /hook`` answers 200 and records (webhook-id, arrival time); the first ``--keep``
requests are kept whole (headers and body) so the benchmark can verify their signatures.
``GET /stats`` gives the count, ``GET /dump`` every recorded id with its arrival time, and the
kept requests; ``POST /reset`` forgets everything.
"""

from __future__ import annotations

import argparse
import json
import time


def make_app(keep: int = 50):
    arrivals: list[tuple[str, float]] = []
    kept: list[dict] = []

    async def read_body(receive) -> bytes:
        chunks = []
        while True:
            msg = await receive()
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                return b"".join(chunks)

    async def send_json(send, status: int, payload) -> None:
        body = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path, method = scope["path"], scope["method"]
        body = await read_body(receive)
        if path == "/hook" and method == "POST":
            now = time.time()
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            arrivals.append((headers.get("webhook-id", ""), now))
            if len(kept) < keep:
                kept.append({"headers": headers, "raw": body.decode()})
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"2")]})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        if path == "/stats":
            return await send_json(send, 200, {"count": len(arrivals),
                                               "unique": len({a[0] for a in arrivals})})
        if path == "/dump":
            return await send_json(send, 200, {"arrivals": arrivals, "kept": kept})
        if path == "/reset" and method == "POST":
            arrivals.clear()
            kept.clear()
            return await send_json(send, 200, {"ok": True})
        await send_json(send, 404, {"error": "not found"})

    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--keep", type=int, default=50)
    a = ap.parse_args()
    uvicorn.run(make_app(a.keep), host="127.0.0.1", port=a.port, log_level="warning",
                access_log=False, backlog=4096)


if __name__ == "__main__":
    main()
