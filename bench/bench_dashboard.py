"""Dashboard page-load time per page: an empty store next to one holding ``--rows`` LLM calls
(default 10 million over 30 days), target under 2 s per page.

The large store is generated inside the engine (``INSERT ... SELECT ... FROM numbers()`` straight into
``llm_calls``; its materialized views fill the hourly and daily rollups), the same generator as
``bench_attribution.py --via calls``. Each store is then served by its own ``tokenproof serve``
subprocess (the store has one owner), and every page is run by Streamlit's AppTest in this process,
exactly as the server runs it for a browser: the script's run time with a cold cache (first visit)
and with a warm one (the next visit inside the cache's TTL). Browser rendering is not included.

    .venv/bin/python bench/bench_dashboard.py [--rows 10000000] [--days 30] [--repeat 3] [--data-dir DIR]

Candidate mining and sample traces are loaded on demand (a toggle on their page), not on page load;
the figures below are page loads.
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
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = ["overview", "attribution", "alerts", "recommendations", "routes"]
TITLES = {"overview": "Overview", "attribution": "Attribution explorer", "alerts": "Alerts and budgets",
          "recommendations": "Recommendations", "routes": "Routes"}
TARGET_S = 2.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


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


def dashboard(service_url: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tokenproof.cli", "dashboard", "--port", "0", "--service-url",
                             service_url], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    match = re.search(r"dashboard on (http://\S+)", lines.get(timeout=120))
    assert match, "tokenproof dashboard did not start"
    url = match.group(1)
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=5):
                return proc, url
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _done(page, title: str) -> None:
    page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=600_000)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=600_000)


def visit(browser, url: str, title: str) -> float:
    """A new tab: seconds from navigation until the page's script has run to its end and is drawn."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        t0 = time.perf_counter()
        page.goto(url, wait_until="domcontentloaded")
        _done(page, title)
        return time.perf_counter() - t0
    finally:
        page.close()


def switches(browser, url: str, repeat: int) -> dict[str, float]:
    """In one tab, median seconds to switch to each page from the sidebar (how people move around)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    times: dict[str, list[float]] = {name: [] for name in NAMES}
    try:
        page.goto(url + "/routes", wait_until="domcontentloaded")
        _done(page, "Routes")
        for _ in range(repeat):
            for name in NAMES:
                t0 = time.perf_counter()
                page.get_by_role("link", name=TITLES[name], exact=True).first.click()
                _done(page, TITLES[name])
                times[name].append(time.perf_counter() - t0)
        return {name: statistics.median(v) for name, v in times.items()}
    finally:
        page.close()


def load(browser, service_url: str, repeat: int) -> dict[str, tuple[float, float]]:
    """{page: (first visit in a new tab, median switch to it in the app)}, fresh dashboard (cold cache)."""
    proc, url = dashboard(service_url)
    try:
        visit(browser, url + "/routes", "Routes")  # the server's first session (component discovery, imports)
        cold = {name: visit(browser, url + ("" if name == "overview" else "/" + name), TITLES[name])
                for name in NAMES}
        warm = switches(browser, url, repeat)
        return {name: (cold[name], warm[name]) for name in NAMES}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data-dir", default=None,
                        help="keep the large store here; an existing one is reused as is (no generation)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big, empty = args.data_dir or os.path.join(tmp, "big"), os.path.join(tmp, "empty")
        if not os.path.exists(big):
            print(f"generating {args.rows:,} LLM calls over {args.days} days ...", flush=True)
            # the generator opens the store in a child process: this one must not host a chDB engine
            subprocess.run([sys.executable, __file__, "--generate-only", big, str(args.rows), str(args.days)],
                           check=True)
        from playwright.sync_api import sync_playwright

        servers = [serve(empty), serve(big)]
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                try:
                    small, large = (load(browser, servers[0][1], args.repeat),
                                    load(browser, servers[1][1], args.repeat))
                finally:
                    browser.close()
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait(timeout=60)
    print(f"\npage-load time in headless chromium (until the page's script is done and drawn), empty store vs "
          f"{args.rows:,} calls; new tab = first visit with an empty cache, switch = median of {args.repeat} "
          "sidebar switches in one tab")
    print(f"{'page':<18} {'empty new tab':>14} {'big new tab':>12} {'empty switch':>13} {'big switch':>11} "
          f"{'big/empty':>10}  target < {TARGET_S:.0f} s")
    worst = 0.0
    for name in NAMES:
        (e_cold, e_warm), (b_cold, b_warm) = small[name], large[name]
        worst = max(worst, b_cold)
        print(f"{name:<18} {e_cold:>14.2f} {b_cold:>12.2f} {e_warm:>13.2f} {b_warm:>11.2f} {b_cold / e_cold:>9.1f}x  "
              f"{'met' if b_cold < TARGET_S else 'NOT met'}")
    print(f"machine load average (1, 5, 15 min) at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    print(f"\nslowest page with {args.rows:,} calls: {worst:.2f} s ({'met' if worst < TARGET_S else 'NOT met'})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--generate-only":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        raise SystemExit(0)
    raise SystemExit(main())
