"""Pricing spans that arrive without a tokenproof price (otelcol-contrib): one service-loop pass.

Fills a fresh embedded store with tokenproof-priced calls plus calls written the otelcol-contrib way
(tokens, no cost), then times the loop's passes side by side: the first pass (prices the foreign
calls), an idle pass without the per-hour counts of the last pass (a FINAL query per hour that still
holds version-0 rows), and an idle pass with them (one grouped query).

    .venv/bin/python bench/bench_arrivals.py [--priced 200000] [--foreign 20000] [--hours 48]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta

from tokenproof import semconv as sc
from tokenproof.collector.reprice import price_arrivals
from tokenproof.collector.store import Store
from tokenproof.collector.testing import insert_spans


def _spans(n: int, hours: int, priced: bool) -> list[dict]:
    start = datetime.now(UTC) - timedelta(hours=hours)
    step = hours * 3600 / max(n, 1)
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
             sc.GEN_AI_RESPONSE_MODEL: "gpt-4o", sc.GEN_AI_USAGE_INPUT_TOKENS: 1200, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 300}
    if priced:
        attrs = {**attrs, sc.GEN_AI_USAGE_COST: 0.006, sc.TP_COST_STATUS: sc.COST_PRICED}
    return [{"timestamp": start + timedelta(seconds=i * step), "attributes": attrs} for i in range(n)]


def _timed(fn) -> tuple[float, dict]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--priced", type=int, default=200_000)
    parser.add_argument("--foreign", type=int, default=20_000)
    parser.add_argument("--hours", type=int, default=47)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, Store.open(data_dir=directory) as store:
        for chunk in range(0, args.priced, 50_000):
            insert_spans(store, _spans(min(50_000, args.priced - chunk), args.hours, True))
        insert_spans(store, _spans(args.foreign, args.hours, False))
        seen: dict = {}
        first, result = _timed(lambda: price_arrivals(store, seen=seen))
        idle_plain, _ = _timed(lambda: price_arrivals(store))
        idle_seen, _ = _timed(lambda: price_arrivals(store, seen=seen))
    print(f"store: {args.priced:,} priced + {args.foreign:,} foreign calls over {args.hours} h")
    print(f"first pass (prices {result['newly_priced']:,} calls): {first * 1000:8.1f} ms")
    print(f"idle pass, no per-hour counts:          {idle_plain * 1000:8.1f} ms")
    print(f"idle pass, per-hour counts (the loop):  {idle_seen * 1000:8.1f} ms  "
          f"({idle_plain / idle_seen:.1f}x less)")


if __name__ == "__main__":
    main()
