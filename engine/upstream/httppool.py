"""httpcore's connection pool with its per-request bookkeeping made linear.

httpcore (1.0) re-examines its whole pool twice per request (when a request is added and when
one is released). For every connection it tests ``is_idle`` against a list rebuilt from the
whole pool, and builds two more full lists per queued request: the work grows with the square
of the pooled connections (with the checks below, about a third of a poll's CPU was this
bookkeeping). This class takes the same decisions (which connections are dropped, closed,
reused or created, in the same order) in one pass.

``has_expired`` (keep-alive expiry, and the server-disconnect check: a system call per idle
connection) is asked of a connection before it is reused, every time, as before; the other idle
connections are swept with it at most once a ``SWEEP_SECONDS`` instead of twice per request, so
one that expired unused is closed up to that much later.

The pool's connections also write a request in one system call instead of two: httpcore's
HTTP/1.1 connection writes the head, then the body, each a ``write`` of its own (on loopback
or TLS, a system call and a wake-up of the other side each). :class:`CorkedBackend` hands out
streams that hold written bytes until the connection reads (every request is followed by
reading its answer) or closes, and send them then, in one write. They also look their socket
up once for the server-disconnect check made before each reuse (anyio builds its table of
attributes again on every lookup).
"""

from __future__ import annotations

import time
import typing

import httpcore
import httpx
from httpcore import AsyncNetworkBackend, AsyncNetworkStream
from httpcore._utils import is_socket_readable

SWEEP_SECONDS = 1.0


class LeanConnectionPool(httpcore.AsyncConnectionPool):
    """httpcore's AsyncConnectionPool with the same decisions but linear bookkeeping per request:
    expired connections are swept at most every SWEEP_SECONDS (1 s) instead of on every request."""

    _next_sweep = 0.0

    def _assign_requests_to_connections(self) -> list:
        now = time.monotonic()
        sweep = now >= self._next_sweep
        if sweep:
            self._next_sweep = now + SWEEP_SECONDS
        closing = []
        kept = []
        # httpcore closes an idle connection while the pool (as it shrinks) holds more than
        # max_keepalive_connections; ``remaining`` is that shrinking size.
        remaining = len(self._connections)
        for connection in self._connections:
            if connection.is_closed():
                remaining -= 1
            elif sweep and connection.has_expired():
                remaining -= 1
                closing.append(connection)
            elif connection.is_idle() and remaining > self._max_keepalive_connections:
                remaining -= 1
                closing.append(connection)
            else:
                kept.append(connection)
        self._connections = kept

        for pool_request in self._requests:
            if not pool_request.is_queued():
                continue
            origin = pool_request.request.url.origin
            available = None
            for c in list(self._connections):
                if c.can_handle_request(origin) and c.is_available():
                    if not sweep and c.has_expired():  # never reuse an expired connection
                        self._connections.remove(c)
                        closing.append(c)
                        continue
                    available = c
                    break
            if available is not None:
                pool_request.assign_to_connection(available)
            elif len(self._connections) < self._max_connections:
                connection = self.create_connection(origin)
                self._connections.append(connection)
                pool_request.assign_to_connection(connection)
            else:
                idle = next((c for c in self._connections if c.is_idle()), None)
                if idle is not None:
                    self._connections.remove(idle)
                    closing.append(idle)
                    connection = self.create_connection(origin)
                    self._connections.append(connection)
                    pool_request.assign_to_connection(connection)
        return closing


class CorkedStream(AsyncNetworkStream):
    """A network stream whose writes are held until the next read (or close) and then sent in
    one write, with the last write's timeout. A write's errors (httpcore's WriteError,
    WriteTimeout) surface from that read."""

    def __init__(self, inner: AsyncNetworkStream) -> None:
        self._inner = inner
        self._held: list[bytes] = []
        self._timeout: float | None = None
        self._sock: typing.Any = None  # the raw socket, once looked up (False: there is none)

    async def _flush(self) -> None:
        if self._held:
            data = self._held[0] if len(self._held) == 1 else b"".join(self._held)
            self._held = []
            await self._inner.write(data, self._timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Hold ``buffer`` (bytes) until the next read or close; ``timeout`` (s) applies to the one
        write that sends it."""
        if buffer:
            self._held.append(buffer)
            self._timeout = timeout

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Send what is held, then read up to ``max_bytes`` (waiting ``timeout`` s); raises
        httpcore's read or held-write errors."""
        await self._flush()
        return await self._inner.read(max_bytes, timeout)

    async def aclose(self) -> None:
        """Close the stream, dropping what is held (nothing more is sent on a connection closed
        before its answer)."""
        self._held = []  # a connection closed before reading its answer sends nothing more
        await self._inner.aclose()

    async def start_tls(self, ssl_context, server_hostname: str | None = None,
                        timeout: float | None = None) -> AsyncNetworkStream:
        """Send what is held, then start TLS on the inner stream (arguments as httpcore's);
        the new stream is corked too."""
        await self._flush()
        return CorkedStream(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        """The inner stream's ``info``; ``is_readable`` (asked before every reuse) looks the socket
        up once."""
        if info == "is_readable":  # asked before every reuse: the socket is looked up once
            if self._sock is None:
                self._sock = self._inner.get_extra_info("socket") or False
            if self._sock is not False:
                return is_socket_readable(self._sock)
        return self._inner.get_extra_info(info)


class CorkedBackend(AsyncNetworkBackend):
    """The pool's network backend, its streams wrapped in :class:`CorkedStream`."""

    def __init__(self, inner: AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable | None = None) -> AsyncNetworkStream:
        """A corked stream over the inner backend's TCP connection (arguments as httpcore's)."""
        return CorkedStream(await self._inner.connect_tcp(
            host, port, timeout=timeout, local_address=local_address,
            socket_options=socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable | None = None
                                  ) -> AsyncNetworkStream:
        """A corked stream over the inner backend's Unix socket connection (arguments as
        httpcore's)."""
        return CorkedStream(await self._inner.connect_unix_socket(
            path, timeout=timeout, socket_options=socket_options))

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` (s) as the inner backend does."""
        await self._inner.sleep(seconds)


def use_lean_pool(client: httpx.AsyncClient) -> None:
    """Switch the client's default transport to the lean pool, if it is httpcore's plain pool
    (a test transport, a proxy or another httpcore version is left as it is), with corked
    streams (a request in one write)."""
    transport = client._transport
    pool = getattr(transport, "_pool", None)
    if (type(pool) is httpcore.AsyncConnectionPool and httpcore.__version__.startswith("1.")
            and hasattr(pool, "_assign_requests_to_connections")):
        pool.__class__ = LeanConnectionPool
        if not isinstance(pool._network_backend, CorkedBackend):
            pool._network_backend = CorkedBackend(pool._network_backend)
