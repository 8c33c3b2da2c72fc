"""Print the results in benchmarks/results/ as the Markdown table of docs/performance.md.

    python -m benchmarks.report
"""

from __future__ import annotations

import json

from benchmarks.harness import RESULTS

ROWS = [
    # (result file, label, target text, measured key(s), unit, spread key)
    ("coalescing", "1. Coalescing: upstream calls / interval, 1,000 subs on 10 watches",
     "10", "coalesced_upstream_per_interval", "", "coalesced.upstream_per_interval"),
    ("coalescing", "1. … the same load polled once per subscription", "(comparison)",
     "per_subscription_upstream_per_interval", "", "per_subscription.upstream_per_interval"),
    ("coalescing", "1. Worker CPU / interval, coalesced", "(comparison)",
     "coalesced_worker_cpu_s_per_interval", " s", "coalesced.worker_cpu_s_per_interval"),
    ("coalescing", "1. Worker CPU / interval, once per subscription", "(comparison)",
     "per_subscription_worker_cpu_s_per_interval", " s", "per_subscription.worker_cpu_s_per_interval"),
    ("scheduler", "2. Schedule lag p99, 10,000 watches at 60 s, one worker", "≤ 2 s",
     "lag_p99_s", " s", "lag_p99_s"),
    ("scheduler", "2. Worker CPU per poll", "≤ 1 ms", "worker_cpu_ms_per_poll", " ms",
     "worker_cpu_ms_per_poll"),
    ("scheduler", "2. Sandbox CPU per poll (apart)", "—", "sandbox_cpu_ms_per_poll", " ms", None),
    ("scheduler", "2. Worker CPU per poll ÷ sandbox CPU per poll, same run", "≤ 1.5×",
     "worker_to_sandbox_cpu", "×", "worker_to_sandbox_cpu"),
    ("scheduler", "2. Redis CPU per poll (apart)", "—", "redis_cpu_ms_per_poll", " ms", None),
    ("actions", "3. Action added latency p50", "≤ 2 ms", "added_p50_ms", " ms", "added_p50_ms"),
    ("actions", "3. Action added latency p99", "≤ 8 ms", "added_p99_ms", " ms", "added_p99_ms"),
    ("actions", "3. Throughput, direct to the sandbox", "(report)", "direct_rps", " req/s", "direct_rps"),
    ("actions", "3. Throughput, through the engine", "(report)", "engine_rps", " req/s", "engine_rps"),
    ("delivery", "4. Signed deliveries per second, one worker", "≥ 1,000/s",
     "deliveries_per_second_per_worker", "/s", "deliveries_per_second_per_worker"),
    ("delivery", "4. Poll → delivery latency p99", "≤ 1 s", "latency_p99_s", " s", "latency_p99_s"),
    ("rate_budget", "5. 429s from the sandbox at 3× demand, two processes", "0", "sandbox_429", "", None),
    ("rate_budget", "5. Budget used", "≥ 90 %", "budget_used", "", "budget_used"),
    ("memory", "6. Redis bytes per watch (with its subscription)", "≤ 16 KB",
     "redis_bytes_per_watch_with_one_subscription", " B", None),
    ("memory", "6. Redis bytes per further subscription", "(report)",
     "redis_bytes_per_extra_subscription", " B", None),
    ("memory", "6. Worker RSS at 10,000 watches", "(report)", "worker_rss_mb_at_10000_watches", " MB", None),
    ("memory", "6. First poll, 100,000 contacts: pages read", "1", "first_poll_pages", "", None),
    ("memory", "6. First poll, 100,000 contacts: duration", "≤ 2 s", "first_poll_s", " s", None),
    ("busy_location", "7. Searches per poll, busy location (steady creates, bursts, ≤ 20 s late)",
     "≤ 1.5", "searches_per_poll", "", None),
    ("busy_location", "7. … the same feed with a deep read on every poll", "(comparison)",
     "searches_per_poll_deep_every_poll", "", None),
    ("busy_location", "7. Contacts missed", "0", "missed", "", None),
    ("busy_location", "7. Contacts delivered twice", "0", "doubled", "", None),
    *[row for n in (1, 2, 4) for row in (
        ("scale_out", f"8. Polls served per second, 20,000 watches at 60 s (333 due/s), {n} worker(s)",
         "(report)", f"{n}_workers.polls_per_s", "/s", None),
        ("scale_out", f"8. Schedule lag p99 at 60 s, {n} worker(s)", "(report)",
         f"{n}_workers.lag_p99_s", " s", None),
        ("scale_out", f"8. Capacity: polls served per second, demand above it, {n} worker(s)",
         "(grows with workers)", f"{n}_workers.capacity_polls_per_s", "/s", None),
        ("scale_out", f"8. Double polls, both phases, {n} worker(s)", "0",
         f"{n}_workers.double_polls", "", None))],
    ("scale_out", "8. Worker CPU per poll ÷ sandbox CPU per poll, 1 worker", "≤ 1.5×",
     "1_workers.worker_to_sandbox_cpu", "×", None),
    ("instant", "9. Change in GHL → signed delivery p50, pushed events", "(report)",
     "pushed_p50_s", " s", "pushed_p50_s"),
    ("instant", "9. Change in GHL → signed delivery p99, pushed events", "≤ 2 s",
     "pushed_p99_s", " s", "pushed_p99_s"),
    ("instant", "9. … the same load polled every 10 s: mean detection delay", "(interval/2: 5 s)",
     "polled_mean_s", " s", "polled_mean_s"),
    ("instant", "9. … polled every 10 s: p99", "(comparison)", "polled_p99_s", " s", "polled_p99_s"),
]


RULES = {
    ("coalescing", "coalesced_upstream_per_interval"): lambda v: v <= 10,
    ("scheduler", "lag_p99_s"): lambda v: v <= 2.0,
    ("scheduler", "worker_cpu_ms_per_poll"): lambda v: v <= 1.0,
    ("scheduler", "worker_to_sandbox_cpu"): lambda v: v <= 1.5,
    ("actions", "added_p50_ms"): lambda v: v <= 2.0,
    ("actions", "added_p99_ms"): lambda v: v <= 8.0,
    ("delivery", "deliveries_per_second_per_worker"): lambda v: v >= 1000,
    ("delivery", "latency_p99_s"): lambda v: v <= 1.0,
    ("rate_budget", "sandbox_429"): lambda v: v == 0,
    ("rate_budget", "budget_used"): lambda v: v >= 0.90,
    ("memory", "redis_bytes_per_watch_with_one_subscription"): lambda v: v <= 16 * 1024,
    ("memory", "first_poll_pages"): lambda v: v <= 1,
    ("memory", "first_poll_s"): lambda v: v <= 2.0,
    ("busy_location", "searches_per_poll"): lambda v: v <= 1.5,
    ("busy_location", "missed"): lambda v: v == 0,
    ("busy_location", "doubled"): lambda v: v == 0,
    **{("scale_out", f"{n}_workers.double_polls"): (lambda v: v == 0) for n in (1, 2, 4)},
    ("scale_out", "1_workers.worker_to_sandbox_cpu"): lambda v: v <= 1.5,
    ("instant", "pushed_p99_s"): lambda v: v <= 2.0,
}


def _get(measured: dict, key: str):
    """A measured value by its key, or by a dotted path into nested results."""
    node = measured
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if v == int(v) and abs(v) >= 100:
            return f"{int(v):,}"
        return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def main() -> None:
    loaded = {}
    for name in {r[0] for r in ROWS}:
        p = RESULTS / f"{name}.json"
        if p.exists():
            loaded[name] = json.loads(p.read_text())
    print("| Benchmark | Target | Measured (median) | Spread across repeats (min – max) | Met |")
    print("|---|---|---|---|---|")
    for name, label, target, key, unit, spread_key in ROWS:
        r = loaded.get(name)
        if r is None:
            print(f"| {label} | {target} | not run | | |")
            continue
        v = _get(r["measured"], key)
        if name == "scale_out" and "steady" not in r:
            # recorded by the earlier one-phase method: 15 s interval (1,333 due/s), loaded machine
            label = label.replace(" at 60 s (333 due/s)", "").replace(" at 60 s", "")
            label += " (earlier method: 15 s interval, loaded machine)"
        if key == "budget_used" and v is not None:
            shown = f"{v:.1%}"
        else:
            shown = _fmt(v) + unit
        sp = (r.get("spread") or {}).get(spread_key) if spread_key else None
        rng = f"{_fmt(sp['min'])} – {_fmt(sp['max'])}" if sp and sp.get("min") is not None else ""
        if key == "budget_used" and sp:
            rng = f"{sp['min']:.1%} – {sp['max']:.1%}"
        rule = RULES.get((name, key))
        met = "" if rule is None or v is None else ("yes" if rule(v) else "no")
        print(f"| {label} | {target} | {shown} | {rng} | {met} |")
    m = next(iter(loaded.values()), {}).get("machine") if loaded else None
    if m:
        print(f"\nMachine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gb']} GB, "
              f"Python {m['python']}, {m['platform']}.")
        print("Recorded: " + ", ".join(f"{n} {loaded[n]['recorded_at']}" for n in sorted(loaded)))


if __name__ == "__main__":
    main()
