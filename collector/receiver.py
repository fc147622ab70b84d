"""OTLP/HTTP receiver: ``POST /v1/traces`` (stored), ``/v1/metrics`` and ``/v1/logs`` (checked, dropped).

Follows the OTLP/HTTP specification:

- bodies ``application/x-protobuf`` or ``application/json``, optionally ``Content-Encoding: gzip``;
  any other content type -> 415; the response uses the request's content type;
- success -> 200 with an ``Export*ServiceResponse``; spans rejected individually (invalid trace or
  span id) are reported in ``partial_success`` (rejected count and message) while the valid ones are
  stored; a request whose spans are all invalid -> 400 and nothing is stored;
- bad requests (malformed body, body over ``max_body_bytes`` compressed or decompressed: 413) -> 4xx
  with a ``google.rpc.Status`` body whose message says what is wrong; never retried by exporters;
- overload (requests or bytes in flight over their bounds) -> 503 / 429 with ``Retry-After``; a store
  failure -> 503 with ``Retry-After`` (the exporter retries; the batch is deduplicated on retry).

A 200 is sent only after the insert returned, i.e. the spans are in the store's parts on disk.
Metrics and logs are read (bounded like traces), parsed (garbage gets 400) and dropped by design: tokenproof derives its
numbers from spans, and accepting them keeps a default ``opentelemetry-instrument`` setup free of
export errors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import zlib

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tokenproof.collector.auth import check_bearer
from tokenproof.collector.backpressure import Overloaded
from tokenproof.collector.otlp_decode import DecodeFailure, decode_to_json
from tokenproof.collector.rows import insert_encoded, is_data_error

__all__ = ["ClientError", "router"]

log = logging.getLogger("tokenproof.collector")
router = APIRouter()

BODY_READ_TIMEOUT_S = 10.0  # default of the setting body_read_timeout_seconds
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class ClientError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _status_response(status: int, message: str, ctype: str | None, headers: dict[str, str] | None = None) -> Response:
    grpc_code = {400: 3, 401: 16, 408: 4, 413: 8, 415: 3, 429: 8, 503: 14}.get(status, 2)
    if ctype == PROTOBUF:
        body = status_pb2.Status(code=grpc_code, message=message).SerializeToString()
        return Response(body, status_code=status, media_type=PROTOBUF, headers=headers)
    return Response(json.dumps({"code": grpc_code, "message": message}), status_code=status,
                    media_type=JSON, headers=headers)


def _content_type(request: Request) -> str:
    raw = request.headers.get("content-type", "")
    ctype = raw.split(";", 1)[0].strip().lower()
    if ctype not in (PROTOBUF, JSON):
        raise ClientError(415, f"unsupported Content-Type {raw or '(none)'!r}: send {PROTOBUF} or {JSON}")
    return ctype


async def _read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ClientError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
        except ValueError:
            raise ClientError(400, "invalid Content-Length") from None
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):  # a slow sender must not hold its place forever
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ClientError(413, f"request body is over the limit of {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ClientError(408, f"request body not received within {timeout_s:g} s") from None
    return b"".join(chunks)


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding != "gzip":
        raise ClientError(415, f"unsupported Content-Encoding {encoding!r}: send gzip or none")
    parts: list[bytes] = []
    size = 0
    rest = body
    while True:  # a gzip body may hold several members (RFC 1952): read them all
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = inflater.decompress(rest, limit + 1 - size)
        except zlib.error as exc:
            raise ClientError(400, f"malformed gzip body: {exc}") from None
        size += len(out)
        if size > limit or inflater.unconsumed_tail:
            raise ClientError(413, f"decompressed body is over the limit of {limit} bytes")
        if not inflater.eof:
            raise ClientError(400, "malformed gzip body: truncated stream")
        parts.append(out)
        rest = inflater.unused_data
        if not rest:
            return b"".join(parts)


async def _admitted_body(request: Request) -> tuple[str, bytes]:
    """Check auth and content type, read and decompress the body (within the read timeout)."""
    state = request.app.state
    token = state.tokens.get("ingest_token") if hasattr(state, "tokens") else ""
    if token and not check_bearer(request, token):
        raise ClientError(401, "missing or wrong bearer token (ingest_token)", {"WWW-Authenticate": "Bearer"})
    ctype = _content_type(request)
    limit = state.limits["max_body_bytes"]
    body = await _read_body(request, limit, state.limits.get("body_read_timeout_s", BODY_READ_TIMEOUT_S))
    return ctype, _decompress(body, request.headers.get("content-encoding", ""), limit)


async def _guarded(request: Request, handler) -> Response:
    """Reserve bytes and a reader place, read the body, then take a decode/insert slot."""
    admission = request.app.state.admission
    client = request.client.host if request.client else ""
    ctype = None
    try:
        ctype = _content_type(request)
        admission.start_reading(client)
    except ClientError as exc:
        return _status_response(exc.status, exc.message, None, exc.headers)
    except Overloaded as exc:
        return _status_response(exc.status, exc.reason, ctype, {"Retry-After": str(exc.retry_after)})
    reserved = 0
    reading = True
    try:
        declared = request.headers.get("content-length")
        reserved = int(declared) if declared and declared.isdigit() else 0
        reserved = min(reserved, request.app.state.limits["max_body_bytes"])
        admission.reserve(reserved)
        try:
            ctype, body = await _admitted_body(request)
            admission.stop_reading(client)
            reading = False
            admission.enter()
            try:
                return await handler(request, admission, reserved, ctype, body)
            finally:
                admission.leave()
        finally:
            admission.release(reserved)
    except ClientError as exc:
        return _status_response(exc.status, exc.message, ctype, exc.headers)
    except Overloaded as exc:
        return _status_response(exc.status, exc.reason, ctype, {"Retry-After": str(exc.retry_after)})
    finally:
        if reading:
            admission.stop_reading(client)


async def _traces(request: Request, admission, reserved: int, ctype: str, body: bytes) -> Response:
    extra = max(0, len(body) - reserved)
    admission.reserve(extra)
    try:
        return await _store_traces(request, ctype, body)
    finally:
        admission.release(extra)


async def _decode(request: Request, ctype: str, body: bytes):
    state = request.app.state
    args = (ctype == JSON, body, state.limits["max_attribute_chars"])
    pool = getattr(state, "decode_pool", None)
    if pool is None:
        return await run_in_threadpool(decode_to_json, *args)
    return await asyncio.get_running_loop().run_in_executor(pool, decode_to_json, *args)


# Test hook for the crash-consistency test (docs/ingest.md): when this variable names one of the
# views below, the next batch is stored with that view detached, i.e. exactly as far as a crash right
# after the raw insert would have stored it, and the process then kills itself with SIGKILL. A
# non-permanent DETACH is undone when the store is opened again.
CRASH_HOOK_ENV = "TOKENPROOF_TEST_CRASH_AFTER_RAW_INSERT"
CRASH_HOOK_VIEWS = ("llm_calls_hourly_mv", "llm_calls_mv")


def _insert_then_die(store, data: bytes, token: str, view: str) -> None:
    store.command(f"DETACH TABLE {view}")  # a name from CRASH_HOOK_VIEWS, never request input
    insert_encoded(store, data, token)
    os.kill(os.getpid(), signal.SIGKILL)


async def _store_traces(request: Request, ctype: str, body: bytes) -> Response:
    state = request.app.state
    try:
        data, accepted, rejected, _truncated, token, messages = await _decode(request, ctype, body)
    except DecodeFailure as exc:
        raise ClientError(400, str(exc)) from None
    if accepted == 0 and rejected:
        raise ClientError(400, f"all {rejected} spans rejected: " + "; ".join(messages))
    if accepted:
        try:
            crash_view = os.environ.get(CRASH_HOOK_ENV)
            if crash_view in CRASH_HOOK_VIEWS:  # tests only: see CRASH_HOOK_ENV
                await run_in_threadpool(_insert_then_die, state.store, data, token, crash_view)
            await run_in_threadpool(insert_encoded, state.store, data, token)
        except Exception as exc:  # the store failed: the exporter retries, the retry is deduplicated
            log.exception("inserting %d spans failed", accepted)
            state.stats["insert_errors"] += 1
            if is_data_error(exc):  # the same batch would fail again: never ask for a retry
                raise ClientError(400, f"the store refused the spans' data: {str(exc)[:300]}") from None
            return _status_response(503, f"the store could not take the spans, retry later ({type(exc).__name__})",
                                    ctype, {"Retry-After": "2"})
    state.stats["spans_accepted"] += accepted
    state.stats["spans_rejected"] += rejected
    state.stats["requests"] += 1
    message = "; ".join(messages)
    response = ExportTraceServiceResponse()
    if rejected or messages:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if ctype == PROTOBUF:
        return Response(response.SerializeToString(), media_type=PROTOBUF)
    payload: dict = {}
    if rejected or messages:
        payload["partialSuccess"] = {"rejectedSpans": str(rejected), "errorMessage": message}
    return Response(json.dumps(payload), media_type=JSON)


_SIGNALS = {"/v1/metrics": ExportMetricsServiceRequest, "/v1/logs": ExportLogsServiceRequest}


def _check_signal(message_type, ctype: str, body: bytes) -> None:
    """Parse a metrics or logs request (then dropped): garbage gets 400 like on /v1/traces."""
    try:
        if ctype == PROTOBUF:
            message_type.FromString(body)
        else:
            json_format.Parse(body or b"{}", message_type(), ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, ValueError, TypeError, RuntimeError) as exc:
        kind = "protobuf" if ctype == PROTOBUF else "JSON"
        raise ClientError(400, f"malformed OTLP {kind}: {str(exc)[:200]}") from None


async def _drop(request: Request, admission, reserved: int, ctype: str, body: bytes) -> Response:
    await run_in_threadpool(_check_signal, _SIGNALS[request.url.path], ctype, body)
    if ctype == PROTOBUF:
        return Response(b"", media_type=PROTOBUF)
    return Response("{}", media_type=JSON)


@router.post("/v1/traces")
async def post_traces(request: Request) -> Response:
    return await _guarded(request, _traces)


@router.post("/v1/metrics")
async def post_metrics(request: Request) -> Response:
    """Accepted and dropped (see module docstring)."""
    return await _guarded(request, _drop)


@router.post("/v1/logs")
async def post_logs(request: Request) -> Response:
    """Accepted and dropped (see module docstring)."""
    return await _guarded(request, _drop)
