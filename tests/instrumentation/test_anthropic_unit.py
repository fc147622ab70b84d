"""Anthropic messages over a mock transport: input tokens include cache reads/writes, streams."""

from __future__ import annotations

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tokenproof import pricing
from tokenproof import semconv as sc

from .conftest import anthropic_client, anthropic_events, anthropic_message, sse

MODEL = "claude-3-5-haiku-latest"
ANSWER_MODEL = "claude-3-5-haiku-20241022"
KW = dict(model=MODEL, max_tokens=100, system="You are terse.", messages=[{"role": "user", "content": "Hello"}])


def _handler(body):
    if body.get("stream"):
        return 200, sse(anthropic_events(input_tokens=20, output_tokens=6, cache_read=100), done=False, named=True)
    return 200, anthropic_message(input_tokens=20, output_tokens=5, cache_read=100, cache_creation=50)


def test_create_whole_span_with_cache_tokens(instrumented):
    client = anthropic_client(_handler)
    message = client.messages.create(**KW)
    assert message.content[0].text == "Hi!"
    span = instrumented.only_span()
    assert span.kind is SpanKind.CLIENT and span.name == f"chat {MODEL}"
    cost = pricing.price("anthropic", ANSWER_MODEL, pricing.Usage(170, 5, 100, 50))
    assert dict(span.attributes) == {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "anthropic",
        sc.GEN_AI_REQUEST_MODEL: MODEL,
        sc.GEN_AI_REQUEST_MAX_TOKENS: 100,
        sc.SERVER_ADDRESS: "api.anthropic.test",
        sc.SERVER_PORT: 443,
        sc.TP_PROMPT_FINGERPRINT: span.attributes[sc.TP_PROMPT_FINGERPRINT],
        sc.GEN_AI_RESPONSE_MODEL: ANSWER_MODEL,
        sc.GEN_AI_RESPONSE_ID: "msg_01",
        sc.GEN_AI_RESPONSE_FINISH_REASONS: ("end_turn",),
        sc.TP_OUTPUT_FORMAT: "text",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 170,  # 20 + 100 cache read + 50 cache creation
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 100,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 50,
        sc.TP_USAGE_SOURCE: sc.USAGE_PROVIDER,
        sc.GEN_AI_USAGE_COST: cost.usd,
        sc.GEN_AI_USAGE_COST_AMOUNT: cost.usd,
        sc.GEN_AI_USAGE_COST_CURRENCY: "USD",
        sc.GEN_AI_USAGE_COST_SOURCE: sc.COST_SOURCE_LOCAL,
        sc.TP_COST_CURRENCY: "USD",
        sc.TP_COST_STATUS: sc.COST_PRICED,
        sc.TP_COST_SOURCE: sc.COST_SOURCE_LOCAL,
        sc.TP_PRICE_VERSION: pricing.price_version(),
        sc.TP_PRICE_SOURCE: "genai-prices",
    }


@pytest.mark.parametrize("is_async", [False, True])
async def test_create_stream(instrumented, is_async):
    client = anthropic_client(_handler, is_async=is_async)
    stream = client.messages.create(**KW, stream=True)
    types = [e.type async for e in await stream] if is_async else [e.type for e in stream]
    assert types[0] == "message_start" and types[-1] == "message_stop"
    span = instrumented.only_span()
    assert span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 120
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 6
    assert span.attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 100
    assert span.attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER


def test_stream_helper(instrumented):
    client = anthropic_client(_handler)
    with client.messages.stream(**KW) as stream:
        assert stream.get_final_text() == "Hi there"
    span = instrumented.only_span()
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 6
    assert span.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED
    assert sc.TP_STREAM_CLOSED_EARLY not in span.attributes


def test_stream_helper_left_early(instrumented):
    client = anthropic_client(_handler)
    with client.messages.stream(**KW) as stream:
        for event in stream:
            if event.type == "text":
                break
    span = instrumented.only_span()
    assert span.attributes[sc.TP_STREAM_CLOSED_EARLY] is True
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 120  # message_start already told us


async def test_async_stream_helper(instrumented):
    client = anthropic_client(_handler, is_async=True)
    async with client.messages.stream(**KW) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert text == "Hi there"
    span = instrumented.only_span()
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 6


def test_error_status(instrumented):
    client = anthropic_client(lambda _: (529, {"type": "error", "error": {"type": "overloaded_error", "message": "x"}}))
    with pytest.raises(anthropic.APIStatusError) as raised:
        client.messages.create(**KW)
    span = instrumented.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__


def test_sdk_native_span_not_counted_twice(instrumented):
    """anthropic 2.x emits its own GenAI span per call when it has a tracer: we keep exactly one."""
    import httpx2

    from .conftest import anthropic_message as message

    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, json=message()))
    client = anthropic.Anthropic(api_key="sk-ant-test", base_url="https://api.anthropic.test", max_retries=0,
                                 http_client=httpx2.Client(transport=transport),
                                 open_telemetry={"tracer_provider": instrumented.tracer_provider})
    client.messages.create(**KW)
    span = instrumented.only_span()
    assert span.instrumentation_scope.name == sc.INSTRUMENTATION_SCOPE
    assert span.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED
