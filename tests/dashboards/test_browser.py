"""The dashboard in a real browser: Debian's chromium driven headless by Playwright loads the app
served by `tokenproof dashboard` against a seeded `tokenproof serve`. The overview renders the seeded
spend; setting a budget from the Alerts page is refused without the write credential and changes the
service's budgets with it. Screenshots go to the test's tmp dir."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tokenproof.client import ServiceClient

from .conftest import PRODUCT_SPEND, TOKEN

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="needs Debian's chromium (scripts/setup.sh installs it; required in CI)")


@pytest.fixture(scope="module")
def dashboard(seeded_service):
    env = {**os.environ, "TOKENPROOF_API_TOKEN": ""}  # the page's credential is the only one used
    proc = subprocess.Popen([sys.executable, "-m", "tokenproof.cli", "dashboard", "--port", "0",
                             "--service-url", seeded_service], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        match = re.search(r"dashboard on (http://\S+)", lines.get(timeout=60))
        assert match
        url = match.group(1)
        deadline = time.monotonic() + 60
        while True:  # Streamlit's own health endpoint answers once the server is up
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def test_overview_renders_the_seeded_spend(dashboard, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(dashboard, wait_until="domcontentloaded")
    page.get_by_text("Product spend").first.wait_for(timeout=60_000)
    page.get_by_text(f"${PRODUCT_SPEND:,.2f}").first.wait_for(timeout=30_000)
    page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").first.wait_for(
        timeout=30_000)  # the Altair spend chart drew
    page.get_by_text("Top customers").wait_for(timeout=30_000)  # the page ran to its end
    page.wait_for_timeout(1000)  # let the charts finish painting before the screenshot
    page.screenshot(path=str(tmp_path / "overview.png"), full_page=True)
    assert (tmp_path / "overview.png").stat().st_size > 10_000
    page.close()


def test_setting_a_budget_needs_the_write_credential(dashboard, browser, seeded_service, tmp_path):
    client = ServiceClient(seeded_service, token=TOKEN)
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(dashboard + "/alerts", wait_until="domcontentloaded")
    page.get_by_text("Set a budget").wait_for(timeout=60_000)
    page.get_by_label("Value").fill("chat")
    page.get_by_label("Monthly USD").fill("42")
    page.get_by_role("button", name="Save budget").click()
    page.get_by_text("refused by the service").first.wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "budget-refused.png"), full_page=True)
    assert not [b for b in client.budgets() if b.value == "chat"]

    field = page.get_by_label("Write credential (API token)", exact=True)
    field.fill(TOKEN)
    field.press("Enter")
    page.get_by_label("Value").fill("chat")
    page.get_by_label("Monthly USD").fill("42")
    page.get_by_role("button", name="Save budget").click()
    page.get_by_text("chat: $").first.wait_for(timeout=30_000)  # the burn-down of the new budget
    assert [(b.value, b.monthly_usd) for b in client.budgets() if b.value == "chat"] == [("chat", 42.0)]
    assert TOKEN not in page.inner_text("body")  # the credential is never shown back, only masked
    assert field.get_attribute("type") == "password"
    page.screenshot(path=str(tmp_path / "budget-set.png"), full_page=True)
    page.close()
