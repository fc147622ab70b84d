"""The OTLP/HTTP receiver on the real app and the real embedded store (in-process HTTP client)."""

from __future__ import annotations

import gzip
import json

import pytest
from fastapi.testclient import TestClient
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tokenproof.collector.app import create_app
from tokenproof.collector.testing import genai_request

PB = {"Content-Type": "application/x-protobuf"}


@pytest.fixture()
def client(store):
    with TestClient(create_app(store, ingest_token="", api_token="", max_body_bytes=1024 * 1024,
                               max_attribute_chars=4096)) as c:
        yield c


def _count(store, table="otel_traces"):
    return store.query_rows(f"SELECT count() FROM {table}")[0][0]


def _error_message(response) -> str:
    if response.headers["content-type"].startswith("application/x-protobuf"):
        return status_pb2.Status.FromString(response.content).message
    return response.json()["message"]


def test_protobuf_request_is_stored_and_typed(client, store):
    response = client.post("/v1/traces", content=genai_request(50, seed=1).SerializeToString(), headers=PB)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")
    assert _count(store) == 50
    assert store.query_rows("SELECT count(), countIf(Priced = 1), min(InputTokens) > 0 FROM llm_calls FINAL") == [(50, 50, 1)]
    status = client.get("/api/v1/status").json()
    assert status["spans"] == 50 and status["llm_calls"] == 50
    assert status["store"]["kind"] == "embedded"


def test_gzip_body_is_accepted(client, store):
    body = gzip.compress(genai_request(20, seed=2).SerializeToString())
    response = client.post("/v1/traces", content=body, headers={**PB, "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert _count(store) == 20


def test_json_body_with_hex_ids_is_accepted(client, store):
    payload = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-app"}}]},
        "scopeSpans": [{"scope": {"name": "manual"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "chat gpt-4o", "kind": 3,
            "startTimeUnixNano": "1794000000000000000", "endTimeUnixNano": "1794000001500000000",
            "attributes": [
                {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
                {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "321"}},
                {"key": "gen_ai.usage.cost", "value": {"doubleValue": 0.5}},
                {"key": "tokenproof.cost.status", "value": {"stringValue": "priced"}},
                {"key": "gen_ai.request.stream", "value": {"boolValue": True}},
                {"key": "gen_ai.response.finish_reasons", "value": {"arrayValue": {"values": [{"stringValue": "stop"}]}}},
            ]}]}]}]}
    response = client.post("/v1/traces", content=json.dumps(payload), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {}
    row = store.query_dicts("SELECT TraceId, SpanId, SpanKind, ServiceName, Duration, SpanAttributes FROM otel_traces")[0]
    assert row["TraceId"] == "5b8efff798038103d269b633813fc60c" and row["SpanId"] == "eee19b7ec3c1b174"
    assert (row["SpanKind"], row["ServiceName"], row["Duration"]) == ("Client", "json-app", 1_500_000_000)
    attrs = row["SpanAttributes"]
    assert attrs["gen_ai.usage.input_tokens"] == "321" and attrs["gen_ai.usage.cost"] == "0.5"
    assert attrs["gen_ai.request.stream"] == "true" and attrs["gen_ai.response.finish_reasons"] == '["stop"]'
    assert store.query_rows("SELECT InputTokens, CostUSD, Priced, Streamed FROM llm_calls") == [(321, 0.5, 1, 1)]


def test_same_request_twice_is_stored_once(client, store):
    body = genai_request(30, seed=3).SerializeToString()
    for _ in range(3):
        assert client.post("/v1/traces", content=body, headers=PB).status_code == 200
    # the same spans re-encoded as gzip are still the same batch
    assert client.post("/v1/traces", content=gzip.compress(body), headers={**PB, "Content-Encoding": "gzip"}).status_code == 200
    assert _count(store) == 30
    assert _count(store, "llm_calls") == 30
    assert store.query_rows("SELECT sum(Calls) FROM llm_calls_hourly") == [(30,)]
    status = client.get("/api/v1/status", params={"exact": "true"}).json()
    assert status["spans"] == status["distinct_spans"] == 30


@pytest.mark.parametrize("headers, body, status, words", [
    ({"Content-Type": "text/plain"}, b"hello", 415, "Content-Type"),
    ({}, b"hello", 415, "Content-Type"),
    (PB, b"\xff\xff\xff\xff garbage", 400, "malformed OTLP protobuf"),
    ({"Content-Type": "application/json"}, b"{not json", 400, "malformed JSON"),
    ({"Content-Type": "application/json"}, b"[1, 2]", 400, "JSON object"),
    ({"Content-Type": "application/json"}, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', 400, "not hex"),
    ({**PB, "Content-Encoding": "gzip"}, b"not gzip at all", 400, "gzip"),
    ({**PB, "Content-Encoding": "br"}, b"x", 415, "Content-Encoding"),
])
def test_bad_input_is_refused_with_a_message_and_nothing_stored(client, store, headers, body, status, words):
    response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == status
    assert words in _error_message(response)
    assert _count(store) == 0
    # the service keeps serving
    assert client.post("/v1/traces", content=genai_request(2, seed=4).SerializeToString(), headers=PB).status_code == 200


def test_body_over_the_limit_is_413(client, store):
    body = genai_request(1500, seed=5).SerializeToString()
    assert len(body) > 1024 * 1024
    response = client.post("/v1/traces", content=body, headers=PB)
    assert response.status_code == 413
    assert "limit" in _error_message(response)
    assert _count(store) == 0


def test_gzip_bomb_is_413(client, store):
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    assert len(bomb) < 1024 * 1024
    response = client.post("/v1/traces", content=bomb, headers={**PB, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert "decompressed" in _error_message(response)


def test_invalid_ids_are_rejected_per_span(client, store):
    request = genai_request(5, seed=6)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\0" * 16
    spans[1].span_id = b"short"
    response = client.post("/v1/traces", content=request.SerializeToString(), headers=PB)
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 2
    assert "invalid trace/span id" in partial.error_message
    assert _count(store) == 3


def test_request_with_only_invalid_spans_is_400(client, store):
    request = genai_request(2, seed=7)
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.trace_id = b""
    response = client.post("/v1/traces", content=request.SerializeToString(), headers=PB)
    assert response.status_code == 400
    assert "all 2 spans rejected" in _error_message(response)
    assert _count(store) == 0


def test_oversized_attribute_value_is_truncated_and_reported(client, store):
    request = genai_request(1, seed=8)
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.add(key="gen_ai.input.messages").value.string_value = "x" * 10_000
    response = client.post("/v1/traces", content=request.SerializeToString(), headers=PB)
    assert response.status_code == 200
    partial = ExportTraceServiceResponse.FromString(response.content).partial_success
    assert partial.rejected_spans == 0 and "truncated" in partial.error_message
    assert store.query_rows("SELECT length(SpanAttributes['gen_ai.input.messages']) FROM otel_traces") == [(4096,)]


def test_metrics_and_logs_are_accepted_and_dropped(client, store):
    for path in ("/v1/metrics", "/v1/logs"):
        assert client.post(path, content=b"", headers=PB).status_code == 200
        assert client.post(path, content=b"{}", headers={"Content-Type": "application/json"}).status_code == 200
        assert client.post(path, content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415


def test_ingest_token_is_required_when_set(store):
    app = create_app(store, ingest_token="s3cret", api_token="")
    with TestClient(app) as c:
        body = genai_request(3, seed=9).SerializeToString()
        assert c.post("/v1/traces", content=body, headers=PB).status_code == 401
        assert c.post("/v1/traces", content=body, headers={**PB, "Authorization": "Bearer wrong"}).status_code == 401
        assert c.post("/v1/traces", content=body, headers={**PB, "Authorization": "Bearer s3cret"}).status_code == 200
    assert _count(store) == 3


def test_decoding_in_worker_processes_gives_the_same_answers(store):
    with TestClient(create_app(store, ingest_token="", api_token="", ingest_workers=1)) as c:
        assert c.post("/v1/traces", content=genai_request(10, seed=11).SerializeToString(), headers=PB).status_code == 200
        bad = c.post("/v1/traces", content=b"\xff\xff garbage", headers=PB)
        assert bad.status_code == 400 and "malformed OTLP protobuf" in _error_message(bad)
    assert _count(store) == 10
