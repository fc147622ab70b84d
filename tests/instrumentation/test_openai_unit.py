"""OpenAI calls over the SDK's own mock transport: whole spans, streams, errors, usage sources."""

from __future__ import annotations

import gc
import json

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from tokenproof import pricing
from tokenproof import semconv as sc

from .conftest import Recorder, chat_chunks, chat_completion, openai_client, reinstrument, sse

MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello"}]


def _helpers(client):
    """Where parse() / stream() live: chat.completions (openai >= 1.9x) or beta.chat.completions (older 1.x)."""
    return client.chat.completions if hasattr(client.chat.completions, "parse") else client.beta.chat.completions


def _cost(model: str, *usage: int) -> float:
    cost = pricing.price("openai", model, pricing.Usage(*usage))
    assert cost.status == sc.COST_PRICED
    return cost.usd


def _price_attrs() -> dict:
    return {sc.TP_COST_CURRENCY: "USD", sc.TP_COST_STATUS: sc.COST_PRICED, sc.TP_COST_SOURCE: sc.COST_SOURCE_LOCAL,
            sc.GEN_AI_USAGE_COST_CURRENCY: "USD", sc.GEN_AI_USAGE_COST_SOURCE: sc.COST_SOURCE_LOCAL,
            sc.TP_PRICE_VERSION: pricing.price_version(), sc.TP_PRICE_SOURCE: "genai-prices"}


def test_chat_create_whole_span(instrumented):
    client = openai_client(lambda body: (200, chat_completion(prompt=1200, completion=40, cached=1024)))
    response = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2,
                                              max_tokens=50, seed=7)
    assert response.choices[0].message.content == "Hello there!"
    span = instrumented.only_span()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    fingerprint = span.attributes[sc.TP_PROMPT_FINGERPRINT]
    assert dict(span.attributes) == {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
        sc.GEN_AI_REQUEST_TEMPERATURE: 0.2,
        sc.GEN_AI_REQUEST_MAX_TOKENS: 50,
        sc.GEN_AI_REQUEST_SEED: 7,
        sc.SERVER_ADDRESS: "api.openai.test",
        sc.SERVER_PORT: 443,
        sc.TP_PROMPT_FINGERPRINT: fingerprint,
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
        sc.GEN_AI_RESPONSE_ID: "chatcmpl-123",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
        sc.TP_OUTPUT_FORMAT: "text",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 1200,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 40,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1024,
        sc.TP_USAGE_SOURCE: sc.USAGE_PROVIDER,
        sc.GEN_AI_USAGE_COST: _cost("gpt-4o-mini-2024-07-18", 1200, 40, 1024),
        sc.GEN_AI_USAGE_COST_AMOUNT: _cost("gpt-4o-mini-2024-07-18", 1200, 40, 1024),
        **_price_attrs(),
    }
    assert "gen_ai.system" not in span.attributes


async def test_async_chat_create(instrumented):
    client = openai_client(lambda body: (200, chat_completion(reasoning=30, completion=50)), is_async=True)
    await client.chat.completions.create(model="o3-mini", messages=MESSAGES)
    span = instrumented.only_span()
    assert span.name == "chat o3-mini"
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 50
    assert span.attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 30
    assert span.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED


class Answer(BaseModel):
    greeting: str


@pytest.mark.parametrize("is_async", [False, True])
async def test_parse_with_pydantic_format(instrumented, is_async):
    body = chat_completion(content=json.dumps({"greeting": "hi"}))
    client = openai_client(lambda _: (200, body), is_async=is_async)
    call = _helpers(client).parse(model="gpt-4o-mini", messages=MESSAGES, response_format=Answer)
    result = await call if is_async else call
    assert result.choices[0].message.parsed == Answer(greeting="hi")
    span = instrumented.only_span()
    assert span.attributes[sc.TP_OUTPUT_FORMAT] == sc.OUTPUT_JSON_SCHEMA
    assert span.attributes[sc.GEN_AI_OUTPUT_TYPE] == sc.OUTPUT_JSON
    assert span.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED


def test_tool_calls_output_format(instrumented):
    tool_call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    client = openai_client(lambda _: (200, chat_completion(tool_calls=[tool_call], finish="tool_calls")))
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=tools)
    span = instrumented.only_span()
    assert span.attributes[sc.TP_OUTPUT_FORMAT] == sc.OUTPUT_TOOL_CALLS
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)


# --- streams ---------------------------------------------------------------------------------------
def _stream_client(recorder: Recorder, *, usage_from_server: bool = True, is_async: bool = False):
    def handler(body):
        wants_usage = (body.get("stream_options") or {}).get("include_usage", False)
        return 200, sse(chat_chunks(usage=usage_from_server and wants_usage))

    return openai_client(handler, recorder=recorder, is_async=is_async)


def _bare_chunks(**kwargs) -> list:
    """What the app sees without instrumentation (reference for 'exactly the stream it asked for')."""
    client = _stream_client(Recorder())
    return [c.model_dump() for c in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                                                    stream=True, **kwargs)]


def test_stream_hides_injected_usage_chunk(instrumented):
    recorder = Recorder()
    client = _stream_client(recorder)
    seen = []
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
        seen.append(chunk.model_dump())
        chunk.choices[0]  # app code that indexes choices must never crash
    assert recorder.bodies[0]["stream_options"] == {"include_usage": True}
    span = instrumented.only_span()
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER
    assert span.attributes[sc.GEN_AI_USAGE_COST] == _cost("gpt-4o-mini-2024-07-18", 12, 3)
    assert sc.TP_STREAM_CLOSED_EARLY not in span.attributes
    # the app saw exactly what it sees without tokenproof (uninstrumented client, same server)
    from tokenproof.instrumentation import TokenproofInstrumentor

    TokenproofInstrumentor().uninstrument()
    assert seen == _bare_chunks()


def test_stream_caller_asked_for_usage_keeps_usage_chunk(instrumented):
    recorder = Recorder()
    client = _stream_client(recorder)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 12
    assert instrumented.only_span().attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER


def test_stream_usage_opt_out_estimates_locally(instrumented, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_STREAM_USAGE", "false")
    reinstrument(instrumented)  # the setting is read at instrument()
    recorder = Recorder()
    client = _stream_client(recorder)
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert text == "Hello!"
    assert "stream_options" not in recorder.bodies[0]
    span = instrumented.only_span()
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_ESTIMATED
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 2  # "Hel" + "lo" + "!" = "Hello!"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 5
    assert span.attributes[sc.GEN_AI_USAGE_COST] > 0


def test_stream_provider_without_usage_is_estimated(instrumented):
    client = _stream_client(Recorder(), usage_from_server=False)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    span = instrumented.only_span()
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_ESTIMATED
    assert span.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED


def test_stream_closed_early_by_close(instrumented):
    client = _stream_client(Recorder())
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant"
    assert instrumented.llm_spans() == []  # still open while the app reads
    next(stream)
    stream.close()
    span = instrumented.only_span()
    assert span.attributes[sc.TP_STREAM_CLOSED_EARLY] is True
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_ESTIMATED
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] >= 1


def test_stream_closed_early_by_context_exit(instrumented):
    client = _stream_client(Recorder())
    with client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True) as stream:
        for _chunk in stream:
            break
    assert instrumented.only_span().attributes[sc.TP_STREAM_CLOSED_EARLY] is True


def test_stream_abandoned_ends_on_garbage_collection(instrumented):
    client = _stream_client(Recorder())
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    next(stream)
    del stream
    gc.collect()
    assert instrumented.only_span().attributes[sc.TP_STREAM_CLOSED_EARLY] is True


def test_stream_temporary_left_early_or_never_read_ends_its_span(instrumented):
    """The proxy of a temporary stream is gone before its first chunk: the chunk iterator ends the span."""
    client = _stream_client(Recorder())
    for chunk in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):  # noqa: B007
        break
    del chunk
    span = instrumented.only_span()  # ended as soon as the loop dropped the iterator (no gc needed)
    assert span.attributes[sc.TP_STREAM_CLOSED_EARLY] is True
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_ESTIMATED
    instrumented.exporter.clear()
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)  # never read
    assert instrumented.only_span().attributes[sc.TP_STREAM_CLOSED_EARLY] is True


def test_stream_broken_mid_stream(instrumented):
    def handler(body):
        return 200, sse(chat_chunks(usage=False)[:2], done=False) + b"data: {not json\n\n"

    client = openai_client(handler)
    with pytest.raises(Exception) as raised:
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True):
            pass
    span = instrumented.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_ESTIMATED  # the partial answer is still billed


async def test_async_stream_hidden_usage_and_close(instrumented):
    client = _stream_client(Recorder(), is_async=True)
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    chunks = [c async for c in stream]
    assert all(c.choices for c in chunks)
    assert instrumented.only_span().attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
    instrumented.exporter.clear()
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
    async with stream:
        async for _ in stream:
            break
    assert instrumented.only_span().attributes[sc.TP_STREAM_CLOSED_EARLY] is True


def test_stream_helper_context_manager(instrumented):
    recorder = Recorder()
    client = _stream_client(recorder)
    with _helpers(client).stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        text = "".join(e.delta for e in stream if e.type == "content.delta")
        final = stream.get_final_completion()
    assert text == "Hello!" and final.choices[0].message.content == "Hello!"
    span = instrumented.only_span()  # built on create(): exactly one span
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3


def test_stream_helper_left_early(instrumented):
    client = _stream_client(Recorder())
    with _helpers(client).stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        for _ in stream:
            break
    span = instrumented.only_span()
    assert span.attributes[sc.TP_STREAM_CLOSED_EARLY] is True
    assert span.end_time is not None


async def test_async_stream_helper(instrumented):
    client = _stream_client(Recorder(), is_async=True)
    async with _helpers(client).stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        async for _ in stream:
            pass
    span = instrumented.only_span()
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER


# --- errors, unpriced ------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "error"), [(429, openai.RateLimitError), (500, openai.InternalServerError)])
def test_http_errors_reraised_unchanged(instrumented, status, error):
    client = openai_client(lambda _: (status, {"error": {"message": "nope", "type": "x"}}))
    with pytest.raises(error):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = instrumented.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error.__qualname__
    assert sc.GEN_AI_USAGE_COST not in span.attributes and sc.TP_COST_STATUS not in span.attributes
    duration = instrumented.metrics()[sc.METRIC_OPERATION_DURATION]
    assert duration[0].attributes[sc.ERROR_TYPE] == error.__qualname__


def test_unknown_model_is_unpriced_never_zero(instrumented):
    client = openai_client(lambda _: (200, chat_completion(model="acme-private-llm")))
    client.chat.completions.create(model="acme-private-llm", messages=MESSAGES)
    span = instrumented.only_span()
    assert span.attributes[sc.TP_COST_STATUS] == sc.COST_UNPRICED
    assert sc.GEN_AI_USAGE_COST not in span.attributes
    points = instrumented.metrics()
    assert sum(p.value for p in points[sc.METRIC_UNPRICED_CALLS]) == 1
    assert sc.METRIC_COST not in points


# --- Responses API, embeddings ---------------------------------------------------------------------
def _response(status="completed"):
    return {
        "id": "resp_1", "object": "response", "created_at": 1700000000, "model": "gpt-4o-2024-08-06",
        "status": status, "output": [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                                      "content": [{"type": "output_text", "text": "Hi!", "annotations": []}]}],
        "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "usage": {"input_tokens": 30, "output_tokens": 8, "total_tokens": 38,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
    }


def _response_events():
    created = {**_response(), "status": "in_progress", "output": [], "usage": None}
    return [
        {"type": "response.created", "sequence_number": 0, "response": created},
        {"type": "response.output_text.delta", "sequence_number": 1, "item_id": "msg_1", "output_index": 0,
         "content_index": 0, "delta": "Hi!", "logprobs": []},
        {"type": "response.completed", "sequence_number": 2, "response": _response()},
    ]


@pytest.mark.parametrize("is_async", [False, True])
async def test_responses_create_and_stream(instrumented, is_async):
    client = openai_client(
        lambda body: (200, sse(_response_events(), named=True, done=False) if body.get("stream") else _response()),
        is_async=is_async)
    result = client.responses.create(model="gpt-4o", input="Say hi", instructions="Be brief.")
    result = await result if is_async else result
    assert result.output_text == "Hi!"
    stream = client.responses.create(model="gpt-4o", input="Say hi", stream=True)
    stream = await stream if is_async else stream
    events = [e.type async for e in stream] if is_async else [e.type for e in stream]
    assert events == ["response.created", "response.output_text.delta", "response.completed"]
    spans = instrumented.llm_spans()
    assert [s.name for s in spans] == ["chat gpt-4o", "chat gpt-4o"]
    for span in spans:
        assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 30
        assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 8
        assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "resp_1"
        assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
        assert span.attributes[sc.GEN_AI_USAGE_COST] == _cost("gpt-4o-2024-08-06", 30, 8)


@pytest.mark.parametrize("is_async", [False, True])
async def test_embeddings(instrumented, is_async):
    body = {"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
            "usage": {"prompt_tokens": 9, "total_tokens": 9}}
    client = openai_client(lambda _: (200, body), is_async=is_async)
    result = client.embeddings.create(model="text-embedding-3-small", input="hello world", encoding_format="float")
    result = await result if is_async else result
    assert result.data[0].embedding == [0.1, 0.2]
    span = instrumented.only_span()
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes[sc.GEN_AI_OPERATION_NAME] == "embeddings"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert sc.GEN_AI_USAGE_OUTPUT_TOKENS not in span.attributes
    assert span.attributes[sc.GEN_AI_REQUEST_ENCODING_FORMATS] == ("float",)
    assert span.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED


def test_metrics_recorded_with_spec_buckets(instrumented):
    client = openai_client(lambda _: (200, chat_completion(prompt=100, completion=20)))
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    points = instrumented.metrics()
    usage = {p.attributes[sc.GEN_AI_TOKEN_TYPE]: p for p in points[sc.METRIC_TOKEN_USAGE]}
    assert usage["input"].sum == 100 and usage["output"].sum == 20
    assert tuple(usage["input"].explicit_bounds) == sc.TOKEN_USAGE_BUCKETS
    assert usage["input"].attributes[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert usage["input"].attributes[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    duration = points[sc.METRIC_OPERATION_DURATION][0]
    assert tuple(duration.explicit_bounds) == sc.OPERATION_DURATION_BUCKETS
    assert sum(p.value for p in points[sc.METRIC_COST]) == pytest.approx(_cost("gpt-4o-mini-2024-07-18", 100, 20))


def test_azure_client_reports_azure_provider(instrumented):
    import httpx2

    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=chat_completion(model="gpt-4o-mini")))
    client = openai.AzureOpenAI(api_key="k", api_version="2024-10-21", azure_endpoint="https://acme.openai.azure.com",
                                max_retries=0, http_client=httpx2.Client(transport=transport))
    client.chat.completions.create(model="my-gpt4o-mini-deployment", messages=MESSAGES)
    span = instrumented.only_span()
    assert span.attributes[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert span.attributes[sc.SERVER_ADDRESS] == "acme.openai.azure.com"
    assert span.attributes[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini"
    # priced by the model that answered (the deployment name is the request model)
    assert span.attributes[sc.GEN_AI_USAGE_COST] == pricing.price("azure.ai.openai", "gpt-4o-mini",
                                                                  pricing.Usage(12, 4)).usd
