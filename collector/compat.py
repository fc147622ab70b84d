"""Compatibility with tables the OpenTelemetry Collector ClickHouse exporter (otelcol-contrib) created.

Migration 0010 brings an exporter-created ``otel_traces`` to what tokenproof needs (deduplication
window, the newest layout's ALIAS columns and span-name index). One layout cannot be served: the
exporter's JSON mode (``SpanAttributes JSON``). The LLM-call view reads attributes as strings from a
``Map``, so the store refuses to start on such a table, before any migration touches it, with an
error naming the exporter setting to change. See ``docs/store.md``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["JSON_MODE_MESSAGE", "SELECT_ATTRIBUTE_TYPES", "IncompatibleLayout", "check_exporter_layout"]

SELECT_ATTRIBUTE_TYPES = ("SELECT name, type FROM system.columns WHERE database = currentDatabase() "
                          "AND table = 'otel_traces' AND name IN ('SpanAttributes', 'ResourceAttributes')")

JSON_MODE_MESSAGE = (
    "otel_traces has SpanAttributes of type {type}: it was created by the OpenTelemetry Collector "
    "ClickHouse exporter in its JSON mode (feature gate `clickhouse.json`). tokenproof reads span "
    "attributes from the exporter's default Map(LowCardinality(String), String) layout. Run otelcol-contrib "
    "without `--feature-gates=clickhouse.json` and point it (traces_table_name) and tokenproof at a table "
    "in the default layout, e.g. a new database; nothing was changed in this store")


class IncompatibleLayout(RuntimeError):
    """``otel_traces`` exists in a layout tokenproof cannot read; the message says what to change."""


def check_exporter_layout(store: Any) -> None:
    """Raise ``IncompatibleLayout`` when ``otel_traces`` exists with JSON-typed attributes."""
    types = dict(store.query_rows(SELECT_ATTRIBUTE_TYPES))
    span_type = str(types.get("SpanAttributes", ""))
    if span_type and not span_type.startswith("Map("):
        raise IncompatibleLayout(JSON_MODE_MESSAGE.format(type=span_type))
