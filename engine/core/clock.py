"""The engine's wall clock, read through one object: the runtime's ``clock``
(:attr:`engine.runtime.Runtime.clock`).

What reads the time through it decides when something is due: which queued deliveries are due
and when a failed one is tried again (:mod:`engine.polling.delivery`), and how long a rotated
signing secret still signs (:mod:`engine.polling.subscriptions`). A clock that runs ahead of the
real one (a test's) makes those waits pass without sleeping. Leases and TTLs kept by Redis
itself, and the rate budget's windows (read with Redis ``TIME``), follow Redis's clock instead.
"""

from __future__ import annotations

import time


class Clock:
    """The real wall clock: :meth:`now_s` in epoch seconds, :meth:`now_ms` in epoch
    milliseconds (an ``int``). Subclass it and override :meth:`now_s` for another clock."""

    def now_s(self) -> float:
        """The current time, epoch seconds (``time.time()``)."""
        return time.time()

    def now_ms(self) -> int:
        """The current time, whole epoch milliseconds (from :meth:`now_s`)."""
        return int(self.now_s() * 1000)
