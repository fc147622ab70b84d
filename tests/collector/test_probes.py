"""Probes of the OTLP receiver: bad input gets a clear answer, the valid rest of a batch is stored.

Every probe sends what a buggy or hostile sender could send and checks two things a user would
notice: the answer (status, OTLP partial success, message) and what the store holds afterwards.
A new ingest path should get its probes here.
"""

from __future__ import annotations

import gzip
import json

import pytest
from fastapi.testclient import TestClient
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from tokenproof.collector.app import create_app
from tokenproof.collector.testing import genai_request

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


@pytest.fixture()
def client(store):
    with TestClient(create_app(store, ingest_token="", api_token="", max_body_bytes=1024 * 1024)) as c:
        yield c


def _counts(store) -> tuple[int, int, int]:
    spans = store.query_rows("SELECT count() FROM otel_traces")[0][0]
    calls = store.query_rows("SELECT count() FROM llm_calls FINAL")[0][0]
    rollup = store.query_rows("SELECT sum(Calls) FROM llm_calls_hourly")[0][0] or 0
    return int(spans), int(calls), int(rollup)


def _set_attr(span, key: str, value: AnyValue) -> None:
    for kv in span.attributes:
        if kv.key == key:
            kv.value.CopyFrom(value)
            return
    span.attributes.append(KeyValue(key=key, value=value))


def _partial(response) -> ExportTraceServiceResponse:
    assert response.status_code == 200, response.content
    return ExportTraceServiceResponse.FromString(response.content)


BAD_SPANS = {
    "start time zero": lambda s: setattr(s, "start_time_unix_nano", 0),
    "start time past DateTime64": lambda s: setattr(s, "start_time_unix_nano", 2**64 - 1),
    "event time zero": lambda s: s.events.add(name="e", time_unix_nano=0),
    "negative tokens": lambda s: _set_attr(s, "gen_ai.usage.input_tokens", AnyValue(int_value=-5)),
    "int64-max tokens": lambda s: _set_attr(s, "gen_ai.usage.output_tokens", AnyValue(int_value=2**63 - 1)),
    "string tokens": lambda s: _set_attr(s, "gen_ai.usage.input_tokens", AnyValue(string_value="lots")),
    "fractional tokens": lambda s: _set_attr(s, "gen_ai.usage.input_tokens", AnyValue(double_value=1.5)),
}


@pytest.mark.parametrize("probe", list(BAD_SPANS))
def test_one_bad_span_is_rejected_alone(client, store, probe):
    request = genai_request(5, seed=11)
    bad = request.resource_spans[0].scope_spans[0].spans[2]
    BAD_SPANS[probe](bad)
    answer = _partial(client.post("/v1/traces", content=request.SerializeToString(), headers=PB))
    assert answer.partial_success.rejected_spans == 1
    assert bad.span_id.hex() in answer.partial_success.error_message
    assert _counts(store) == (4, 4, 4)
    stored = {row[0] for row in store.query_rows("SELECT SpanId FROM otel_traces")}
    assert bad.span_id.hex() not in stored


def test_bad_span_in_json_gets_partial_success_too(client, store):
    request = genai_request(3, seed=12)
    request.resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano = 0
    from google.protobuf import json_format
    payload = json_format.MessageToDict(request)
    for span in payload["resourceSpans"][0]["scopeSpans"][0]["spans"]:  # OTLP/JSON ids are hex
        for key in ("traceId", "spanId", "parentSpanId"):
            import base64
            span[key] = base64.b64decode(span[key]).hex()
    response = client.post("/v1/traces", content=json.dumps(payload), headers=JS)
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1" and "start_time_unix_nano" in partial["errorMessage"]
    assert _counts(store) == (2, 2, 2)


def test_a_batch_of_only_bad_spans_is_400_not_retryable(client, store):
    request = genai_request(2, seed=13)
    for span in request.resource_spans[0].scope_spans[0].spans:
        span.start_time_unix_nano = 0
    response = client.post("/v1/traces", content=request.SerializeToString(), headers=PB)
    assert response.status_code == 400
    assert "all 2 spans rejected" in status_pb2.Status.FromString(response.content).message
    assert _counts(store) == (0, 0, 0)


@pytest.mark.parametrize("cost", [AnyValue(double_value=float("nan")), AnyValue(double_value=float("inf")),
                                  AnyValue(double_value=-1.0), AnyValue(double_value=1e300),
                                  AnyValue(string_value="NaN")])
def test_poisoned_cost_is_stored_unpriced_and_flagged(client, store, cost):
    request = genai_request(3, seed=14)
    bad = request.resource_spans[0].scope_spans[0].spans[1]
    _set_attr(bad, "gen_ai.usage.cost", cost)
    answer = _partial(client.post("/v1/traces", content=request.SerializeToString(), headers=PB))
    assert answer.partial_success.rejected_spans == 0
    assert "stored as unpriced" in answer.partial_success.error_message
    assert _counts(store) == (3, 3, 3)
    rows = store.query_rows("SELECT SpanId, Priced, CostUSD FROM llm_calls FINAL ORDER BY SpanId")
    by_id = {sid: (priced, cost_usd) for sid, priced, cost_usd in rows}
    assert by_id[bad.span_id.hex()] == (0, 0.0)
    assert all(priced == 1 and 0 < c < 1 for sid, (priced, c) in by_id.items() if sid != bad.span_id.hex())
    total = store.query_rows("SELECT sum(CostUSD), sum(UnpricedCalls) FROM llm_calls_hourly")[0]
    assert 0 < total[0] < 1 and total[1] == 1


def test_same_span_twice_in_one_batch_counts_once_in_the_rollup(client, store):
    request = genai_request(3, seed=15)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans.add().CopyFrom(spans[0])
    answer = _partial(client.post("/v1/traces", content=request.SerializeToString(), headers=PB))
    assert answer.partial_success.rejected_spans == 0
    assert "duplicate" in answer.partial_success.error_message
    assert _counts(store) == (3, 3, 3)
    by_feature = store.query_rows("SELECT count() FROM llm_calls_hourly GROUP BY Feature HAVING sum(Calls) > 1")
    assert by_feature == []


def test_gzip_body_with_two_members_is_read_whole(client, store):
    first, second = genai_request(2, seed=16), genai_request(3, seed=17)
    # two gzip members of one protobuf body: protobuf concatenation merges the repeated fields
    body = gzip.compress(first.SerializeToString()) + gzip.compress(second.SerializeToString())
    response = client.post("/v1/traces", content=body, headers={**PB, "Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert _counts(store)[0] == 5


@pytest.mark.parametrize("path", ["/v1/metrics", "/v1/logs"])
@pytest.mark.parametrize("headers", [PB, JS])
def test_garbage_metrics_and_logs_get_400(client, path, headers):
    response = client.post(path, content=b"\xff\x00 this is not OTLP {", headers=headers)
    assert response.status_code == 400
    ok = client.post(path, content=b"{}" if headers is JS else b"", headers=headers)
    assert ok.status_code == 200


@pytest.mark.parametrize("depth", [5000, 150])  # deeper than json.loads can take; than protobuf can
def test_deeply_nested_json_gets_400_not_500(client, store, depth):
    nested = '{"kvlistValue":{"values":[{"key":"k","value":' * depth + '{"stringValue":"x"}' + "}]}}" * depth
    body = ('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",'
            '"spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1794000000000000000",'
            '"attributes":[{"key":"deep","value":' + nested + "}]}]}]}]}")
    response = client.post("/v1/traces", content=body, headers=JS)
    assert response.status_code == 400
    assert "malformed" in response.json()["message"]
    assert _counts(store) == (0, 0, 0)


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_public_bind_with_open_reads_is_refused(tmp_path, host):
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "tokenproof.cli", "serve", "--host", host, "--port", "0",
                             "--data-dir", str(tmp_path / "d"), "--ingest-token", "T"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "--read-token" in result.stderr and "--allow-unauthenticated-reads" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "d").exists()  # refused before touching the store


def test_a_span_sent_again_in_another_batch_is_corrected_by_the_repair_pass(client, store):
    import time

    from tokenproof.collector.repair import repair
    start = time.time_ns() - 5 * 3600 * 10**9  # a settled hour
    first = genai_request(3, seed=31, start_ns=start)
    again = genai_request(3, seed=31, start_ns=start)
    again.resource_spans[0].scope_spans[0].spans.add().CopyFrom(genai_request(1, seed=32, start_ns=start)
                                                                  .resource_spans[0].scope_spans[0].spans[0])
    for request in (first, again):  # different batches (tokens), three spans in common
        assert client.post("/v1/traces", content=request.SerializeToString(), headers=PB).status_code == 200
    assert _counts(store)[1:] == (4, 7)  # llm_calls keeps each span once; the rollup view does not
    assert repair(store, 48) == {"llm_calls": 0, "rollup_keys": 3}
    assert _counts(store)[1:] == (4, 4)
    cost = store.query_rows("SELECT round(sum(CostUSD), 9) FROM llm_calls FINAL")[0][0]
    assert store.query_rows("SELECT round(sum(CostUSD), 9) FROM llm_calls_hourly")[0][0] == cost
    assert repair(store, 48) == {"llm_calls": 0, "rollup_keys": 0}  # idempotent
