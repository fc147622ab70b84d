"""Alert evaluation over a real store: detection, explanation, dedup, lifecycle, budgets, delivery."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from standardwebhooks import Webhook

from tokenproof.analytics import alerts as A
from tokenproof.analytics import budgets as B
from tokenproof.analytics.evaluate import evaluate
from tokenproof.analytics.webhooks import Target, WebhookWorker
from tokenproof.collector.testing import insert_spans

# a Tuesday, 14:20 UTC, a few months back (the store keeps any timestamps)
NOW = datetime(2026, 9, 15, 14, 20, tzinfo=UTC)


def history(span, feature: str, dollars_at_peak: float, days: int = 29, seed: int = 0, model: str = "gpt-4o"):
    """One span per hour carrying that hour's seasonal spend (daily + weekly pattern, noise)."""
    rng = np.random.default_rng(seed)
    start = NOW.replace(minute=0) - timedelta(days=days)
    spans = []
    for i in range(days * 24):
        when = start + timedelta(hours=i)
        shape = (0.25 + 0.75 * np.exp(-((when.hour - 14) ** 2) / 18)) * (0.6 if when.weekday() >= 5 else 1.0)
        spans.append(span(feature=feature, model=model, cost=float(dollars_at_peak * shape * rng.lognormal(0, 0.08)),
                          when=when + timedelta(minutes=5)))
    return spans


@pytest.fixture()
def spiky(store, span):
    spans = history(span, "summarize", 20.0) + history(span, "tiny", 0.01, seed=1)
    # this hour (Tuesday 14:00): summarize spends 3x its usual on a new deploy of gpt-4o
    spans += [span(feature="summarize", model="gpt-4o", cost=20.0, when=NOW - timedelta(minutes=m)) for m in (10, 12, 14)]
    spans.append(span(feature="tiny", cost=0.05, when=NOW - timedelta(minutes=3)))  # 5x, but cents
    insert_spans(store, spans)
    return store


def test_spike_opens_one_explained_alert_and_dedups(spiky):
    result = evaluate(spiky, NOW, dimensions=["feature"])
    opened = [a for a in result["opened"] if a["kind"] == "spend_spike"]
    assert [a["value"] for a in opened] == ["summarize"]  # tiny stays quiet
    alert = opened[0]
    assert alert["status"] == "open"
    assert "the usual Tuesday 14:00" in alert["explanation"]
    assert "feature=summarize" in alert["explanation"] and "model=gpt-4o" in alert["explanation"]
    assert "since Tue 2026-09-15 14:06 UTC" in alert["explanation"]  # the first expensive call's minute
    assert alert["ratio"] > 2
    again = evaluate(spiky, NOW + timedelta(minutes=15), dimensions=["feature"])
    assert not [a for a in again["opened"] if a["kind"] == "spend_spike"]
    stored = A.list_alerts(spiky)
    spikes = [a for a in stored if a["kind"] == "spend_spike"]
    assert len(spikes) == 1 and spikes[0]["occurrences"] == 2


def test_lifecycle_ack_resolve_and_no_reopen(spiky):
    alert = next(a for a in evaluate(spiky, NOW, dimensions=["feature"])["opened"] if a["kind"] == "spend_spike")
    assert A.acknowledge(spiky, alert["id"])["status"] == "acknowledged"
    assert A.list_alerts(spiky, status="acknowledged")[0]["id"] == alert["id"]
    resolved = A.resolve(spiky, alert["id"])
    assert resolved["status"] == "resolved" and resolved["resolved_by"] == "user"
    with pytest.raises(A.AlertError):
        A.acknowledge(spiky, alert["id"])
    # evaluating the same window again does not reopen what was resolved
    again = evaluate(spiky, NOW, dimensions=["feature"])
    assert not [a for a in again["opened"] if a["kind"] == "spend_spike"]
    assert A.get_alert(spiky, "nope") is None
    with pytest.raises(A.AlertError):
        A.list_alerts(spiky, status="bogus")


def test_quiet_alert_resolves_itself(spiky):
    evaluate(spiky, NOW, dimensions=["feature"])
    later = evaluate(spiky, NOW + timedelta(days=1), dimensions=["feature"])
    assert later["resolved"]
    assert all(a["status"] == "resolved" for a in A.list_alerts(spiky) if a["kind"] == "spend_spike")


def test_runaway_trace(store, span):
    trace = "ef" * 16
    insert_spans(store, [span(feature="agent", cost=0.01, trace_id=trace, when=NOW - timedelta(seconds=10 * i))
                         for i in range(250)])
    result = evaluate(store, NOW, dimensions=[])
    runaway = [a for a in result["opened"] if a["kind"] == "runaway_trace"]
    assert runaway and runaway[0]["value"] == trace
    assert "250 LLM calls in the last hour" in runaway[0]["explanation"]


def test_unknown_alert_dimension_is_refused(store):
    with pytest.raises(ValueError, match="colour"):
        evaluate(store, NOW, dimensions=["colour"])


def test_budget_forecast_math():
    now = datetime(2026, 9, 10, 0, 0, tzinfo=UTC)  # 9 days of a 30-day month done
    hours = np.arange(int(now.timestamp() // 3600) - 9 * 24, int(now.timestamp() // 3600) + 1)
    cost = np.ones(hours.size)  # $1 every hour
    report = B.forecast(hours, cost, 500.0, now)
    assert report["month_to_date_usd"] == pytest.approx(9 * 24 + 1)
    assert report["projected_usd"] == pytest.approx(720, rel=0.02)
    assert report["runs_out_at"].startswith("2026-09-21")  # hour 500 of the month
    kinds = {f["kind"] for f in B.budget_findings({**report, "scope": "feature", "value": "x"}, now)}
    assert kinds == {"budget_forecast"}


def test_budget_alerts_from_store(spiky):
    B.set_budget(spiky, "feature", "summarize", 3600.0)
    B.set_budget(spiky, "feature", "tiny", 50.0)
    with pytest.raises(B.BudgetError, match="colour"):
        B.set_budget(spiky, "colour", "x", 5)
    result = evaluate(spiky, NOW, dimensions=[])
    reports = {r["value"]: r for r in result["budgets"]}
    assert 0.8 * 3600 < reports["summarize"]["month_to_date_usd"] < 3600  # two weeks of ~$210/day
    assert reports["summarize"]["projected_usd"] > 3600 and reports["summarize"]["runs_out_at"] > NOW.isoformat()
    kinds = {a["kind"] for a in result["opened"] if a["value"] == "summarize"}
    assert {"budget_80", "budget_forecast"} <= kinds
    assert not [a for a in result["opened"] if a["value"] == "tiny"]
    B.set_budget(spiky, "feature", "tiny", 0)  # removes it
    assert [b["value"] for b in B.list_budgets(spiky)] == ["summarize"]


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_new_alert_reaches_a_local_webhook_signed(spiky):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received = []
    worker = WebhookWorker([Target(f"http://127.0.0.1:{server.server_address[1]}/")], "k", backoff_s=0.05).start()
    try:
        opened = evaluate(spiky, NOW, notify=worker.submit, dimensions=["feature"])["opened"]
        assert worker.wait_idle(30)
    finally:
        worker.stop()
        server.shutdown()
        server.server_close()
    bodies = [json.loads(body) for _, body in _Hook.received]
    assert {b["alert"]["id"] for b in bodies} == {a["id"] for a in opened}
    headers, body = _Hook.received[0]
    assert Webhook(b"k").verify(body, headers)["alert"]["id"] in {a["id"] for a in opened}
