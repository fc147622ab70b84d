"""Test helper for every area: put GenAI spans into a store exactly as the exporter would.

``insert_spans(store, spans)`` takes simple dicts and writes ``otel_traces`` rows with the
OpenTelemetry Collector ClickHouse exporter's column list, so the materialized views fill
``llm_calls`` and ``llm_calls_hourly`` as they do for real traffic. Keys of a span dict (all
optional)::

    timestamp        datetime (naive = UTC), epoch seconds (float) or epoch ns (int > 1e15); now
    service          service.name (default "test-service")
    name             span name (default "{operation} {request model}")
    trace_id, span_id, parent_span_id   hex strings (random when missing)
    kind             "Client" (default), "Internal", ...
    duration_ns / duration_ms   (default 1 s)
    status           "Unset" (default) | "Ok" | "Error";  status_message
    attributes       {name: value} - values rendered as the exporter does (ints, bools, lists...)
    resource         extra resource attributes;  scope_name, scope_version
    events           [{"timestamp":..., "name": str, "attributes": {...}}]

Returns the list of (trace_id, span_id) inserted. Use ``tokenproof.semconv`` names in attributes.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterable
from typing import Any

from tokenproof.collector.rows import insert_span_columns, render_value

__all__ = ["insert_spans", "span_columns"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _ns(value: Any) -> int:
    if value is None:
        return time.time_ns()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(value, int) and value > 10**15:
        return value
    return int(float(value) * 1_000_000_000)


def _ts(ns: int) -> int:
    return ns  # DateTime64(9) takes epoch nanoseconds as is (no time-zone guesswork)


def _attrs(values: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): render_value(v) for k, v in (values or {}).items() if v is not None}


def span_columns(spans: Iterable[dict[str, Any]]) -> tuple[list[list[Any]], list[tuple[str, str]]]:
    """Exporter-layout columns for span dicts, and their (trace_id, span_id)."""
    cols: list[list[Any]] = [[] for _ in range(22)]
    ids: list[tuple[str, str]] = []
    for span in spans:
        attributes = _attrs(span.get("attributes"))
        service = span.get("service", "test-service")
        resource = {"service.name": service, **_attrs(span.get("resource"))}
        trace_id = span.get("trace_id") or os.urandom(16).hex()
        span_id = span.get("span_id") or os.urandom(8).hex()
        name = span.get("name") or " ".join(
            p for p in (attributes.get("gen_ai.operation.name"), attributes.get("gen_ai.request.model")) if p)
        duration = span.get("duration_ns")
        if duration is None:
            duration = int(span.get("duration_ms", 1000) * 1_000_000)
        events = span.get("events") or []
        values = [
            _ts(_ns(span.get("timestamp"))), trace_id, span_id, span.get("parent_span_id", ""),
            span.get("trace_state", ""), name or "span", span.get("kind", "Client"), service, resource,
            span.get("scope_name", "tokenproof.instrumentation"), span.get("scope_version", ""),
            attributes, int(duration), span.get("status", "Unset"), span.get("status_message", ""),
            [_ts(_ns(e.get("timestamp"))) for e in events], [e.get("name", "") for e in events],
            [_attrs(e.get("attributes")) for e in events], [], [], [], [],
        ]
        for col, value in zip(cols, values, strict=False):
            col.append(value)
        ids.append((trace_id, span_id))
    return cols, ids


def insert_spans(store: Any, spans: Iterable[dict[str, Any]], token: str | None = None) -> list[tuple[str, str]]:
    """Insert span dicts into ``otel_traces`` as the exporter would; returns their ids."""
    cols, ids = span_columns(spans)
    insert_span_columns(store, cols, token)
    return ids


def genai_request(n_spans: int, *, service: str = "bench-app", seed: int = 0, start_ns: int | None = None):
    """An OTLP ``ExportTraceServiceRequest`` of realistic GenAI spans (~25 attributes each).

    Ids are derived from ``seed`` so two calls with the same arguments build the same request.
    """
    import random

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

    rnd = random.Random(seed)
    start_ns = start_ns if start_ns is not None else time.time_ns() - 3600 * 10**9
    models = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"),
              ("anthropic", "claude-haiku-4-5")]
    features = ["search", "summarise", "chatbot", "extract", "classify"]

    def kv(key: str, value: Any) -> KeyValue:
        if isinstance(value, bool):
            return KeyValue(key=key, value=AnyValue(bool_value=value))
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        if isinstance(value, float):
            return KeyValue(key=key, value=AnyValue(double_value=value))
        if isinstance(value, list):
            from opentelemetry.proto.common.v1.common_pb2 import ArrayValue
            return KeyValue(key=key, value=AnyValue(array_value=ArrayValue(
                values=[AnyValue(string_value=v) for v in value])))
        return KeyValue(key=key, value=AnyValue(string_value=str(value)))

    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for key, value in (("service.name", service), ("service.version", "1.4.2"),
                       ("deployment.environment.name", "prod"), ("telemetry.sdk.language", "python"),
                       ("telemetry.sdk.name", "opentelemetry"), ("telemetry.sdk.version", "1.38.0")):
        rs.resource.attributes.append(kv(key, value))
    ss = rs.scope_spans.add()
    ss.scope.name = "tokenproof.instrumentation"
    ss.scope.version = "0.1.0"
    for i in range(n_spans):
        provider, model = models[rnd.randrange(len(models))]
        inp, out = rnd.randint(50, 8000), rnd.randint(10, 1500)
        cache = rnd.choice([0, 0, inp // 2])
        span = ss.spans.add()
        span.trace_id = rnd.getrandbits(128).to_bytes(16, "big")
        span.span_id = rnd.getrandbits(64).to_bytes(8, "big")
        span.parent_span_id = rnd.getrandbits(64).to_bytes(8, "big")
        span.name = f"chat {model}"
        span.kind = Span.SPAN_KIND_CLIENT
        span.start_time_unix_nano = start_ns + i * 1_000_000
        span.end_time_unix_nano = span.start_time_unix_nano + rnd.randint(200, 9000) * 1_000_000
        span.status.code = Status.STATUS_CODE_OK if rnd.random() > 0.02 else Status.STATUS_CODE_ERROR
        attributes = [
            ("gen_ai.operation.name", "chat"), ("gen_ai.provider.name", provider),
            ("gen_ai.request.model", model), ("gen_ai.response.model", model + "-2025-01-01"),
            ("gen_ai.request.max_tokens", 2048), ("gen_ai.request.temperature", 0.2),
            ("gen_ai.request.stream", rnd.random() < 0.3), ("gen_ai.response.id", f"resp_{rnd.getrandbits(64):x}"),
            ("gen_ai.response.finish_reasons", ["stop"]), ("gen_ai.usage.input_tokens", inp),
            ("gen_ai.usage.output_tokens", out), ("gen_ai.usage.cache_read.input_tokens", cache),
            ("gen_ai.usage.reasoning.output_tokens", 0), ("gen_ai.usage.cost", round(inp * 2.5e-6 + out * 1e-5, 8)),
            ("tokenproof.cost.currency", "USD"), ("tokenproof.cost.status", "priced"),
            ("tokenproof.usage.source", "provider"), ("tokenproof.price.version", "genai-prices 0.0.40"),
            ("tokenproof.price.source", "genai-prices"), ("tokenproof.feature", features[i % len(features)]),
            ("tokenproof.tier", rnd.choice(["free", "pro", "enterprise"])),
            ("tokenproof.customer", f"cust-{rnd.randrange(500)}"),
            ("tokenproof.prompt.fingerprint", f"{rnd.getrandbits(32):08x}"),
            ("server.address", "api.example.com"), ("server.port", 443),
        ]
        span.attributes.extend(kv(k, v) for k, v in attributes)
    return request


class ServiceThread:
    """The real service app (uvicorn, loopback, port 0) around an open store, in a thread: for tests
    of clients that reach the service over HTTP (CLI commands, the instrumentation's router)."""

    def __init__(self, store: Any, **app_kwargs: Any) -> None:
        import socket
        import threading

        import uvicorn

        from tokenproof.collector.app import create_app

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(create_app(store, **app_kwargs), log_level="warning",
                                                    timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started, "service did not start"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def routes_url(self) -> str:
        return f"{self.url}/api/v1/routing/routes"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def open_test_store(data_dir: Any) -> Any:
    """A test store in ``data_dir``, or in the directory chDB already holds open in this process.

    chDB hosts one engine directory per process: when another area's module-scoped fixture still
    holds it (any test order), the store opens on that directory instead, and the caller's fixture
    empties the tables it uses. Closing is the caller's (``store.close()``)."""
    import re

    from tokenproof.collector.store import Store, StoreError

    try:
        return Store.open(data_dir=data_dir)
    except StoreError as exc:
        held = re.search(r"initialized with path '([^']+)'", str(exc))
        if held is None:
            raise
        return Store.open(data_dir=held.group(1))
