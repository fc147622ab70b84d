"""Post-switch monitoring end to end: app spans -> service -> shadow judging -> CUSUM -> rollback + alert.

The app runs the real SDK against the replay provider, instrumented with content capture and the
real OTLP exporter into the real service. For the first calls the candidate name answers with the
strong recording (same answers as the baseline: ties); then the app's traffic goes to a provider
where the candidate answers with the weaker recorded model, and the loss CUSUM must roll it back.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import openai
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from tokenproof import tag
from tokenproof.instrumentation import TokenproofInstrumentor, _runtime
from tokenproof_devkit.provider.corpus import get_corpus
from tokenproof_devkit.provider.testing import run_provider

W = {"Authorization": "Bearer w"}


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        _Hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hook.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_degraded_candidate_is_rolled_back_with_an_alert(store, make_proof, service_factory, receiver, wait_for,
                                                         monkeypatch, tmp_path):
    questions = [r.prompt for r in get_corpus().records if r.dataset == "gsm8k"][:200]
    with run_provider(model_map={"gpt-4o-mini*": "gpt4"}) as good, run_provider() as degraded:
        for name, value in {"ROUTING_MONITOR_INTERVAL_SECONDS": "0.2", "ROUTING_MONITOR_SAMPLE": "1.0",
                            "PROOF_BASE_URL": good.base_url_openai, "PROOF_ANTHROPIC_BASE_URL": good.base_url_anthropic,
                            "ROUTING_JUDGE_MODEL": "claude-sonnet-4-5", "WEBHOOK_URLS": receiver,
                            "ROUTING_WEBHOOK_URLS": receiver, "READ_TOKEN": "r",
                            "WEBHOOK_SECRET": "routing-test-secret"}.items():
            monkeypatch.setenv(f"TOKENPROOF_{name}", value)
        monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
        service = service_factory(store, api_token="w")
        proof = make_proof(store)
        pushed = httpx.post(f"{service.url}/api/v1/routing/routes", headers=W, json={
            "service": "app", "feature": "math", "baseline": "gpt-4o", "candidate": "gpt-4o-mini",
            "proof_route_id": proof, "state": "active"})
        assert pushed.status_code == 201, pushed.text
        rid = pushed.json()["id"]

        tracer_provider = TracerProvider(resource=Resource.create({"service.name": "app"}))
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{service.url}/v1/traces"),
                                                             schedule_delay_millis=100))
        instrumentor = TokenproofInstrumentor()
        instrumentor.instrument(tracer_provider=tracer_provider, routes_url=service.routes_url,
                                routes_cache_path=str(tmp_path / "routes.json"), routes_poll_seconds=0.1)
        try:
            wait_for(lambda: _runtime.get().router.table.models)
            state = lambda: httpx.get(f"{service.url}/api/v1/routing/routes/{rid}", headers=W).json()  # noqa: E731

            for provider, batch in ((good, questions[:20]), (degraded, questions[20:])):
                client = openai.OpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0)
                for question in batch:
                    with tag(feature="math"):
                        client.chat.completions.create(model="gpt-4o", messages=[
                            {"role": "system", "content": "Solve the problem."}, {"role": "user", "content": question}])
                    if provider is good:
                        continue
                    if state()["route"]["state"] == "rolled_back":
                        break
                if provider is good:  # in control: every early comparison judged, no alarm
                    wait_for(lambda: (state()["monitor"] or {}).get("judged", 0) >= 20, timeout=120)
                    assert state()["route"]["state"] == "active"
                    assert state()["monitor"]["loss_cusum"]["ones"] <= 1
            route = wait_for(lambda: (s := state())["route"]["state"] == "rolled_back" and s, timeout=120)
            assert "drift alarm on losses" in route["route"]["state_reason"]
            assert route["monitor"]["loss_cusum"]["alarm"] and route["monitor"]["shadow_spend_usd"] > 0
            audit = httpx.get(f"{service.url}/api/v1/routing/audit", params={"route_id": rid}, headers=W).json()["audit"]
            assert (audit[0]["action"], audit[0]["actor"]) == ("rollback", "monitor")
            alert = wait_for(lambda: [m for m in _Hook.received if m.get("type") == "tokenproof.alert"
                                      and m["alert"]["kind"] == "route_rollback"], timeout=60)[0]["alert"]
            assert alert["value"] == rid and alert["severity"] == "critical"
            changes = [m["action"] for m in _Hook.received if m.get("type") == "tokenproof.route_change"]
            assert changes[0] == "push" and "rollback" in changes
            # the app stops routing once it has read the rolled-back route
            wait_for(lambda: not _runtime.get().router.table.models)
            with tag(feature="math"):
                answer = openai.OpenAI(base_url=degraded.base_url_openai, api_key="sk-test").chat.completions.create(
                    model="gpt-4o", messages=[{"role": "user", "content": questions[0]}])
            assert answer.model == "gpt-4o"
        finally:
            instrumentor.uninstrument()
            tracer_provider.shutdown()
