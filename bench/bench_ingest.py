"""Ingest benchmark: OTLP spans/s end to end versus the raw insert rate of the same rows.

1. raw insert: the exporter-layout rows of every batch, built beforehand, inserted straight into an
   embedded chDB store (same schema and materialized views) through clickhouse-connect, both as
   column lists (its native insert) and as JSONCompactColumns bytes (what the service sends);
2. end to end: the same batches as OTLP protobuf bodies POSTed over HTTP from this process to a
   `tokenproof serve` subprocess (its own embedded store), by a few concurrent senders with
   keep-alive connections, each batch acknowledged (stored) before it counts;
3. peak memory: the service's peak RSS (VmHWM).

Realistic GenAI spans (~25 attributes), batches of 512-5000 spans. Bounded well under 90 s.
Usage: python bench/bench_ingest.py [--spans 40000] [--batch 2000] [--senders 2]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit


def _raw_insert_rates(batches) -> tuple[float, float]:
    """Rows prebuilt; (clickhouse-connect column insert, JSONCompactColumns insert) spans/s."""
    from tokenproof.collector.otlp_decode import request_to_batch
    from tokenproof.collector.rows import EXPORTER_COLUMNS, dedup_settings, encode_columns
    from tokenproof.collector.store import Store

    columns = [request_to_batch(request).columns for request in batches]
    spans = sum(len(c[0]) for c in columns[1:])
    rates = []
    with tempfile.TemporaryDirectory() as directory, Store.open(data_dir=directory) as store:
        for kind in ("columns", "json"):
            for i, cols in enumerate(columns):
                if i == 1:
                    started = time.perf_counter()
                settings = dedup_settings(f"raw-{kind}-{i}")
                if kind == "columns":
                    store.insert("otel_traces", cols, EXPORTER_COLUMNS, settings=settings, column_oriented=True)
                else:
                    store.raw_insert("otel_traces", EXPORTER_COLUMNS, encode_columns(cols), "JSONCompactColumns",
                                     settings=settings)
            rates.append(spans / (time.perf_counter() - started))
    return rates[0], rates[1]


def _start_service(directory: str):
    proc = subprocess.Popen([sys.executable, "-m", "tokenproof.cli", "serve", "--port", "0", "--data-dir", directory],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the service did not start: {line!r}")
    return proc, match.group(1)


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _e2e_rate(bodies: list[bytes], spans_per_body: list[int], senders: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as directory:
        proc, url = _start_service(directory)
        try:
            parts = urlsplit(url)
            warm = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
            warm.request("POST", "/v1/traces", bodies[0], {"Content-Type": "application/x-protobuf"})
            assert warm.getresponse().read() is not None
            todo = list(range(1, len(bodies)))
            lock = threading.Lock()
            failures: list[str] = []

            def send() -> None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
                while True:
                    with lock:
                        if not todo:
                            return
                        i = todo.pop()
                    while True:
                        conn.request("POST", "/v1/traces", bodies[i], {"Content-Type": "application/x-protobuf"})
                        response = conn.getresponse()
                        response.read()
                        if response.status == 200:
                            break
                        if response.status not in (429, 503):
                            failures.append(f"HTTP {response.status}")
                            return
                        time.sleep(float(response.getheader("Retry-After", "1")) / 10)

            threads = [threading.Thread(target=send) for _ in range(senders)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            if failures:
                raise SystemExit(f"end-to-end run failed: {failures[:3]}")
            return sum(spans_per_body[1:]) / elapsed, _peak_rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=40_000, help="spans per run (default 40000)")
    parser.add_argument("--batch", type=int, default=2000, help="spans per OTLP request, 512-5000 (default 2000)")
    parser.add_argument("--senders", type=int, default=2, help="concurrent HTTP senders (default 2)")
    args = parser.parse_args(argv)

    from tokenproof.collector.testing import genai_request

    count = max(2, args.spans // args.batch + 1)  # the first batch warms up each path
    batches = [genai_request(args.batch, seed=i, service="bench-app") for i in range(count)]
    bodies = [b.SerializeToString() for b in batches]
    sizes = [args.batch] * count
    attrs = len(batches[0].resource_spans[0].scope_spans[0].spans[0].attributes)
    print(f"ingest benchmark: {count - 1} batches x {args.batch} GenAI spans ({attrs} attributes each, "
          f"{len(bodies[0]) / args.batch:.0f} bytes/span protobuf), {args.senders} senders, cpus={os.cpu_count()}")
    raw, raw_json = _raw_insert_rates(batches)
    print(f"raw insert, rows prebuilt, clickhouse-connect column insert -> chDB: {raw:9.0f} spans/s")
    print(f"raw insert, rows prebuilt, as JSONCompactColumns -> chDB:            {raw_json:9.0f} spans/s")
    e2e, rss = _e2e_rate(bodies, sizes, args.senders)
    print(f"end to end, OTLP protobuf over HTTP -> service -> chDB, acked:       {e2e:9.0f} spans/s")
    print(f"ratio end-to-end / raw column insert: {e2e / raw:.0%}  (target >= 50%); "
          f"/ raw JSON insert: {e2e / raw_json:.0%}")
    print(f"service peak RSS: {rss:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
