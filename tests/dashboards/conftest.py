"""Fixtures for dashboard tests: `tokenproof serve` subprocesses (a seeded store and an empty one) and
the local provider for shadow runs.

The seeded store is filled the way real traffic arrives: spans from the OpenTelemetry SDK sent by its
OTLP exporter to the service (no table is written directly). The numbers are chosen so a page can be
checked against them: product spend $6.90 in the last 7 days (summarize $5.00, chat $1.00,
math-tutor $0.90), 5 unpriced calls, experiment (shadow) spend $2.00.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from tokenproof import semconv as sc
from tokenproof_devkit.provider.corpus import GPT4, get_corpus
from tokenproof_devkit.provider.testing import run_provider

TOKEN = "dash-write-token"
PRODUCT_SPEND = 6.90
SHADOW_SPEND = 2.00
UNPRICED_CALLS = 5
SYSTEM = [{"type": "text", "content": "Answer the multiple-choice question with the letter of the correct option."}]


@dataclass
class Service:
    url: str
    proc: subprocess.Popen


def _serve(data_dir, proof_base_url: str = "", **extra_env: str) -> Service:
    # the proof scheduler's loop is off: its passes would start shadow runs the pages' tests count
    env = {**os.environ, "TOKENPROOF_API_TOKEN": TOKEN, "TOKENPROOF_ALERT_EVAL_INTERVAL_MINUTES": "0",
           "TOKENPROOF_PROOF_SHADOW_SAMPLE_RATE": "0.5", "TOKENPROOF_PROOF_BASE_URL": proof_base_url,
           "TOKENPROOF_ROUTING_MONITOR_INTERVAL_SECONDS": "1",  # the drift monitor sees a pushed route at once
           "TOKENPROOF_SCHEDULER_INTERVAL_SECONDS": "0", **extra_env}
    proc = subprocess.Popen([sys.executable, "-m", "tokenproof.cli", "serve", "--host", "127.0.0.1", "--port", "0",
                             "--data-dir", str(data_dir)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        match = re.search(r"listening on (http://\S+)", lines.get(timeout=120))
    except queue.Empty:
        proc.kill()
        raise RuntimeError("tokenproof serve did not start") from None
    assert match
    return Service(match.group(1), proc)


def _stop(service: Service) -> None:
    service.proc.terminate()
    try:
        service.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        service.proc.kill()
        service.proc.wait(timeout=30)


def _attrs(feature, model, cost, *, tier="pro", customer="acme", traffic=None, record=None, fingerprint=""):
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: model,
             sc.GEN_AI_RESPONSE_MODEL: model, sc.GEN_AI_USAGE_INPUT_TOKENS: 400, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 150,
             sc.TP_FEATURE: feature, sc.TP_TIER: tier, sc.TP_CUSTOMER: customer, sc.TP_OUTPUT_FORMAT: "text"}
    if cost is None:
        attrs[sc.TP_COST_STATUS] = sc.COST_UNPRICED
    else:
        attrs.update({sc.GEN_AI_USAGE_COST: cost, sc.TP_COST_STATUS: sc.COST_PRICED})
    if fingerprint:
        attrs[sc.TP_PROMPT_FINGERPRINT] = fingerprint
    if traffic:
        attrs[sc.TP_TRAFFIC_CLASS] = traffic
    if record is not None:  # content capture on: the proof engine can replay this call
        attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = json.dumps(SYSTEM)
        attrs[sc.GEN_AI_INPUT_MESSAGES] = json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": record.prompt}]}])
        attrs[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": record.answers[GPT4]}],
              "finish_reason": "stop"}])
        attrs[sc.TP_REQUEST_PARAMS] = json.dumps({"temperature": 0, "max_tokens": 300})
    return attrs


HOUR_NS = 3600 * 10**9


def seed(url: str) -> None:
    """Six days of traffic through the OTLP exporter (timestamps in the past)."""
    hour = HOUR_NS
    math = [r for r in get_corpus().records if r.feature == "mmlu:high_school_mathematics"][:90]
    plan = [(i * 7 * hour, _attrs("summarize", "gpt-4o", 0.25, customer="acme" if i % 2 else "globex"))
            for i in range(20)]
    plan += [(i * hour, _attrs("chat", "gpt-4o-mini", 0.01, tier="free", customer="globex")) for i in range(100)]
    plan += [(i * hour, _attrs("math-tutor", GPT4, 0.01, record=r, fingerprint="fp-math")) for i, r in enumerate(math)]
    plan += [(i * 3 * hour, _attrs("private", "acme-private-llm", None)) for i in range(UNPRICED_CALLS)]
    plan += [(i * hour, _attrs("chat", "gpt-4o", 0.5, traffic=sc.TRAFFIC_SHADOW)) for i in range(4)]
    export(url, plan)


def export(url: str, plan: list[tuple[int, dict]]) -> None:
    """Send (nanoseconds ago, attributes) spans through the OTLP exporter; return once all are stored."""
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces"),
                                                   max_export_batch_size=100))
    tracer = provider.get_tracer("dashboard-tests")
    now = time.time_ns() - 120 * 10**9
    for ago, attrs in plan:
        start = now - ago
        span = tracer.start_span(f"chat {attrs[sc.GEN_AI_REQUEST_MODEL]}", kind=SpanKind.CLIENT, start_time=start,
                                 attributes=attrs)
        span.end(end_time=start + 900_000_000)
    assert provider.force_flush(60_000)
    provider.shutdown()
    # wait until every call is stored and rolled up (the service acknowledges only what is stored)
    from tokenproof.client import ServiceClient

    expected = len(plan)
    deadline = time.monotonic() + 60
    while ServiceClient(url).status().llm_calls < expected and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.fixture(scope="session")
def seeded_service(tmp_path_factory, provider):
    # shadow runs replay on the local provider: the service's default proof endpoint
    service = _serve(tmp_path_factory.mktemp("dash-seeded") / "data", provider.base_url_openai)
    try:
        seed(service.url)
        yield service.url
    finally:
        _stop(service)


@pytest.fixture(scope="session")
def empty_service(tmp_path_factory):
    service = _serve(tmp_path_factory.mktemp("dash-empty") / "data")
    try:
        yield service.url
    finally:
        _stop(service)


@pytest.fixture(scope="session")
def provider():
    with run_provider() as handle:
        yield handle
