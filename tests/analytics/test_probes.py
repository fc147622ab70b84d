"""Probes of the service API as an attacker or a careless operator would send them.

Each probe checks the clear refusal and that nothing changed: DNS rebinding and cross-origin
writes, poisoned numbers (NaN costs, Infinity budgets), out-of-range windows, and reads of prompt
content or webhook URLs without a read-scope token. A new endpoint should get its probes here.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from tokenproof import semconv as sc
from tokenproof.collector.app import create_app
from tokenproof.collector.testing import genai_request, insert_spans

TOKEN, READ = "write-token", "read-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
READER = {"Authorization": f"Bearer {READ}"}
PB = {"Content-Type": "application/x-protobuf"}


@pytest.fixture()
def app(store, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_ALERT_EVAL_INTERVAL_MINUTES", "0")
    return create_app(store, api_token=TOKEN, ingest_token="")


def _budgets(client) -> list:
    return client.get("/api/v1/budgets").json()["budgets"]


@pytest.mark.parametrize("headers, status", [
    ({"Host": "attacker.example"}, 421),                                  # DNS rebinding
    ({"Host": "127.0.0.1:4318", "Origin": "http://attacker.example"}, 403),  # CSRF from a web page
    ({"Host": "127.0.0.1:4318", "Origin": "null"}, 403),
])
def test_rebinding_and_cross_origin_writes_are_refused(app, headers, status):
    with TestClient(app) as client:
        answer = client.put("/api/v1/budgets", json={"scope": "feature", "value": "x", "monthly_usd": 1},
                            headers={**AUTH, **headers})
        assert answer.status_code == status
        assert "Host" in answer.json()["detail"] or "cross-origin" in answer.json()["detail"]
        assert _budgets(client) == []
        same_origin = client.put("/api/v1/budgets", json={"scope": "feature", "value": "x", "monthly_usd": 1},
                                 headers={**AUTH, "Host": "localhost:4318", "Origin": "http://localhost:4318"})
        assert same_origin.status_code == 200


@pytest.mark.parametrize("raw", [b'{"scope":"feature","value":"x","monthly_usd":Infinity}',
                                 b'{"scope":"feature","value":"x","monthly_usd":NaN}',
                                 b'{"scope":"feature","value":"x","monthly_usd":-5}',
                                 b'{"scope":"feature","value":"x","monthly_usd":"Infinity"}',
                                 b'{"scope":"feature","value":"x","monthly_usd":1e300}'])
def test_budgets_that_could_never_fire_are_refused(app, raw):
    with TestClient(app) as client:
        answer = client.put("/api/v1/budgets", content=raw, headers={**AUTH, "Content-Type": "application/json"})
        assert answer.status_code == 400
        assert "finite" in answer.json()["detail"]
        assert _budgets(client) == []


def _request(costs: list[AnyValue], feature: str):
    request = genai_request(len(costs), seed=21, start_ns=time.time_ns() - 60 * 10**9)
    for span, cost in zip(request.resource_spans[0].scope_spans[0].spans, costs, strict=True):
        for kv in span.attributes:
            if kv.key == sc.GEN_AI_USAGE_COST:
                kv.value.CopyFrom(cost)
            elif kv.key == sc.TP_FEATURE:
                kv.value.string_value = feature
    return request


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_nan_span_never_silences_a_budget_and_webhook_urls_need_the_read_scope(store, monkeypatch):
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    secret_url = f"http://127.0.0.1:{hook.server_address[1]}/services/T000/B000/secretpath"
    monkeypatch.setenv("TOKENPROOF_ALERT_EVAL_INTERVAL_MINUTES", "0")
    monkeypatch.setenv("TOKENPROOF_WEBHOOK_URLS", secret_url)
    monkeypatch.setenv("TOKENPROOF_WEBHOOK_BACKOFF_SECONDS", "0.05")
    try:
        app = create_app(store, api_token=TOKEN, read_token=READ, ingest_token="")
        with TestClient(app) as client:
            spans = _request([AnyValue(double_value=1.0), AnyValue(double_value=1.0),
                              AnyValue(double_value=float("nan"))], "poisoned")
            assert client.post("/v1/traces", content=spans.SerializeToString(), headers=PB).status_code == 200
            assert client.put("/api/v1/budgets", json={"scope": "feature", "value": "poisoned", "monthly_usd": 1},
                              headers=AUTH).status_code == 200
            cost = client.get("/api/v1/cost", params={"by": "feature", "since": "1d"}, headers=READER).json()
            row = {r["feature"]: r for r in cost["rows"]}["poisoned"]
            assert row["cost_usd"] == pytest.approx(2.0)
            opened = client.post("/api/v1/alerts/evaluate", headers=AUTH).json()["opened"]
            budget_alert = next(a for a in opened if a["kind"] == "budget_100")
            assert "poisoned" in budget_alert["explanation"]
            for _ in range(300):
                alert = client.get(f"/api/v1/alerts/{budget_alert['id']}", headers=AUTH).json()
                if alert["deliveries"]:
                    break
                time.sleep(0.05)
            assert alert["deliveries"][0]["url"] == secret_url  # the api token has the read scope
            assert client.get(f"/api/v1/alerts/{budget_alert['id']}").status_code == 401
            masked = TestClient(create_app(store, api_token=TOKEN, ingest_token=""))
            shown = masked.get(f"/api/v1/alerts/{budget_alert['id']}").json()["deliveries"][0]["url"]
            assert "secretpath" not in shown and shown.startswith("http://127.0.0.1")
    finally:
        hook.shutdown()
        hook.server_close()


def test_prompt_content_needs_a_read_scope_token(app, store, span):
    insert_spans(store, [span(feature="f", extra={sc.GEN_AI_INPUT_MESSAGES: '[{"role":"user","content":"ssn 123"}]'})])
    with TestClient(app) as client:
        for params in ({"by": f"attr.{sc.GEN_AI_INPUT_MESSAGES}", "since": "1d"},
                       {"by": "feature", "where": f"attr.{sc.GEN_AI_INPUT_MESSAGES}=x", "since": "1d"}):
            refused = client.get("/api/v1/cost", params=params)
            assert refused.status_code == 401 and "read-scope" in refused.json()["detail"]
            assert "ssn" not in refused.text
        shown = client.get("/api/v1/cost", params={"by": f"attr.{sc.GEN_AI_INPUT_MESSAGES}", "since": "1d"},
                           headers=AUTH)
        assert shown.status_code == 200 and "ssn 123" in shown.text
        assert client.get("/api/v1/cost", params={"by": "attr.app.region", "since": "1d"}).status_code == 200
    with TestClient(create_app(store, api_token="", ingest_token="")) as open_client:
        answer = open_client.get("/api/v1/cost", params={"by": f"attr.{sc.GEN_AI_INPUT_MESSAGES}", "since": "1d"})
        assert answer.status_code == 403 and "read_token" in answer.json()["detail"]


def test_with_a_read_token_every_read_needs_it(store):
    with TestClient(create_app(store, api_token=TOKEN, read_token=READ, ingest_token="")) as client:
        for path in ("/api/v1/cost", "/api/v1/alerts", "/api/v1/budgets", "/api/v1/status"):
            assert client.get(path).status_code == 401
            assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert client.get(path, headers=READER).status_code == 200
        assert client.put("/api/v1/budgets", json={"scope": "feature", "value": "x", "monthly_usd": 1},
                          headers=READER).status_code == 401  # the read token does not write


@pytest.mark.parametrize("path", ["/api/v1/cost", "/api/v1/cost/movers", "/api/v1/cost/coverage",
                                  "/api/v1/export/focus"])
@pytest.mark.parametrize("since", ["0001-01-01", "9999-12-31T00:00Z", "99999999999d"])
def test_out_of_range_windows_are_400(app, path, since):
    with TestClient(app) as client:
        answer = client.get(path, params={"since": since})
        assert answer.status_code == 400
        assert "out of range" in answer.json()["detail"]
        assert client.get(path, params={"since": "2d", "until": since}).status_code == 400
