"""The dashboard in a real browser: Debian's chromium driven headless by Playwright loads the app
served by `tokenproof dashboard` against a seeded `tokenproof serve`. The overview renders the seeded
spend; setting a budget from the Alerts page, and pushing a proven route from the Recommendations page,
are refused without the write credential and change the service's budgets / routing registry with it.
Screenshots go to the test's tmp dir."""

from __future__ import annotations

import contextlib
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

from .conftest import PRODUCT_SPEND, TOKEN, _serve, _stop, seed

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
                                reason="needs Debian's chromium (scripts/setup.sh installs it; required in CI)")


@contextlib.contextmanager
def _dashboard(service_url: str):
    """`tokenproof dashboard` on a free port, reading ``service_url``; yields the dashboard's URL."""
    env = {**os.environ, "TOKENPROOF_API_TOKEN": ""}  # the page's credential is the only one used
    proc = subprocess.Popen([sys.executable, "-m", "tokenproof.cli", "dashboard", "--port", "0",
                             "--service-url", service_url], stdout=subprocess.PIPE,
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
def dashboard(seeded_service):
    with _dashboard(seeded_service) as url:
        yield url


@pytest.fixture(scope="module")
def proven(tmp_path_factory, provider):
    """A service of its own (the page tests push on the shared one) where the math-tutor group's switch
    to Mixtral is proven by a shadow run on the local provider, and a dashboard reading it."""
    service = _serve(tmp_path_factory.mktemp("dash-browser") / "data", provider.base_url_openai)
    try:
        seed(service.url)
        client = ServiceClient(service.url, token=TOKEN)
        group = next(g for g in client.candidates() if g.feature == "math-tutor")
        job = client.start_shadow_run(group.baseline_model, "mixtral-8x7b-instruct", service=group.service,
                                      feature=group.feature, fingerprint=group.fingerprint, limit=80)
        assert client.shadow_run(job.job_id, wait_s=150).state == "done"
        (rec,) = client.recommendations().recommendations
        with _dashboard(service.url) as url:
            yield url, client, rec
    finally:
        _stop(service)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _settled(locator, timeout_s: float = 30.0):
    """The locator once the page's rerun is over: exactly one match, enabled (a rerun briefly shows the
    stale element next to the new one)."""
    deadline = time.monotonic() + timeout_s
    while not (locator.count() == 1 and locator.is_enabled()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return locator


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


def test_pushing_a_proven_route_needs_the_write_credential(proven, browser, tmp_path):
    url, client, rec = proven
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(url + "/recommendations", wait_until="domcontentloaded")
    page.get_by_text("Proven routes", exact=True).wait_for(timeout=60_000)
    assert rec.meaning
    page.get_by_text(rec.meaning).first.wait_for(timeout=30_000)  # the decision's plain sentence
    page.get_by_text("Enter the API token in the sidebar to see prompts and answers").first.wait_for(timeout=30_000)

    def push() -> None:
        provider_field = page.get_by_role("textbox", name="Provider both models are priced under")
        provider_field.fill("deepinfra")
        provider_field.press("Enter")
        page.get_by_text("As canary: moves 10% of shop/math-tutor/fp-math traffic").wait_for(timeout=30_000)
        page.get_by_text("Confirm pushing as canary").click()
        _settled(page.get_by_role("button", name="Push as canary")).click()

    push()
    page.get_by_text("refused by the service").first.wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "push-refused.png"), full_page=True)
    assert not client.routing_routes()

    field = page.get_by_label("Write credential (API token)", exact=True)
    field.fill(TOKEN)
    field.press("Enter")
    page.get_by_text("Outcomes over time").first.wait_for(timeout=30_000)  # prompts and answers readable now
    _settled(page.get_by_role("button", name="Push as canary")).click()
    page.get_by_text("Push as canary: done").wait_for(timeout=30_000)
    (route,) = client.routing_routes()
    assert (route.state, route.traffic_share, route.proof.get("route_id", "")) == ("canary", 0.1, rec.route_id)
    assert TOKEN not in page.inner_text("body")
    page.screenshot(path=str(tmp_path / "push-canary.png"), full_page=True)

    page.get_by_role("link", name="Routes").click()  # same session: the credential is kept
    page.get_by_text(f"{route.id}: {route.match.get('baseline', '')}").first.wait_for(timeout=30_000)
    page.get_by_text("Audit log", exact=True).wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(tmp_path / "routes.png"), full_page=True)
    page.close()
