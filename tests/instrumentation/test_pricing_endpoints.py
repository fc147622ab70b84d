"""Every dollar right: OpenAI-compatible endpoints, provider-reported cost, service tiers, 1-hour
cache writes, web searches, and the cost attribute names (real SDK clients, docs/pricing.md)."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from tokenproof import pricing
from tokenproof import semconv as sc
from tokenproof.usage import Usage
from tokenproof_devkit.provider.testing import run_provider

from .conftest import (
    _http_module,
    anthropic_client,
    anthropic_message,
    chat_chunks,
    chat_completion,
    openai_client,
    sse,
)

MESSAGES = [{"role": "user", "content": "Why is the sky blue?"}]


@pytest.fixture(scope="module")
def provider():
    with run_provider(latency_ms=0, timeout_s=5,
                      model_map={"deepseek-*": "mixtral", "llama-*": "mixtral", "anthropic/*": "gpt4"}) as handle:
        yield handle


def _client_at(base_url: str, provider: Any) -> openai.OpenAI:
    """A real openai client configured for ``base_url``; its HTTP requests reach the local replay server."""
    httpx2 = _http_module(openai)

    class ToReplayServer(httpx2.BaseTransport):
        def __init__(self) -> None:
            self.inner = httpx2.HTTPTransport()

        def handle_request(self, request: Any) -> Any:
            path = request.url.path  # the service's own prefix (/openai/v1, /api/v1) -> the server's /v1
            request.url = request.url.copy_with(scheme="http", host=provider.host, port=provider.port,
                                                path=path[path.index("/v1/"):])
            return self.inner.handle_request(request)

        def close(self) -> None:
            self.inner.close()

    return openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0,
                         http_client=httpx2.Client(transport=ToReplayServer()))


@pytest.mark.parametrize(("base_url", "model", "provider_name", "host"), [
    ("https://api.deepseek.com/v1", "deepseek-chat", "deepseek", "api.deepseek.com"),
    ("https://api.groq.com/openai/v1", "llama-3.1-8b-instant", "groq", "api.groq.com"),
    ("https://openrouter.ai/api/v1", "anthropic/claude-3.5-sonnet", "openrouter", "openrouter.ai"),
])
def test_openai_compatible_endpoints_are_named_and_priced_by_their_host(instrumented, provider, base_url, model,
                                                                        provider_name, host) -> None:
    client = _client_at(base_url, provider)
    client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=64)
    stream = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=64, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    for span in instrumented.llm_spans():
        attrs = span.attributes
        assert attrs[sc.GEN_AI_PROVIDER_NAME] == provider_name
        assert attrs[sc.SERVER_ADDRESS] == host
        assert attrs[sc.TP_COST_STATUS] == sc.COST_PRICED, attrs
        usage = Usage(attrs[sc.GEN_AI_USAGE_INPUT_TOKENS], attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS])
        expected = pricing.price(provider_name, attrs[sc.GEN_AI_RESPONSE_MODEL], usage)
        assert attrs[sc.GEN_AI_USAGE_COST] == expected.usd and expected.usd > 0
        assert attrs[sc.TP_COST_SOURCE] == sc.COST_SOURCE_LOCAL


def test_local_server_keeps_the_model_s_own_provider(instrumented, provider) -> None:
    client = openai.OpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=32)
    attrs = instrumented.only_span().attributes
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "openai" and attrs[sc.TP_COST_STATUS] == sc.COST_PRICED


def _openrouter_body(body: dict[str, Any]) -> tuple[int, Any]:
    answer = chat_completion(model="anthropic/claude-3.5-sonnet", prompt=1_000, completion=200)
    answer["provider"] = "Anthropic"
    answer["usage"]["cost"] = 0.00612  # what OpenRouter charged, in USD
    return 200, answer


def test_openrouter_reported_cost_is_used_and_marked_as_provider_cost(instrumented) -> None:
    client = openai_client(_openrouter_body)
    client.base_url = "https://openrouter.ai/api/v1"
    client.chat.completions.create(model="anthropic/claude-3.5-sonnet", messages=MESSAGES)
    attrs = instrumented.only_span().attributes
    assert attrs[sc.GEN_AI_PROVIDER_NAME] == "openrouter"
    assert attrs[sc.GEN_AI_USAGE_COST] == attrs[sc.GEN_AI_USAGE_COST_AMOUNT] == 0.00612
    assert attrs[sc.TP_COST_SOURCE] == attrs[sc.GEN_AI_USAGE_COST_SOURCE] == sc.COST_SOURCE_PROVIDER
    assert attrs[sc.TP_PRICE_SOURCE] == pricing.SOURCE_PROVIDER
    assert attrs[sc.TP_COST_STATUS] == sc.COST_PRICED


def _tiered(returned: str | None):
    def respond(body: dict[str, Any]) -> tuple[int, Any]:
        answer = chat_completion(model="gpt-5-2025-08-07", prompt=1_000_000, completion=100_000)
        if returned is not None:
            answer["service_tier"] = returned
        return 200, answer
    return respond


@pytest.mark.parametrize(("requested", "returned", "usd"), [
    (None, "default", 2.25), ("auto", "default", 2.25), ("flex", "flex", 1.125), ("priority", "priority", 4.50),
    ("flex", None, 1.125),  # a server that does not echo the tier: the requested one prices the call
])
def test_service_tier_is_recorded_and_priced(instrumented, requested, returned, usd) -> None:
    client = openai_client(_tiered(returned))
    kwargs = {"service_tier": requested} if requested else {}
    client.chat.completions.create(model="gpt-5", messages=MESSAGES, **kwargs)
    attrs = instrumented.only_span().attributes
    assert attrs.get(sc.OPENAI_REQUEST_SERVICE_TIER) == requested
    assert attrs.get(sc.OPENAI_RESPONSE_SERVICE_TIER) == returned
    assert attrs[sc.GEN_AI_USAGE_COST] == pytest.approx(usd)


def test_streamed_service_tier_is_priced(instrumented) -> None:
    chunks = chat_chunks(model="gpt-5-2025-08-07", prompt=1_000_000, completion=100_000)
    for chunk in chunks:
        chunk["service_tier"] = "priority"
    client = openai_client(lambda body: (200, sse(chunks)))
    for _ in client.chat.completions.create(model="gpt-5", messages=MESSAGES, stream=True,
                                            service_tier="priority"):
        pass
    attrs = instrumented.only_span().attributes
    assert attrs[sc.OPENAI_RESPONSE_SERVICE_TIER] == "priority"
    assert attrs[sc.GEN_AI_USAGE_COST] == pytest.approx(4.50)


def _one_hour_cache(body: dict[str, Any]) -> tuple[int, Any]:
    message = anthropic_message(model="claude-3-5-sonnet-20241022", input_tokens=0, output_tokens=0,
                                cache_creation=100_000)
    message["usage"]["cache_creation"] = {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 100_000}
    message["usage"]["server_tool_use"] = {"web_search_requests": 2}
    return 200, message


def test_anthropic_one_hour_cache_writes_and_web_searches_are_priced(instrumented) -> None:
    client = anthropic_client(_one_hour_cache)
    client.messages.create(model="claude-3-5-sonnet-20241022", max_tokens=10,
                           messages=[{"role": "user", "content": "hi"}])
    attrs = instrumented.only_span().attributes
    assert attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 100_000
    # 100k one-hour cache writes at $6/M, two web searches at $10 per 1,000
    assert attrs[sc.GEN_AI_USAGE_COST] == pytest.approx(0.60 + 0.02)


def test_replay_server_answers_price_five_minute_writes_at_their_rate(instrumented, provider) -> None:
    client = anthropic.Anthropic(base_url=provider.base_url_anthropic, api_key="sk-ant-test", max_retries=0)
    system = [{"type": "text", "text": "You are a careful physics tutor. " * 400, "cache_control": {"type": "ephemeral"}}]
    client.messages.create(model="claude-3-5-sonnet-20241022", max_tokens=32, system=system, messages=MESSAGES)
    attrs = instrumented.only_span().attributes
    writes = attrs.get(sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, 0)
    assert writes > 0
    usage = Usage(attrs[sc.GEN_AI_USAGE_INPUT_TOKENS], attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS],
                  cache_creation_tokens=writes)
    assert attrs[sc.GEN_AI_USAGE_COST] == pricing.price("anthropic", attrs[sc.GEN_AI_RESPONSE_MODEL], usage).usd


@pytest.mark.parametrize(("mode", "present", "absent"), [
    ("legacy", (sc.GEN_AI_USAGE_COST,), (sc.GEN_AI_USAGE_COST_AMOUNT, sc.GEN_AI_USAGE_COST_SOURCE)),
    ("proposed", (sc.GEN_AI_USAGE_COST_AMOUNT, sc.GEN_AI_USAGE_COST_CURRENCY, sc.GEN_AI_USAGE_COST_SOURCE),
     (sc.GEN_AI_USAGE_COST,)),
    ("both", (sc.GEN_AI_USAGE_COST, sc.GEN_AI_USAGE_COST_AMOUNT), ()),
])
def test_cost_attribute_names_follow_the_setting(instrumented, monkeypatch, mode, present, absent) -> None:
    monkeypatch.setenv("TOKENPROOF_COST_ATTRIBUTES", mode)
    pricing.reset()
    try:
        openai_client(lambda body: (200, chat_completion())).chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES)
    finally:
        monkeypatch.delenv("TOKENPROOF_COST_ATTRIBUTES")
        pricing.reset()
    attrs = instrumented.only_span().attributes
    assert all(name in attrs for name in present), attrs
    assert not any(name in attrs for name in absent), attrs
    assert attrs[sc.TP_COST_CURRENCY] == "USD"


def _searched_response(body: dict[str, Any]) -> tuple[int, Any]:
    return 200, {
        "id": "resp_1", "object": "response", "created_at": 1700000000, "model": "gpt-5-2025-08-07",
        "status": "completed", "service_tier": "flex", "parallel_tool_calls": True, "tool_choice": "auto",
        "tools": [{"type": "web_search"}],
        "output": [
            {"type": "web_search_call", "id": "ws_1", "status": "completed",
             "action": {"type": "search", "query": "sky colour"}},
            {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": "Rayleigh scattering.", "annotations": []}]},
        ],
        "usage": {"input_tokens": 1_000_000, "output_tokens": 100_000, "total_tokens": 1_100_000,
                  "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
    }


def test_responses_service_tier_and_web_search_calls_are_priced(instrumented) -> None:
    client = openai_client(_searched_response)
    client.responses.create(model="gpt-5", input="Why is the sky blue?", tools=[{"type": "web_search"}],
                            service_tier="flex")
    attrs = instrumented.only_span().attributes
    assert attrs[sc.OPENAI_REQUEST_SERVICE_TIER] == attrs[sc.OPENAI_RESPONSE_SERVICE_TIER] == "flex"
    # flex tokens ($1.125) plus one web search at $10 per 1,000
    assert attrs[sc.GEN_AI_USAGE_COST] == pytest.approx(1.125 + 0.01)
