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
from typing import Any, Iterable

from tokenproof.collector.rows import insert_span_columns, render_value

__all__ = ["insert_spans", "span_columns"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _ns(value: Any) -> int:
    if value is None:
        return time.time_ns()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
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
        for col, value in zip(cols, values):
            col.append(value)
        ids.append((trace_id, span_id))
    return cols, ids


def insert_spans(store: Any, spans: Iterable[dict[str, Any]], token: str | None = None) -> list[tuple[str, str]]:
    """Insert span dicts into ``otel_traces`` as the exporter would; returns their ids."""
    cols, ids = span_columns(spans)
    insert_span_columns(store, cols, token)
    return ids
