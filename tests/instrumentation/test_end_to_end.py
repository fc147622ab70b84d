"""End to end: examples/instrumented_app.py under the real ``opentelemetry-instrument`` command.

The app has no tracing code; spans go over OTLP/HTTP (protobuf) to a receiver started here, against
the local provider server. Every call must arrive as one priced, tagged GenAI span.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tokenproof import semconv as sc
from tokenproof_devkit.provider.testing import run_provider

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "instrumented_app.py"


class Receiver:
    """A minimal OTLP/HTTP trace receiver: decodes every POST /v1/traces body."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict, object]] = []  # (resource attributes, span)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/traces":
                    request = ExportTraceServiceRequest.FromString(body)
                    for rs in request.resource_spans:
                        resource = {a.key: _value(a.value) for a in rs.resource.attributes}
                        for ss in rs.scope_spans:
                            receiver.spans.extend((resource, span) for span in ss.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return tuple(_value(x) for x in v.array_value.values)
    return getattr(v, kind) if kind else None


def _attrs(span) -> dict:
    return {a.key: _value(a.value) for a in span.attributes}


@pytest.fixture(scope="module")
def provider():
    with run_provider(latency_ms=0) as handle:
        yield handle


def _run_app(provider, receiver, **extra_env) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENPROOF_"))}
    env.update(
        OPENAI_BASE_URL=provider.base_url_openai,
        ANTHROPIC_BASE_URL=provider.base_url_anthropic,
        OPENAI_API_KEY="sk-test", ANTHROPIC_API_KEY="sk-ant-test",
        OTEL_SERVICE_NAME="example-app",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
        TOKENPROOF_RAISE_INTERNAL_ERRORS="true",
        **extra_env,
    )
    command = [str(Path(sys.executable).with_name("opentelemetry-instrument")), sys.executable, str(APP)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_example_app_under_opentelemetry_instrument(provider):
    with Receiver() as receiver:
        done = _run_app(provider, receiver, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="openai")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "answer:" in done.stdout and "class:" in done.stdout
    llm = [(res, span) for res, span in receiver.spans if sc.GEN_AI_OPERATION_NAME in _attrs(span)]
    assert [span.name for _, span in llm] == ["chat gpt-4o", "chat gpt-4o-mini", "chat claude-3-5-haiku-latest"]
    expected_tags = [("support-answer", "pro", "acme-corp"), ("ticket-summary", "free", "globex"),
                     ("triage", "free", "globex")]
    for (resource, span), (feature, tier, customer) in zip(llm, expected_tags, strict=False):
        attrs = _attrs(span)
        assert resource["service.name"] == "example-app"
        assert span.kind == span.SPAN_KIND_CLIENT
        assert (attrs[sc.TP_FEATURE], attrs[sc.TP_TIER], attrs[sc.TP_CUSTOMER]) == (feature, tier, customer)
        assert attrs[sc.TP_COST_STATUS] == sc.COST_PRICED and attrs[sc.GEN_AI_USAGE_COST] > 0
        assert attrs[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER  # the stream got real usage too
        assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0 and attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
        assert attrs[sc.TP_PROMPT_FINGERPRINT]
        assert "gen_ai.system" not in attrs


def test_with_openllmetry_loaded_too_each_call_counted_once(provider):
    """Both instrumentations loaded by opentelemetry-instrument: one counted, priced span per call."""
    with Receiver() as receiver:
        done = _run_app(provider, receiver, OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="")
    assert done.returncode == 0, done.stderr[-3000:]
    llm = [span for _, span in receiver.spans if sc.GEN_AI_OPERATION_NAME in _attrs(span)]
    assert len(llm) == 3, [(s.name, s.attributes) for s in llm]
    for span in llm:
        attrs = _attrs(span)
        assert attrs[sc.TP_COST_STATUS] == sc.COST_PRICED and attrs[sc.GEN_AI_USAGE_COST] > 0
        assert attrs[sc.TP_FEATURE]
