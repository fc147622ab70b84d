"""Every path into the SDKs that libraries use: raw-response wrappers, streams inside them, the
clients' generic ``post``, Anthropic's beta resource, and the SDKs' own warnings.

Real clients against the local provider server. What the app sees is compared with the same call
made with tokenproof not instrumented.
"""

from __future__ import annotations

import asyncio
import json
import warnings

import anthropic
import openai
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from tokenproof import semconv as sc
from tokenproof.instrumentation import TokenproofInstrumentor
from tokenproof_devkit.provider.testing import run_provider

from .conftest import openai_client, reinstrument, sse

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]
RAW = {"X-Stainless-Raw-Response": "true"}  # what LiteLLM sends with its direct post()


@pytest.fixture(scope="module")
def provider():
    with run_provider(latency_ms=0) as handle:
        yield handle


def _oa(provider, is_async=False):
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0)


def _an(provider, is_async=False):
    cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(base_url=provider.base_url_anthropic, api_key="sk-ant-test", max_retries=0)


def _bare(telemetry, fn):
    """``fn()`` with tokenproof not instrumented, then instrumented again (``fn`` makes its own
    clients: a resource's raw-response wrappers keep the methods of when they were first used)."""
    TokenproofInstrumentor().uninstrument()
    try:
        return fn()
    finally:
        reinstrument(telemetry)


def _priced(span, provider_name="openai", source=sc.USAGE_PROVIDER):
    attrs = span.attributes
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == provider_name
    assert attrs[sc.TP_USAGE_SOURCE] == source
    assert attrs[sc.TP_COST_STATUS] == sc.COST_PRICED and attrs[sc.GEN_AI_USAGE_COST] > 0
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] > 0
    return attrs


def _chunks(stream):
    return [c.model_dump_json(exclude={"id", "created"}) for c in stream]


# --- raw-response wrappers, not streamed ----------------------------------------------------------
def test_openai_streaming_response_wrapper_is_priced(instrumented, provider):
    client = _oa(provider)
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES) as response:
        completion = response.parse()
    attrs = _priced(instrumented.only_span())
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == completion.usage.completion_tokens
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == completion.usage.prompt_tokens


def test_openai_async_wrappers_are_priced(instrumented, provider):
    async def run():
        client = _oa(provider, is_async=True)
        raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
        first = raw.parse()
        async with client.embeddings.with_streaming_response.create(
                model="text-embedding-3-small", input="hello") as response:
            second = await response.parse()
        await client.close()
        return first, second

    first, second = asyncio.run(run())
    chat, emb = instrumented.llm_spans()
    assert _priced(chat)[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == first.usage.completion_tokens
    assert _priced(emb)[sc.GEN_AI_USAGE_INPUT_TOKENS] == second.usage.prompt_tokens


@pytest.mark.parametrize("is_async", [False, True])
def test_anthropic_raw_response_wrapper_is_priced(instrumented, provider, is_async):
    """anthropic 2.x returns APIResponse / AsyncAPIResponse: the path every langchain-anthropic call takes."""
    async def arun():
        async with _an(provider, True) as client:
            raw = await client.messages.with_raw_response.create(
                model="claude-3-5-haiku-latest", max_tokens=100, messages=MESSAGES)
            return await raw.parse()

    def run():
        raw = _an(provider).messages.with_raw_response.create(
            model="claude-3-5-haiku-latest", max_tokens=100, messages=MESSAGES)
        return raw.parse()

    message = asyncio.run(arun()) if is_async else run()
    attrs = _priced(instrumented.only_span(), "anthropic")
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens
    assert attrs[sc.GEN_AI_RESPONSE_ID] == message.id


# --- streams inside raw-response wrappers -----------------------------------------------------------
def test_raw_wrapped_openai_stream_is_unchanged_and_read(instrumented, provider):
    """No usage chunk is injected into a wrapped stream, so none can reach the app; the span is read."""
    def raw_parse():
        return _chunks(_oa(provider).chat.completions.with_raw_response.create(
            model="gpt-4o", messages=MESSAGES, stream=True).parse())

    def streaming_lines():
        with _oa(provider).chat.completions.with_streaming_response.create(
                model="gpt-4o", messages=MESSAGES, stream=True) as response:
            return [json.loads(line[6:])["choices"] for line in response.iter_lines()
                    if line.startswith("data: {")]

    expected = _bare(instrumented, raw_parse), _bare(instrumented, streaming_lines)
    assert (raw_parse(), streaming_lines()) == expected
    assert all(chunk["choices"] for chunk in map(json.loads, expected[0]))  # no usage-only chunk
    parsed_span, lines_span = instrumented.llm_spans()
    assert parsed_span.attributes[sc.GEN_AI_REQUEST_STREAM] is True
    assert parsed_span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] > 0  # counted from the chunks we saw
    assert lines_span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_ESTIMATED  # read as bytes, past us


def test_raw_wrapped_stream_with_usage_asked_is_priced_from_it(instrumented, provider):
    async def run():
        async with _oa(provider, True) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
            return [c async for c in raw.parse()]

    chunks = asyncio.run(run())
    usage = chunks[-1].usage
    attrs = _priced(instrumented.only_span())
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == usage.completion_tokens


def test_raw_wrapped_anthropic_stream_is_priced(instrumented, provider):
    raw = _an(provider).messages.with_raw_response.create(
        model="claude-3-5-haiku-latest", max_tokens=100, messages=MESSAGES, stream=True)
    events = list(raw.parse())
    attrs = _priced(instrumented.only_span(), "anthropic")
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == events[-2].usage.output_tokens


# --- the generic post() path (LiteLLM's OpenAI handler) ---------------------------------------------
def test_direct_post_calls_get_one_span_each(instrumented, provider):
    client = _oa(provider)
    chat = client.post("/chat/completions", body={"model": "gpt-4o", "messages": MESSAGES},
                       cast_to=ChatCompletion, options={"headers": RAW}).parse()
    emb = client.post("/embeddings", body={"model": "text-embedding-3-small", "input": "hi"},
                      cast_to=CreateEmbeddingResponse)
    chunks = list(client.post("/chat/completions", body={"model": "gpt-4o-mini", "messages": MESSAGES,
                                                         "stream": True},
                              cast_to=ChatCompletion, stream=True, stream_cls=openai.Stream[ChatCompletionChunk]))
    spans = instrumented.llm_spans()
    assert [s.name for s in spans] == ["chat gpt-4o", "embeddings text-embedding-3-small", "chat gpt-4o-mini"]
    assert _priced(spans[0])[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == chat.usage.completion_tokens
    assert _priced(spans[1])[sc.GEN_AI_USAGE_INPUT_TOKENS] == emb.usage.prompt_tokens
    assert _priced(spans[2])[sc.GEN_AI_REQUEST_STREAM] is True  # real usage, the usage chunk hidden:
    assert all(c.choices for c in chunks)


def test_anthropic_direct_post_gets_a_span(instrumented, provider):
    message = _an(provider).post("/v1/messages", cast_to=anthropic.types.Message, body={
        "model": "claude-3-5-haiku-latest", "max_tokens": 100, "messages": MESSAGES})
    attrs = _priced(instrumented.only_span(), "anthropic")
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens


def test_resource_methods_still_give_one_span(instrumented, provider):
    """create() sends through the (also wrapped) post(): still one span per call."""
    client = _oa(provider)
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    async def embed():
        async with _oa(provider, True) as client:
            await client.embeddings.create(model="text-embedding-3-small", input="x")

    asyncio.run(embed())
    _an(provider).messages.create(model="claude-3-5-haiku-latest", max_tokens=50, messages=MESSAGES)
    assert len(instrumented.llm_spans()) == 3


def test_unknown_paths_pass_straight_through(instrumented, provider):
    client = _oa(provider)
    models = client.get("/models", cast_to=object)
    assert models and instrumented.llm_spans() == []


# --- Anthropic's beta resource -----------------------------------------------------------------
def test_anthropic_beta_messages_create_and_stream(instrumented, provider):
    client = _an(provider)
    message = client.beta.messages.create(model="claude-3-5-haiku-latest", max_tokens=100, messages=MESSAGES)
    with client.beta.messages.stream(model="claude-3-5-haiku-latest", max_tokens=100, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    created, streamed = instrumented.llm_spans()
    assert {s.instrumentation_scope.name for s in instrumented.spans()} == {"tokenproof.instrumentation"}
    assert _priced(created, "anthropic")[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens
    assert _priced(streamed, "anthropic")[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == final.usage.output_tokens
    assert text == message.content[0].text


# --- warnings keep the app's frames -------------------------------------------------------------------
def _deprecated_model() -> str:
    """A model the installed SDK warns about (its list changes with every release)."""
    from anthropic._data import DEPRECATED_MODELS

    if not DEPRECATED_MODELS:
        pytest.skip("this anthropic release deprecates no model")
    return sorted(DEPRECATED_MODELS)[-1]


def _app_create(client):
    client.messages.create(model=_deprecated_model(), max_tokens=20, messages=MESSAGES)


def _app_stream(client):
    with client.messages.stream(model=_deprecated_model(), max_tokens=20, messages=MESSAGES) as stream:
        stream.get_final_message()


def _deprecation_frames(provider):
    client = _an(provider)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _app_create(client)  # create() warns with stacklevel=3: the line in _app_create
        _app_stream(client)  # stream() warns with stacklevel=3: this line
    return [(w.category, w.filename, w.lineno) for w in seen
            if issubclass(w.category, DeprecationWarning) and "deprecated" in str(w.message)]


def test_sdk_warnings_point_at_the_same_frames_as_without_tokenproof(instrumented, provider):
    expected = _bare(instrumented, lambda: _deprecation_frames(provider))
    assert len(expected) == 2
    assert _deprecation_frames(provider) == expected
    assert all(filename == __file__ for _, filename, _ in expected)  # the app's frames, not the SDK's or ours


# --- the legacy text completions API (mock transport: the local provider does not serve it) --------
def _completion(body):
    base = {"id": "cmpl-1", "object": "text_completion", "created": 1700000000, "model": "gpt-3.5-turbo-instruct"}
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    if not body.get("stream"):
        return 200, {**base, "choices": [{"index": 0, "text": "Blue.", "finish_reason": "stop", "logprobs": None}],
                     "usage": usage}
    chunks = [{**base, "choices": [{"index": 0, "text": t, "finish_reason": None, "logprobs": None}]}
              for t in ("Bl", "ue.")]
    chunks[-1]["choices"][0]["finish_reason"] = "stop"
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": usage})
    return 200, sse(chunks)


def test_legacy_completions_are_priced_streamed_or_not(instrumented):
    client = openai_client(_completion)
    text = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Sky colour?").choices[0].text
    chunks = list(client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Sky colour?", stream=True))
    assert text == "".join(c.choices[0].text for c in chunks) and all(c.choices for c in chunks)
    for span in instrumented.llm_spans():
        attrs = _priced(span)
        assert attrs[sc.GEN_AI_OPERATION_NAME] == "text_completion"
        assert (attrs[sc.GEN_AI_USAGE_INPUT_TOKENS], attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS]) == (5, 2)
