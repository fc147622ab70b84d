"""Span rows in the exporter's layout: the ``otel_traces`` INSERT column list and value rendering.

The column list is the compatibility contract with the OpenTelemetry Collector ClickHouse exporter:
rows inserted with ``EXPORTER_COLUMNS`` are what ``otelcol-contrib`` writes. Attribute values are
rendered as the exporter renders them: strings as is, ints in decimal, doubles in shortest form
(integral doubles without ``.0``), bools ``true``/``false``, bytes base64, arrays and kvlists JSON.

``insert_span_columns`` is the one write path for spans (receiver and test helper): it carries an
``insert_deduplication_token`` so a retried batch is stored once, in ``otel_traces`` and in every
table its materialized views fill.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any

__all__ = [
    "EXPORTER_COLUMNS",
    "SPAN_KIND_NAMES",
    "STATUS_CODE_NAMES",
    "dedup_settings",
    "encode_columns",
    "insert_encoded",
    "insert_span_columns",
    "is_data_error",
    "render_double",
    "render_value",
]

EXPORTER_COLUMNS = [
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind", "ServiceName",
    "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes", "Duration", "StatusCode",
    "StatusMessage", "Events.Timestamp", "Events.Name", "Events.Attributes", "Links.TraceId",
    "Links.SpanId", "Links.TraceState", "Links.Attributes",
]

# OTLP enum value -> the exporter's string (pdata's String() of the enum)
SPAN_KIND_NAMES = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"]
STATUS_CODE_NAMES = ["Unset", "Ok", "Error"]


def render_double(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e21:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, float) and not math.isfinite(value):
        return render_double(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def render_value(value: Any) -> str:
    """A Python attribute value as the exporter stores it (map values are strings)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return render_double(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if value is None:
        return ""
    return json.dumps(_jsonable(value), separators=(",", ":"), ensure_ascii=False)


def dedup_settings(token: str | None) -> dict[str, Any]:
    """Insert settings: a retried batch with the same token is stored once, MVs included."""
    settings: dict[str, Any] = {"insert_deduplicate": 1,
                                "deduplicate_blocks_in_dependent_materialized_views": 1}
    if token:
        settings["insert_deduplication_token"] = token
    return settings


def _ts_text(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def encode_columns(columns: list[list[Any]]) -> bytes:
    """Exporter-layout columns as ``JSONCompactColumns`` (one C-speed ``json.dumps``; the engine parses it).

    Timestamps given as epoch nanoseconds become ``seconds.nanoseconds`` text, which DateTime64(9)
    reads exactly.
    """
    cols = list(columns)
    ts = cols[0]
    if ts and isinstance(ts[0], int):
        cols[0] = [_ts_text(t) for t in ts]
    events = cols[15]
    if any(events):
        cols[15] = [[_ts_text(t) if isinstance(t, int) else t for t in e] for e in events]
    return json.dumps(cols, ensure_ascii=False, allow_nan=False).encode("utf-8", "replace")


def insert_encoded(store: Any, data: bytes, token: str | None) -> None:
    """Insert ``encode_columns`` output into ``otel_traces`` with the batch's deduplication token."""
    store.raw_insert("otel_traces", EXPORTER_COLUMNS, data, "JSONCompactColumns", settings=dedup_settings(token))


def insert_span_columns(store: Any, columns: list[list[Any]], token: str | None) -> int:
    """Insert exporter-layout columns (one list per ``EXPORTER_COLUMNS`` entry); returns span count."""
    count = len(columns[0]) if columns else 0
    if count:
        insert_encoded(store, encode_columns(columns), token)
    return count


# ClickHouse error codes that mean "this data cannot be stored" (parsing, types, ranges, too many
# partitions in one block): the same batch fails again, so the receiver answers 400, not 503.
_DATA_ERROR_CODES = frozenset({6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 252, 321, 407})
_CODE = re.compile(r"Code: (\d+)")


def is_data_error(exc: BaseException) -> bool:
    """True when a failed insert was refused for its data (never worth a retry)."""
    match = _CODE.search(str(exc))
    return bool(match) and int(match.group(1)) in _DATA_ERROR_CODES
