"""OTLP trace requests (protobuf or JSON) -> ``otel_traces`` columns in the exporter's layout.

The transform is the hot path of ingest, so it builds the 22 column lists in a single pass over the
decoded protobuf, dispatching each attribute value on its oneof kind through a small table instead of
building intermediate per-span dicts. Values are rendered as the exporter renders them (see
``rows.py``). Spans with invalid ids (trace id not 16 bytes or all zero, span id not 8 bytes or
all zero, parent span id neither empty nor 8 bytes) are rejected individually and counted, as are
spans that fail the checks of ``span_checks`` (times out of range, impossible token counts; a bad
cost is clamped and flagged instead). A span repeated inside one request (same trace and span id)
is stored once, so the hourly rollup never counts it twice.
Attribute values longer than ``max_attribute_chars`` characters are truncated and counted.

The deduplication token of a batch is a BLAKE2b hash over its spans' (trace id, span id) pairs in
order: a retried request (same spans) gets the same token whatever its encoding.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tokenproof.collector.rows import SPAN_KIND_NAMES, STATUS_CODE_NAMES, render_double
from tokenproof.collector.span_checks import check_span

__all__ = ["Batch", "DecodeFailure", "parse_json", "parse_protobuf", "request_to_batch"]

_ZERO16 = bytes(16)
_ZERO8 = bytes(8)


class DecodeFailure(ValueError):
    """The body is not a valid OTLP trace request; the message says why."""


@dataclass
class Batch:
    columns: list[list[Any]]
    accepted: int = 0
    rejected: int = 0
    truncated: int = 0
    token: str = ""
    messages: list[str] = field(default_factory=list)


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    try:
        return ExportTraceServiceRequest.FromString(body)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise DecodeFailure(f"malformed OTLP protobuf: {exc}") from None


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    """OTLP/JSON: ids are hex strings (the spec), enums ints or names, int64 as strings or numbers."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DecodeFailure(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise DecodeFailure("malformed OTLP JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise DecodeFailure("malformed OTLP JSON: the body must be a JSON object")
    try:
        _hex_ids_to_base64(data)
        return json_format.ParseDict(data, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except RecursionError:
        raise DecodeFailure("malformed OTLP JSON: nested too deeply") from None
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise DecodeFailure(f"malformed OTLP JSON: {exc}") from None


def _hex_to_b64(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return base64.b64encode(bytes.fromhex(value)).decode()
    except ValueError:
        raise DecodeFailure(f"malformed OTLP JSON: {where} {value!r} is not hex") from None


def _hex_ids_to_base64(data: dict) -> None:
    # protobuf's JSON mapping expects base64 bytes; OTLP/JSON carries trace and span ids as hex
    for rs in data.get("resourceSpans", data.get("resource_spans")) or []:
        for ss in rs.get("scopeSpans", rs.get("scope_spans")) or []:
            for span in ss.get("spans") or []:
                for key in ("traceId", "trace_id", "spanId", "span_id", "parentSpanId", "parent_span_id"):
                    if key in span:
                        span[key] = _hex_to_b64(span[key], key)
                for link in span.get("links") or []:
                    for key in ("traceId", "trace_id", "spanId", "span_id"):
                        if key in link:
                            link[key] = _hex_to_b64(link[key], key)


def _any_to_python(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_to_python(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_to_python(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind == "double_value":
        d = value.double_value
        return d if d == d and d not in (float("inf"), float("-inf")) else render_double(d)
    return getattr(value, kind)


def _render_any(value: Any) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return str(value.int_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "double_value":
        return render_double(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    if kind is None:
        return ""
    return json.dumps(_any_to_python(value), separators=(",", ":"), ensure_ascii=False)


class _Attrs:
    """Attribute lists -> {key: string}, truncating long values (counts kept on the instance)."""

    __slots__ = ("limit", "truncated")

    def __init__(self, limit: int):
        self.limit = limit
        self.truncated = 0

    def __call__(self, kvs: Any) -> dict[str, str]:
        out: dict[str, str] = {}
        limit = self.limit
        for kv in kvs:
            value = kv.value
            kind = value.WhichOneof("value")
            if kind == "string_value":
                text = value.string_value
                if len(text) > limit:
                    text = text[:limit]
                    self.truncated += 1
            elif kind == "int_value":
                text = str(value.int_value)
            elif kind == "double_value":
                text = render_double(value.double_value)
            elif kind == "bool_value":
                text = "true" if value.bool_value else "false"
            else:
                text = _render_any(value)
                if len(text) > limit:
                    text = text[:limit]
                    self.truncated += 1
            out[kv.key] = text
        return out


def request_to_batch(request: ExportTraceServiceRequest, max_attribute_chars: int = 65536) -> Batch:
    """Exporter-layout columns for every valid span of the request (one pass)."""
    cols: list[list[Any]] = [[] for _ in range(22)]
    (c_ts, c_tid, c_sid, c_psid, c_tstate, c_name, c_kind, c_service, c_res, c_scope, c_scopev, c_attrs,
     c_dur, c_status, c_statusmsg, c_ets, c_ename, c_eattrs, c_ltid, c_lsid, c_ltstate, c_lattrs) = cols
    attrs = _Attrs(max_attribute_chars)
    kinds = SPAN_KIND_NAMES
    statuses = STATUS_CODE_NAMES
    ids: list[bytes] = []
    seen: set[bytes] = set()
    rejected = duplicates = clamped = 0
    messages: list[str] = []
    notes: list[str] = []
    for rs in request.resource_spans:
        resource = attrs(rs.resource.attributes)
        service = resource.get("service.name", "")
        for ss in rs.scope_spans:
            scope = ss.scope
            scope_name, scope_version = scope.name, scope.version
            for span in ss.spans:
                tid = span.trace_id
                sid = span.span_id
                psid = span.parent_span_id
                if len(tid) != 16 or tid == _ZERO16 or len(sid) != 8 or sid == _ZERO8 or (psid and len(psid) != 8):
                    rejected += 1
                    if len(messages) < 3:
                        messages.append(f"span {span.name!r}: invalid trace/span id "
                                        f"(trace_id {tid.hex() or 'empty'}, span_id {sid.hex() or 'empty'})")
                    continue
                key = tid + sid
                if key in seen:
                    duplicates += 1
                    continue
                start = span.start_time_unix_nano
                end = span.end_time_unix_nano
                events = span.events
                span_attrs = attrs(span.attributes)
                reason, note = check_span(start, end, [e.time_unix_nano for e in events] if events else [],
                                          span_attrs)
                if reason is not None:
                    rejected += 1
                    if len(messages) < 3:
                        messages.append(f"span {span.name!r} ({sid.hex()}): {reason}")
                    continue
                if note is not None:
                    clamped += 1
                    if len(notes) < 3:
                        notes.append(f"span {span.name!r} ({sid.hex()}): {note}; stored as unpriced")
                seen.add(key)
                ids.append(tid)
                ids.append(sid)
                c_ts.append(start)
                c_tid.append(tid.hex())
                c_sid.append(sid.hex())
                c_psid.append(psid.hex())
                c_tstate.append(span.trace_state)
                c_name.append(span.name)
                kind = span.kind
                c_kind.append(kinds[kind] if 0 <= kind < 6 else "Unspecified")
                c_service.append(service)
                c_res.append(resource)
                c_scope.append(scope_name)
                c_scopev.append(scope_version)
                c_attrs.append(span_attrs)
                c_dur.append(end - start if end > start else 0)
                status = span.status
                code = status.code
                c_status.append(statuses[code] if 0 <= code < 3 else "Unset")
                c_statusmsg.append(status.message)
                if events:
                    c_ets.append([e.time_unix_nano for e in events])
                    c_ename.append([e.name for e in events])
                    c_eattrs.append([attrs(e.attributes) for e in events])
                else:
                    c_ets.append([])
                    c_ename.append([])
                    c_eattrs.append([])
                links = span.links
                if links:
                    c_ltid.append([link.trace_id.hex() for link in links])
                    c_lsid.append([link.span_id.hex() for link in links])
                    c_ltstate.append([link.trace_state for link in links])
                    c_lattrs.append([attrs(link.attributes) for link in links])
                else:
                    c_ltid.append([])
                    c_lsid.append([])
                    c_ltstate.append([])
                    c_lattrs.append([])
    accepted = len(c_ts)
    token = ""
    if accepted:
        digest = hashlib.blake2b(b"".join(ids), digest_size=20)
        token = f"otlp-{accepted}-{digest.hexdigest()}"
    if rejected > 3:
        messages.append(f"{rejected - 3} more span(s) rejected")
    messages.extend(notes)
    if clamped > len(notes):
        messages.append(f"{clamped - len(notes)} more span(s) with an invalid cost stored as unpriced")
    if duplicates:
        messages.append(f"{duplicates} duplicate span(s) in the batch (same trace and span id) stored once")
    if attrs.truncated:
        messages.append(f"{attrs.truncated} attribute value(s) longer than {max_attribute_chars} "
                        "characters were truncated")
    return Batch(cols, accepted, rejected, attrs.truncated, token, messages)


def decode_to_json(ctype_is_json: bool, body: bytes, max_attribute_chars: int) -> tuple[bytes, int, int, int, str, list[str]]:
    """Body -> (JSONCompactColumns bytes, accepted, rejected, truncated, token, messages).

    A top-level function so the receiver can run it in worker processes (picklable in and out).
    """
    from tokenproof.collector.rows import encode_columns

    request = parse_json(body) if ctype_is_json else parse_protobuf(body)
    try:
        batch = request_to_batch(request, max_attribute_chars)
    except RecursionError:
        raise DecodeFailure("malformed OTLP request: attribute values nested too deeply") from None
    data = encode_columns(batch.columns) if batch.accepted else b""
    return data, batch.accepted, batch.rejected, batch.truncated, batch.token, batch.messages
