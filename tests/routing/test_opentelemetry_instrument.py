"""The unmodified example app under the real `opentelemetry-instrument` command, routed end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_example_app_under_opentelemetry_instrument_is_routed(store, make_proof, service_factory, monkeypatch,
                                                               tmp_path, wait_for):
    monkeypatch.setenv("TOKENPROOF_ROUTING_MONITOR_INTERVAL_SECONDS", "0")
    monkeypatch.setenv("TOKENPROOF_READ_TOKEN", "r")
    svc = service_factory(store, api_token="w")
    pushed = httpx.post(f"{svc.url}/api/v1/routing/routes", headers={"Authorization": "Bearer w"}, json={
        "service": "support-app", "feature": "math-tutor", "baseline": "gpt-4o", "candidate": "gpt-4o-mini",
        "proof_route_id": make_proof(store), "state": "active"})
    assert pushed.status_code == 201, pushed.text
    rid = pushed.json()["id"]
    provider = subprocess.Popen([str(BIN / "tokenproof"), "provider", "--port", "0"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    try:
        provider_url = provider.stdout.readline().split("listening on ", 1)[1].split()[0]
        env = {**os.environ, "OPENAI_BASE_URL": provider_url.rstrip("/") + "/v1", "ANTHROPIC_BASE_URL": provider_url,
               "OTEL_SERVICE_NAME": "support-app", "OTEL_TRACES_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "none",
               "OTEL_LOGS_EXPORTER": "none", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
               "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": svc.url,
               "TOKENPROOF_ROUTES_URL": svc.routes_url, "TOKENPROOF_READ_TOKEN": "r",
               "TOKENPROOF_ROUTES_CACHE_PATH": str(tmp_path / "routes.json"),
               "TOKENPROOF_RAISE_INTERNAL_ERRORS": "false"}
        # a previous run of the app left its last good routes on disk, so this one routes from its first call
        from tokenproof.instrumentation._routing import Router

        previous = Router(svc.routes_url, "support-app", cache_path=str(tmp_path / "routes.json"), token="r")
        assert previous.fetch_once() == "ok"
        app = subprocess.run([str(BIN / "opentelemetry-instrument"), sys.executable,
                              str(ROOT / "examples" / "support_app.py"), "--calls", "8"],
                             env=env, capture_output=True, text=True, timeout=180)
        assert app.returncode == 0, app.stderr[-2000:]
    finally:
        provider.terminate()
        provider.wait(timeout=30)
    rows = wait_for(lambda: store.query_rows(
        "SELECT Feature, RequestModel, RouteId FROM llm_calls FINAL WHERE ServiceName = 'support-app' "
        "AND Operation = 'chat' AND RequestModel LIKE 'gpt-4o%'"))
    routed = {(f, m) for f, m, r in rows if r == rid}
    assert ("math-tutor", "gpt-4o-mini") in routed
    assert all(f == "math-tutor" and m == "gpt-4o-mini" for f, m in routed)
    assert ("marketing-quiz", "gpt-4o") in {(f, m) for f, m, r in rows if not r}  # other features untouched
