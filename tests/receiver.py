"""A webhook receiver on 127.0.0.1 for delivery tests: records every POST (headers and raw body)
and answers with the status the test sets."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import ServerThread, free_port


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.received: list[dict] = []
        self.status = 200
        self.delay = 0.0
        self.fail_every = 0  # when set, every n-th request is answered 500 (a failed try)
        self.lock = threading.Lock()
        self.server: ServerThread | None = None

    def _app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            raw = await request.body()
            if self.delay:
                await asyncio.sleep(self.delay)
            with self.lock:
                status = self.status
                if self.fail_every and (len(self.received) + 1) % self.fail_every == 0:
                    status = 500
                self.received.append({"t": time.time(), "headers": dict(request.headers),
                                      "raw": raw.decode(),
                                      "body": json.loads(raw), "status": status})
            return Response("ok" if status < 300 else "no", status_code=status)

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])

    def start(self) -> "Receiver":
        self.server = ServerThread(self._app(), port=self.port).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def accepted(self) -> list[dict]:
        with self.lock:
            return [r for r in self.received if 200 <= r["status"] < 300]
