"""Inside the service: the periodic evaluation raises alerts on its own and delivery is recorded."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from tokenproof.collector.app import create_app
from tokenproof.collector.testing import insert_spans


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        _Hook.received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def _eventually(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_periodic_evaluation_alerts_and_records_webhook_delivery(store, span, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received = []
    monkeypatch.setenv("TOKENPROOF_ALERT_EVAL_INTERVAL_MINUTES", "0.005")  # every 0.3 s
    monkeypatch.setenv("TOKENPROOF_WEBHOOK_URLS", f"http://127.0.0.1:{server.server_address[1]}/hook")
    monkeypatch.setenv("TOKENPROOF_WEBHOOK_SECRET", "service-loop-secret")
    monkeypatch.setenv("TOKENPROOF_WEBHOOK_SECRET", "shh")
    monkeypatch.setenv("TOKENPROOF_ALERT_DIMENSIONS", "feature")
    now = datetime.now(UTC)
    trace = "aa" * 16
    insert_spans(store, [span(feature="agent", cost=0.01, trace_id=trace, when=now - timedelta(seconds=5 * i))
                         for i in range(220)])
    try:
        with TestClient(create_app(store, api_token="t")) as client:
            alerts = _eventually(lambda: client.get("/api/v1/alerts").json()["alerts"])
            assert alerts[0]["kind"] == "runaway_trace" and alerts[0]["value"] == trace
            delivered = _eventually(lambda: store.query_rows(
                "SELECT AlertId FROM analytics_webhook_deliveries WHERE Outcome = 'delivered'"))
            assert delivered[0][0] == alerts[0]["id"]
            detail = client.get(f"/api/v1/alerts/{alerts[0]['id']}").json()
            assert [d["outcome"] for d in detail["deliveries"]] == ["delivered"]
            assert detail["deliveries"][0]["http_status"] == 200
            assert client.get("/api/v1/alerts/nope").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
    headers, body = _Hook.received[0]
    assert json.loads(body)["alert"]["id"] == alerts[0]["id"]
    assert Webhook(b"shh").verify(body, headers)["alert"]["id"] == alerts[0]["id"]
    # one anomaly, one alert: later passes updated it instead of opening more
    assert len([h for h in _Hook.received]) == 1
