"""Real openai / anthropic clients against the local provider server: every call form, faults."""

from __future__ import annotations

import anthropic
import openai
import pytest
from opentelemetry.trace import StatusCode

from tokenproof import semconv as sc
from tokenproof_devkit.provider.testing import run_provider

MESSAGES = [{"role": "system", "content": "Answer in one sentence."},
            {"role": "user", "content": "Why is the sky blue?"}]
FAULT = "X-Tokenproof-Fault"


@pytest.fixture(scope="module")
def provider():
    with run_provider(latency_ms=0, model_map={"acme-private-*": "gpt4"}, timeout_s=5) as handle:
        yield handle


def _helpers(client):
    """Where stream() lives: chat.completions (openai >= 1.9x) or beta.chat.completions (older 1.x)."""
    return client.chat.completions if hasattr(client.chat.completions, "stream") else client.beta.chat.completions


def _oa(provider, is_async=False, **kw):
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0, **kw)


def _an(provider, is_async=False, **kw):
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(base_url=provider.base_url_anthropic, api_key="sk-ant-test", max_retries=0, **kw)


def _assert_priced(span, provider_name="openai"):
    attrs = span.attributes
    assert span.status.status_code is StatusCode.UNSET
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == provider_name
    assert attrs[sc.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER
    assert attrs[sc.TP_COST_STATUS] == sc.COST_PRICED
    assert attrs[sc.GEN_AI_USAGE_COST] > 0
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    if attrs[sc.GEN_AI_OPERATION_NAME] == "chat":
        assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
        assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS]


def test_openai_sync_forms(instrumented, provider):
    client = _oa(provider)
    answer = client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in
                       client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert streamed == answer  # same recorded answer, and no crash on the hidden usage chunk
    with _helpers(client).stream(model="gpt-4o-mini", messages=MESSAGES) as stream:
        helper_text = stream.get_final_completion().choices[0].message.content
    assert helper_text
    assert client.responses.create(model="gpt-4o", input="Why is the sky blue?").output_text
    assert [e.type for e in client.responses.create(model="gpt-4o", input="Why?", stream=True)][-1] == \
        "response.completed"
    with client.responses.stream(model="gpt-4o", input="Why?") as stream:
        assert stream.get_final_response().output_text
    client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    spans = instrumented.llm_spans()
    assert [s.name for s in spans] == ["chat gpt-4o", "chat gpt-4o", "chat gpt-4o-mini", "chat gpt-4o",
                                       "chat gpt-4o", "chat gpt-4o", "embeddings text-embedding-3-small"]
    for span in spans:
        _assert_priced(span)
    assert spans[0].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == spans[1].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS]
    assert spans[0].attributes[sc.GEN_AI_USAGE_COST] == spans[1].attributes[sc.GEN_AI_USAGE_COST]


async def test_openai_async_forms(instrumented, provider):
    client = _oa(provider, is_async=True)
    await client.chat.completions.create(model="o3-mini", messages=MESSAGES)
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    async for chunk in stream:
        chunk.choices[0]
    async with _helpers(client).stream(model="gpt-4o", messages=MESSAGES) as stream:
        await stream.get_final_completion()
    await client.responses.create(model="gpt-4o", input="hi")
    async with client.responses.stream(model="gpt-4o", input="hi") as stream:
        await stream.get_final_response()
    await client.embeddings.create(model="text-embedding-3-small", input="a")
    spans = instrumented.llm_spans()
    assert len(spans) == 6
    for span in spans:
        _assert_priced(span)
    assert spans[0].attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] > 0


def test_anthropic_forms(instrumented, provider):
    client = _an(provider)
    kw = dict(model="claude-3-5-haiku-latest", max_tokens=300, system="Be brief.",
              messages=[{"role": "user", "content": "Why is the sky blue?"}])
    client.messages.create(**kw)
    list(client.messages.create(**kw, stream=True))
    with client.messages.stream(**kw) as stream:
        assert stream.get_final_text()
    spans = instrumented.llm_spans()
    assert len(spans) == 3
    for span in spans:
        _assert_priced(span, "anthropic")
    assert len({s.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] for s in spans}) == 1


async def test_anthropic_async_forms(instrumented, provider):
    client = _an(provider, is_async=True)
    kw = dict(model="claude-3-5-sonnet-latest", max_tokens=300, messages=[{"role": "user", "content": "Hi"}])
    await client.messages.create(**kw)
    async for _ in await client.messages.create(**kw, stream=True):
        pass
    async with client.messages.stream(**kw) as stream:
        await stream.get_final_message()
    spans = instrumented.llm_spans()
    assert len(spans) == 3
    for span in spans:
        _assert_priced(span, "anthropic")


@pytest.mark.parametrize(("fault", "error"), [("429", openai.RateLimitError), ("500", openai.InternalServerError)])
def test_openai_fault_statuses(instrumented, provider, fault, error):
    with pytest.raises(error):
        _oa(provider).chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_headers={FAULT: fault})
    span = instrumented.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.ERROR_TYPE] == error.__qualname__
    assert sc.GEN_AI_USAGE_COST not in span.attributes


def test_timeout(instrumented, provider):
    with pytest.raises(openai.APITimeoutError):
        _oa(provider, timeout=0.3).chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                                            extra_headers={FAULT: "timeout"})
    assert instrumented.only_span().attributes[sc.ERROR_TYPE] == "APITimeoutError"


def test_broken_mid_stream(instrumented, provider):
    client = _oa(provider)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                    extra_headers={FAULT: "midstream:3"}):
            received.append(chunk)
    assert received
    span = instrumented.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_ESTIMATED


def test_anthropic_broken_mid_stream(instrumented, provider):
    client = _an(provider)
    with pytest.raises(anthropic.APIError):
        for _ in client.messages.create(model="claude-3-5-haiku-latest", max_tokens=300, stream=True,
                                        messages=[{"role": "user", "content": "Hi"}],
                                        extra_headers={FAULT: "midstream:2"}):
            pass
    span = instrumented.only_span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0  # message_start already reported input usage


def test_unknown_model_unpriced(instrumented, provider):
    _oa(provider).chat.completions.create(model="acme-private-7b", messages=MESSAGES)
    span = instrumented.only_span()
    assert span.attributes[sc.TP_COST_STATUS] == sc.COST_UNPRICED
    assert sc.GEN_AI_USAGE_COST not in span.attributes
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
