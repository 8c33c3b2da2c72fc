"""Every Prometheus series the engine exposes at ``GET /metrics``, defined in one place.

The API and the workers are separate processes. Series counted where the work happens (polls,
upstream requests, deliveries, token refreshes, flow runs) reach ``/metrics`` through
prometheus-client's multiprocess mode: when ``PROMETHEUS_MULTIPROC_DIR`` names a directory
shared by the API and the workers of one host (``make dev`` and docker-compose set it), each
process writes its values there and the API sums them at scrape time. Without it, ``/metrics``
shows the API process's own values only. Series that are state rather than events (outbox depth,
dead letters, paused watches) are read from Redis at scrape time by :func:`redis_gauges`, so they
are the same whichever process answers and however many workers run.

Names follow Prometheus conventions: ``ghl_engine_`` prefix, ``_total`` for counters, units in
the name (``_seconds``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest)
from prometheus_client.core import GaugeMetricFamily

from engine.core import keys

NS = "ghl_engine"

POLLS = Counter(f"{NS}_polls_total", "Polls of a trigger's watch, by trigger and outcome "
                "(primed, polled, skipped, paused, failed, conflict, gone).",
                ["trigger", "outcome"])
UPSTREAM_REQUESTS = Counter(f"{NS}_upstream_requests_total", "HTTP requests sent to GHL or "
                            "SMSGlobal, by app and answer status ('error' when none came).",
                            ["app", "status"])
UPSTREAM_RATE_LIMITED = Counter(f"{NS}_upstream_rate_limited_total",
                                "429 answers from upstream, by app.", ["app"])
RATE_BUDGET_REMAINING = Gauge(f"{NS}_rate_budget_remaining", "Requests left in upstream's "
                              "window for a location (GHL: X-RateLimit-Remaining, per 10 s; "
                              "X-RateLimit-Daily-Remaining, per day), as last reported.",
                              ["scope", "window"], multiprocess_mode="mostrecent")
SCHEDULE_LAG = Histogram(f"{NS}_schedule_lag_seconds", "How late a watch's poll was claimed "
                         "after its slot.", buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300))
DELIVERIES = Counter(f"{NS}_deliveries_total", "Delivery tries by outcome (delivered, retrying, "
                     "dead, gone) and subscriber kind (webhook, flow).", ["outcome", "kind"])
DELIVERY_LATENCY = Histogram(f"{NS}_delivery_latency_seconds", "From the poll that found an "
                             "item to its successful delivery.",
                             buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600))
TOKEN_REFRESHES = Counter(f"{NS}_token_refreshes_total", "OAuth token refreshes by outcome "
                          "(refreshed, failed, revoked).", ["outcome"])
FLOW_RUNS = Counter(f"{NS}_flow_runs_total", "Flow runs finished, by outcome (succeeded, "
                    "skipped, failed, retrying, held).", ["outcome"])


def _registry() -> CollectorRegistry:
    """The registry to expose: the processes' shared values in multiprocess mode, else this
    process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


async def redis_gauges(redis: Any) -> bytes:
    """Gauges read from Redis now, in the text format: ``ghl_engine_outbox_depth`` (deliveries
    queued, all subscriptions), ``ghl_engine_dead_letters``, ``ghl_engine_watches_scheduled``,
    ``ghl_engine_watches_catching_up`` (watches reading a backlog their page budget cut short) and
    ``ghl_engine_catch_up_behind_seconds`` (how long the oldest of those backlogs has waited)."""
    due = [m.decode() for m in await redis.zrange(keys.DELIVERIES_DUE, 0, -1)]
    dead_subs = [m.decode() for m in await redis.smembers(keys.SUBS_WITH_DEAD)]
    async with redis.pipeline(transaction=False) as pipe:
        for sub_id in due:
            pipe.llen(keys.SUB_QUEUE.format(sub_id=sub_id))
        for sub_id in dead_subs:
            pipe.llen(keys.SUB_DEAD.format(sub_id=sub_id))
        pipe.zcard(keys.WATCHES_DUE)
        pipe.zcard(keys.WATCHES_CATCHING_UP)
        pipe.zrange(keys.WATCHES_CATCHING_UP, 0, 0, withscores=True)
        *lengths, catching, oldest = await pipe.execute()
    registry = CollectorRegistry()
    depth = GaugeMetricFamily(f"{NS}_outbox_depth", "Deliveries queued and not yet delivered "
                              "or dead, across all subscriptions.")
    depth.add_metric([], sum(lengths[:len(due)]))
    dead = GaugeMetricFamily(f"{NS}_dead_letters", "Deliveries that failed every try and wait "
                             "for a replay, across all subscriptions.")
    dead.add_metric([], sum(lengths[len(due):-1]))
    scheduled = GaugeMetricFamily(f"{NS}_watches_scheduled", "Watches with a next poll "
                                  "scheduled (paused watches are not).")
    scheduled.add_metric([], lengths[-1])
    behind = GaugeMetricFamily(f"{NS}_catch_up_behind_seconds", "How long the oldest backlog "
                               "of a catching-up watch has waited to be read (0: none).")
    behind.add_metric([], max(0.0, time.time() - oldest[0][1]) if oldest else 0.0)
    catching_up = GaugeMetricFamily(f"{NS}_watches_catching_up", "Watches reading a backlog "
                                    "that their page budget cut short (a bulk import).")
    catching_up.add_metric([], catching)

    class _Now:
        def collect(self):
            return [depth, dead, scheduled, catching_up, behind]

    registry.register(_Now())
    return generate_latest(registry)


async def exposition(redis: Any) -> tuple[bytes, str]:
    """The whole ``/metrics`` body and its content type."""
    return generate_latest(_registry()) + await redis_gauges(redis), CONTENT_TYPE_LATEST
