"""The CLI as users run it: `tokenproof serve --port 0` in a subprocess, spans sent by the OpenTelemetry
SDK's OTLP exporter, then `tokenproof cost|alerts|budgets|export` talking to the service API."""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading

import pyarrow.parquet as pq
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from tokenproof import semconv as sc
from tokenproof.analytics.focus import FOCUS_COLUMNS

TOKEN = "cli-token"
AGENT_TRACE: dict[str, str] = {}


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    data = tmp_path_factory.mktemp("svc") / "data"
    env = {**os.environ, "TOKENPROOF_API_TOKEN": TOKEN, "TOKENPROOF_ALERT_EVAL_INTERVAL_MINUTES": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "tokenproof.cli", "serve", "--host", "127.0.0.1", "--port", "0",
                             "--data-dir", str(data)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        match = re.search(r"listening on (http://\S+)", lines.get(timeout=90))
        assert match
        url = match.group(1)
        _send_spans(url)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _send_spans(url: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "cli-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces")))
    tracer = provider.get_tracer("test")
    plan = [("summarize", "gpt-4o", 0.02, sc.TRAFFIC_PRODUCT)] * 6 + [("chat", "gpt-4o-mini", 0.001, sc.TRAFFIC_PRODUCT)] * 10 \
        + [("chat", "gpt-4o", 0.05, sc.TRAFFIC_SHADOW)] * 2
    for feature, model, cost, traffic in plan:
        with tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT) as span:
            span.set_attributes({
                sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: model,
                sc.GEN_AI_RESPONSE_MODEL: model, sc.GEN_AI_USAGE_INPUT_TOKENS: 100, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
                sc.GEN_AI_USAGE_COST: cost, sc.TP_COST_STATUS: sc.COST_PRICED, sc.TP_FEATURE: feature,
                sc.TP_TIER: "pro", sc.TP_TRAFFIC_CLASS: traffic})
    # an agent run: one invoke_agent span around two model calls (only the calls are summed)
    with tracer.start_as_current_span("invoke_agent planner", kind=SpanKind.INTERNAL) as agent:
        agent.set_attributes({sc.GEN_AI_OPERATION_NAME: "invoke_agent", sc.TP_FEATURE: "agent"})
        AGENT_TRACE["id"] = format(agent.get_span_context().trace_id, "032x")
        for _ in range(2):
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT) as span:
                span.set_attributes({
                    sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai",
                    sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini", sc.GEN_AI_USAGE_INPUT_TOKENS: 50,
                    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5, sc.GEN_AI_USAGE_COST: 0.0005,
                    sc.TP_COST_STATUS: sc.COST_PRICED, sc.TP_FEATURE: "agent"})
    assert provider.force_flush(30_000)
    provider.shutdown()


def cli(url: str, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOKENPROOF_SERVICE_URL": url}
    env.pop("TOKENPROOF_API_TOKEN", None)
    if token:
        env["TOKENPROOF_API_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "tokenproof.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cost_json_and_table(service):
    result = cli(service, "cost", "--by", "feature,model", "--since", "1d", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    rows = {(r["feature"], r["model"]): r for r in answer["rows"]}
    assert rows[("summarize", "gpt-4o")]["calls"] == 6
    assert rows[("summarize", "gpt-4o")]["cost_usd"] == pytest.approx(0.12)
    assert rows[("chat", "gpt-4o-mini")]["cost_usd"] == pytest.approx(0.01)
    assert answer["experiment"]["totals"]["cost_usd"] == pytest.approx(0.10)
    table = cli(service, "cost", "--by", "feature", "--since", "1d")
    assert table.returncode == 0 and "summarize" in table.stdout and "experiment cost" in table.stdout


def test_cost_reports_and_errors(service):
    movers = json.loads(cli(service, "cost", "--movers", "--since", "1d", "--json").stdout)
    assert movers["rows"][0]["feature"] == "summarize"
    coverage = cli(service, "cost", "--coverage", "--since", "1d")
    assert coverage.returncode == 0 and "unpriced: 0 of 20 calls" in coverage.stdout
    bad = cli(service, "cost", "--by", "colour")
    assert bad.returncode == 1 and "colour" in bad.stderr and "feature" in bad.stderr


def test_alerts_budgets_and_export(service, tmp_path):
    assert cli(service, "alerts", "evaluate").returncode == 1  # writes need the token
    evaluated = cli(service, "alerts", "evaluate", token=TOKEN)
    assert evaluated.returncode == 0 and "evaluated at" in evaluated.stdout
    assert cli(service, "alerts", "list", "--json").returncode == 0
    set_budget = cli(service, "budgets", "set", "--feature", "summarize", "--monthly-usd", "500", token=TOKEN)
    assert set_budget.returncode == 0, set_budget.stderr
    listed = json.loads(cli(service, "budgets", "--json").stdout)["budgets"]
    assert listed[0]["value"] == "summarize" and listed[0]["month_to_date_usd"] == pytest.approx(0.12)
    out = tmp_path / "focus.parquet"
    exported = cli(service, "export", "focus", "--since", "1d", "--format", "parquet", "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    assert pq.read_table(out).column_names == FOCUS_COLUMNS
    meta = json.loads((tmp_path / "focus.parquet.metadata.json").read_text())
    assert meta["Schema"]["FocusVersion"] == "1.4" and "calls" in meta["x_UnpricedUsage"]


def test_trace_rollup_of_an_agent_run(service):
    result = cli(service, "cost", "--trace", AGENT_TRACE["id"], "--json")
    assert result.returncode == 0, result.stderr
    rollup = json.loads(result.stdout)
    assert rollup["inference_spans"] == 2 and rollup["other_spans_not_summed"] == 1
    assert rollup["totals"]["cost_usd"] == pytest.approx(0.001)
    table = cli(service, "cost", "--trace", AGENT_TRACE["id"])
    assert "2 inference spans summed, 1 agent/tool spans not summed" in table.stdout
