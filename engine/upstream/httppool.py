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
"""

from __future__ import annotations

import time

import httpcore
import httpx

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


def use_lean_pool(client: httpx.AsyncClient) -> None:
    """Switch the client's default transport to the lean pool, if it is httpcore's plain pool
    (a test transport, a proxy or another httpcore version is left as it is)."""
    transport = client._transport
    pool = getattr(transport, "_pool", None)
    if (type(pool) is httpcore.AsyncConnectionPool and httpcore.__version__.startswith("1.")
            and hasattr(pool, "_assign_requests_to_connections")):
        pool.__class__ = LeanConnectionPool
