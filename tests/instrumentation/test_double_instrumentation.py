"""OpenLLMetry or the official OpenAI instrumentation loaded too: every call counted exactly once.

The collector counts every span carrying ``gen_ai.operation.name`` as one LLM call. When the other
instrumentation wraps outside us we enrich its span (cost, tags, fingerprint); when it wraps inside
us we call past it. Both load orders, plain and streamed calls.
"""

from __future__ import annotations

import openai.resources.chat.completions as chat
import openai.resources.embeddings as embeddings
import openai.resources.responses as responses
import pytest
from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetryInstrumentor

try:  # the installed official package (2.4b0) imports a module opentelemetry-util-genai 1.3b0 renamed
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as OfficialInstrumentor
except ImportError as exc:  # pragma: no cover - depends on the environment
    OfficialInstrumentor = None
    OFFICIAL_BROKEN = f"opentelemetry-instrumentation-openai-v2 does not import here: {exc}"

import tokenproof
from tokenproof import semconv as sc
from tokenproof.instrumentation import TokenproofInstrumentor

from .conftest import chat_chunks, chat_completion, openai_client, sse

_CLASSES = [chat.Completions, chat.AsyncCompletions, responses.Responses, responses.AsyncResponses,
            embeddings.Embeddings, embeddings.AsyncEmbeddings]
MESSAGES = [{"role": "user", "content": "hi"}]
OTHERS = {"openllmetry": OpenLLMetryInstrumentor, "official": OfficialInstrumentor}


def _handler(body):
    if body.get("stream"):
        wants_usage = (body.get("stream_options") or {}).get("include_usage", False)
        return 200, sse(chat_chunks(usage=wants_usage))
    return 200, chat_completion()


@pytest.fixture(params=[(name, order) for name in OTHERS for order in ("tokenproof_first", "other_first")],
                ids=lambda p: f"{p[0]}-{p[1]}")
def both(request, telemetry):
    name, order = request.param
    if OTHERS[name] is None:
        pytest.skip(OFFICIAL_BROKEN)
    # OpenLLMetry's uninstrument() leaves its wrappers in place (checked with 0.62.4): snapshot and
    # restore the SDK classes so each test starts from the bare SDK.
    saved = [(cls, attr, cls.__dict__[attr]) for cls in _CLASSES for attr in ("create", "parse", "stream")
             if attr in cls.__dict__]
    ours, other = TokenproofInstrumentor(), OTHERS[name]()
    kwargs = dict(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    sequence = [ours, other] if order == "tokenproof_first" else [other, ours]
    for instrumentor in sequence:
        instrumentor.instrument(**kwargs)
    try:
        yield telemetry
    finally:
        for instrumentor in reversed(sequence):
            instrumentor.uninstrument()
        for cls, attr, original in saved:
            setattr(cls, attr, original)


def _assert_one_priced_tagged(telemetry):
    spans = telemetry.llm_spans()
    assert len(spans) == 1, [(s.name, s.instrumentation_scope.name) for s in spans]
    attrs = spans[0].attributes
    assert attrs[sc.GEN_AI_USAGE_COST] > 0
    assert attrs[sc.TP_COST_STATUS] == sc.COST_PRICED
    assert attrs[sc.TP_FEATURE] == "chat-ui"
    assert sc.TP_PROMPT_FINGERPRINT in attrs
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 12
    return spans[0]


def test_plain_call_counted_once(both):
    client = openai_client(lambda b: _handler(b))
    with tokenproof.tag(feature="chat-ui"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = _assert_one_priced_tagged(both)
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 4


def test_stream_counted_once(both):
    client = openai_client(lambda b: _handler(b))
    with tokenproof.tag(feature="chat-ui"):
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert all(c.choices for c in chunks)
    span = _assert_one_priced_tagged(both)
    assert span.attributes[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER


async def test_async_call_counted_once(both):
    client = openai_client(lambda b: _handler(b), is_async=True)
    with tokenproof.tag(feature="chat-ui"):
        await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    _assert_one_priced_tagged(both)


def test_uninstrument_splices_us_out_from_under_another_wrapper(telemetry):
    saved = [(cls, attr, cls.__dict__[attr]) for cls in _CLASSES for attr in ("create", "parse", "stream")
             if attr in cls.__dict__]
    ours, other = TokenproofInstrumentor(), OpenLLMetryInstrumentor()
    ours.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    other.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        ours.uninstrument()  # OpenLLMetry's wrapper stays on top of where ours was
        node, chain = chat.Completions.__dict__["create"], []
        while hasattr(node, "__wrapped__"):
            chain.append(type(node).__module__)  # type(): wrapt proxies forward __class__
            node = node.__wrapped__
        assert not any(m.startswith("tokenproof") for m in chain), chain
        openai_client(lambda b: _handler(b)).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert [s.instrumentation_scope.name for s in telemetry.llm_spans()] == [
            "opentelemetry.instrumentation.openai.v1"]
    finally:
        other.uninstrument()
        for cls, attr, original in saved:
            setattr(cls, attr, original)
