"""Dashboard page-load time per page: an empty store next to one holding ``--rows`` LLM calls
(default 10 million over 30 days), target under 2 s per page.

The large store is generated inside the engine (``INSERT ... SELECT ... FROM numbers()`` straight into
``llm_calls``; its materialized views fill the hourly and daily rollups), the same generator as
``bench_attribution.py --via calls``. Each store is then served by its own ``tokenproof serve``
subprocess (the store has one owner), and every page is run by Streamlit's AppTest in this process,
exactly as the server runs it for a browser: the script's run time with a cold cache (first visit)
and with a warm one (the next visit inside the cache's TTL). Browser rendering is not included.

    .venv/bin/python bench/bench_dashboard.py [--rows 10000000] [--days 30] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGES = HERE.parent / "dashboards" / "pages"
NAMES = ["overview", "attribution", "alerts", "recommendations", "routes"]
TARGET_S = 2.0


def generate(data_dir: str, rows: int, days: int) -> None:
    sys.path.insert(0, str(HERE))
    from bench_attribution import generate as fill

    from tokenproof.collector.store import Store

    store = Store.open(data_dir=data_dir)
    try:
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        took = fill(store, rows, days, "calls", end, False)
        print(f"generated {rows:,} calls in {took:.0f}s", flush=True)
    finally:
        store.close()


def serve(data_dir: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "TOKENPROOF_ALERT_EVAL_INTERVAL_MINUTES": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "tokenproof.cli", "serve", "--port", "0", "--data-dir", data_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    match = re.search(r"listening on (http://\S+)", lines.get(timeout=300))
    assert match, "tokenproof serve did not start"
    return proc, match.group(1)


def load(url: str, name: str, repeat: int) -> tuple[float, float]:
    """(cold, warm) median page run time in seconds."""
    import logging

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    for name_ in ("streamlit", "streamlit.runtime.caching.cache_data_api",
                  "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name_).setLevel(logging.ERROR)
    os.environ["TOKENPROOF_SERVICE_URL"] = url
    cold, warm = [], []
    for _ in range(repeat):
        st.cache_data.clear()
        at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=600)
        t0 = time.perf_counter()
        at.run()
        cold.append(time.perf_counter() - t0)
        if at.exception:
            raise RuntimeError(f"{name}: {at.exception[0].message}")
        t0 = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t0)
    return statistics.median(cold), statistics.median(warm)


def main() -> int:
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big, empty = os.path.join(tmp, "big"), os.path.join(tmp, "empty")
        print(f"generating {args.rows:,} LLM calls over {args.days} days ...", flush=True)
        # the generator opens the store in a child process: this one must not host a chDB engine
        subprocess.run([sys.executable, __file__, "--generate-only", big, str(args.rows), str(args.days)], check=True)
        servers = [serve(empty), serve(big)]
        try:
            load(servers[0][1], "overview", 1)  # warm-up: imports and Streamlit's first script run
            results = {name: (load(servers[0][1], name, args.repeat), load(servers[1][1], name, args.repeat))
                       for name in NAMES}
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait(timeout=60)
    print(f"\npage-load time (Streamlit script run, median of {args.repeat}), empty store vs {args.rows:,} calls")
    print(f"{'page':<18} {'empty cold s':>13} {'big cold s':>11} {'big warm s':>11} {'big/empty':>10}  target < {TARGET_S:.0f} s")
    worst = 0.0
    for name, ((e_cold, _e_warm), (b_cold, b_warm)) in results.items():
        worst = max(worst, b_cold)
        print(f"{name:<18} {e_cold:>13.2f} {b_cold:>11.2f} {b_warm:>11.2f} {b_cold / e_cold:>9.1f}x  "
              f"{'met' if b_cold < TARGET_S else 'NOT met'}")
    print(f"\nslowest page with {args.rows:,} calls: {worst:.2f} s ({'met' if worst < TARGET_S else 'NOT met'})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--generate-only":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        raise SystemExit(0)
    raise SystemExit(main())
