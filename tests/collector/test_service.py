"""The service as users run it: `tokenproof serve` in a subprocess, real OpenTelemetry exporters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from tokenproof import semconv as sc
from tokenproof.service_client import call

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tokenproof.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_non_loopback_bind_without_token_is_refused(tmp_path):
    result = _cli("serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert "ingest token" in result.stderr
    assert not (tmp_path / "d").exists()  # refused before touching the store


def test_sdk_exporter_spans_are_stored_and_status_agrees(service_factory):
    svc = service_factory()
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=svc.url + "/v1/traces"),
                                                   max_export_batch_size=64))
    tracer = provider.get_tracer("test")
    for i in range(25):
        with tracer.start_as_current_span("POST /ask", kind=SpanKind.SERVER):
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
                span.set_attributes({
                    sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai",
                    sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini", sc.GEN_AI_USAGE_INPUT_TOKENS: 100 + i,
                    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 10, sc.GEN_AI_USAGE_COST: 0.001,
                    sc.TP_COST_STATUS: sc.COST_PRICED, sc.TP_FEATURE: "ask",
                    sc.TP_TRAFFIC_CLASS: sc.TRAFFIC_JUDGE if i % 5 == 0 else sc.TRAFFIC_PRODUCT,
                })
    assert provider.force_flush(30_000)
    provider.shutdown()

    # metrics and logs exporters get a success answer too (accepted and dropped)
    reader = InMemoryMetricReader()
    MeterProvider(metric_readers=[reader]).get_meter("t").create_counter("c").add(1)
    assert OTLPMetricExporter(endpoint=svc.url + "/v1/metrics").export(reader.get_metrics_data()).name == "SUCCESS"
    logs = LoggerProvider()
    log_exporter = OTLPLogExporter(endpoint=svc.url + "/v1/logs")
    logs.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    logs.shutdown()

    status = call("GET", "/api/v1/status", base_url=svc.url)
    assert status["spans"] == 50 and status["llm_calls"] == 25
    assert status["schema_version"] >= 4 and status["store"]["kind"] == "embedded"
    assert status["schema_versions"]["collector"] >= 12 and status["schema_versions"]["analytics"] >= 103
    printed = _cli("status", "--url", svc.url)
    assert printed.returncode == 0
    assert "spans stored:      50" in printed.stdout and "LLM calls:         25" in printed.stdout
    as_json = json.loads(_cli("status", "--url", svc.url, "--json").stdout)
    assert as_json["spans"] == 50


def test_app_under_opentelemetry_instrument_is_stored_once(service_factory, tmp_path):
    """The example app, unmodified, under the real `opentelemetry-instrument` command."""
    svc = service_factory()
    provider = subprocess.Popen([str(BIN / "tokenproof"), "provider", "--port", "0"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    try:
        line = provider.stdout.readline()
        provider_url = line.split("listening on ", 1)[1].split()[0]
        env = {**os.environ,
               "OPENAI_BASE_URL": provider_url.rstrip("/") + "/v1", "ANTHROPIC_BASE_URL": provider_url,
               "OTEL_SERVICE_NAME": "support-app", "OTEL_TRACES_EXPORTER": "otlp",
               "OTEL_METRICS_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "otlp",
               "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
               "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_ENDPOINT": svc.url,
               "TOKENPROOF_RAISE_INTERNAL_ERRORS": "false"}
        app = subprocess.run([str(BIN / "opentelemetry-instrument"), sys.executable,
                              str(ROOT / "examples" / "support_app.py"), "--calls", "8"],
                             env=env, capture_output=True, text=True, timeout=180)
        assert app.returncode == 0, app.stderr[-2000:]
        assert "Failed to export" not in app.stderr and "Exception while exporting" not in app.stderr
    finally:
        provider.terminate()
        provider.wait(timeout=30)
    status = call("GET", "/api/v1/status", base_url=svc.url)
    assert status["llm_calls"] == 8
    assert status["spans"] >= 8
    assert status["unpriced_llm_calls"] == 0

    # `tokenproof calls` shows each stored call priced and tagged, newest first
    shown = _cli("calls", "--url", svc.url, "--json")
    assert shown.returncode == 0, shown.stderr
    calls = json.loads(shown.stdout)
    assert len(calls) == 8
    assert [c["Timestamp"] for c in calls] == sorted((c["Timestamp"] for c in calls), reverse=True)
    for c in calls:
        assert c["Priced"] and c["CostUSD"] > 0 and c["PriceVersion"].startswith("genai-prices")
        assert c["Feature"] in {"math-tutor", "marketing-quiz", "writing-assistant", "doc-search"}
        assert c["Tier"] in {"pro", "free"} and c["Customer"] and c["UsageSource"] == "provider"
    table = _cli("calls", "--url", svc.url, "--limit", "3")
    assert table.returncode == 0 and len(table.stdout.strip().splitlines()) == 4
    assert "cost_usd" in table.stdout.splitlines()[0]
    bad = _cli("calls", "--url", svc.url, "--limit", "0")
    assert bad.returncode == 1 and "limit must be between 1 and 1000" in bad.stderr


def test_reprice_command_prices_calls_after_an_overrides_change(service_factory, tmp_path):
    prices = tmp_path / "prices.toml"
    prices.write_text("overrides = []\n")
    svc = service_factory(env={"TOKENPROOF_API_TOKEN": "adm1n", "TOKENPROOF_PRICE_OVERRIDES": str(prices)})
    provider = TracerProvider(resource=Resource.create({"service.name": "private-llm-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=svc.url + "/v1/traces")))
    with provider.get_tracer("test").start_as_current_span("chat acme-private-llm", kind=SpanKind.CLIENT) as span:
        span.set_attributes({sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai",
                             sc.GEN_AI_REQUEST_MODEL: "acme-private-llm", sc.GEN_AI_USAGE_INPUT_TOKENS: 2_000_000,
                             sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1_000_000, sc.TP_COST_STATUS: sc.COST_UNPRICED})
    provider.shutdown()
    assert call("GET", "/api/v1/status", base_url=svc.url)["unpriced_llm_calls"] == 1

    prices.write_text('[[overrides]]\nprovider = "openai"\nmodel = "acme-private-llm"\ninput_mtok = 1.0\noutput_mtok = 4.0\n')
    refused = _cli("reprice", "--since", "1d", "--url", svc.url, "--token", "wrong")
    assert refused.returncode == 1 and "401" in refused.stderr
    result = _cli("reprice", "--since", "1d", "--url", svc.url, "--token", "adm1n")
    assert result.returncode == 0, result.stderr
    assert "newly priced:      1" in result.stdout and "cost after:        $6.000000" in result.stdout
    status = call("GET", "/api/v1/status", base_url=svc.url)
    assert status["unpriced_llm_calls"] == 0 and status["llm_calls"] == 1
