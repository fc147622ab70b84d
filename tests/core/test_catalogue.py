"""The model catalogue: one answer to "which provider, family and price is this model"."""

from __future__ import annotations

import pytest

from tokenproof import catalogue, pricing
from tokenproof.analytics.proof.judge import JudgeFamilyError, model_family, resolve_judge
from tokenproof.analytics.proof.replay import provider_of

USAGE = pricing.Usage(input_tokens=10_000, output_tokens=1_000)


@pytest.mark.parametrize(("name", "provider", "family", "pricing_provider", "model", "sdk"), [
    ("openrouter/anthropic/claude-3.5-sonnet", "openrouter", "claude", "openrouter", "anthropic/claude-3.5-sonnet",
     "openai"),
    ("anthropic/claude-3-5-sonnet", "anthropic", "claude", "anthropic", "claude-3-5-sonnet", "anthropic"),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "aws.bedrock", "claude", "aws",
     "anthropic.claude-3-5-sonnet-20240620-v1:0", None),
    ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", "aws.bedrock", "claude", "aws",
     "us.anthropic.claude-3-5-sonnet-20240620-v1:0", None),
    ("accounts/fireworks/models/llama-v3p1-8b-instruct", "fireworks", "llama", "fireworks",
     "accounts/fireworks/models/llama-v3p1-8b-instruct", "openai"),
    ("ft:gpt-4o-mini-2024-07-18:acme:support:abc123", "openai", "gpt", "openai",
     "ft:gpt-4o-mini-2024-07-18:acme:support:abc123", "openai"),
    ("claude-3-5-sonnet@20240620", "gcp.vertex_ai", "claude", "google", "claude-3-5-sonnet@20240620", None),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "mistral_ai", "mistral", "mistral", "mixtral-8x7b-instruct-v0.1",
     "openai"),
    ("gpt-4o-mini", "openai", "gpt", "openai", "gpt-4o-mini", "openai"),
])
def test_namespaced_names_are_recognised(name, provider, family, pricing_provider, model, sdk) -> None:
    info = catalogue.lookup(name)
    assert info is not None
    assert (info.provider, info.family, info.pricing_provider, info.model, info.sdk) == (
        provider, family, pricing_provider, model, sdk)
    # every one of them has a price under the provider the catalogue names
    assert pricing.price(info.provider, name, USAGE).usd


def test_fine_tune_is_of_its_base_family_and_priced_at_genai_prices_fine_tune_rate() -> None:
    name = "ft:gpt-4o-mini-2024-07-18:acme:support:abc123"
    info = catalogue.lookup(name)
    assert info is not None and info.fine_tune and catalogue.same_family(name, "gpt-4o")
    tuned = pricing.price("openai", name, USAGE)
    base = pricing.price("openai", "gpt-4o-mini", USAGE)
    assert tuned.model_ref == "ft:gpt-4o-mini" and tuned.usd > base.usd


@pytest.mark.parametrize(("url", "provider"), [
    ("https://api.deepseek.com/v1", "deepseek"),
    ("https://api.groq.com/openai/v1", "groq"),
    ("https://openrouter.ai/api/v1", "openrouter"),
    ("https://api.together.xyz/v1", "together"),
    ("https://api.fireworks.ai/inference/v1", "fireworks"),
    ("https://api.mistral.ai/v1", "mistral_ai"),
    ("https://api.x.ai/v1", "x_ai"),
    ("https://acme.openai.azure.com/openai/deployments/prod", "azure.ai.openai"),
    ("https://api.openai.com/v1/", "openai"),
    ("https://us-central1-aiplatform.googleapis.com/v1", "gcp.vertex_ai"),
    ("http://127.0.0.1:8000/v1", None),
    ("http://localhost:11434/v1", None),
    ("https://llm.internal.example.org/v1", None),
    (None, None),
])
def test_provider_follows_the_host_of_an_openai_compatible_endpoint(url, provider) -> None:
    assert catalogue.provider_for_url(url) == provider


def test_lookup_precedence_and_unknown_names() -> None:
    # the base URL's host names the provider of a bare model name
    info = catalogue.lookup("deepseek-chat", base_url="https://api.deepseek.com/v1")
    assert info is not None and (info.provider, info.family, info.sdk) == ("deepseek", "deepseek", "openai")
    # an explicit provider wins over the host
    assert catalogue.lookup("gpt-4o", provider="azure.ai.openai", base_url="https://api.openai.com/v1").provider \
        == "azure.ai.openai"
    # a local server serving a known model: the model's own provider
    assert catalogue.lookup("gpt-4o", base_url="http://127.0.0.1:9/v1").provider == "openai"
    # an Azure deployment name holding a model name
    azure = catalogue.lookup("prod-gpt-4o", base_url="https://acme.openai.azure.com/")
    assert azure is not None and (azure.provider, azure.family, azure.model) == ("azure.ai.openai", "gpt", "gpt-4o")
    assert catalogue.lookup("tokenproof-judge", base_url="http://127.0.0.1:9/v1") is None
    assert catalogue.lookup("") is None


def test_reasoning_models_get_their_own_judge_defaults() -> None:
    for name in ("o3-mini", "o1", "gpt-5", "gpt-5-mini", "deepseek-reasoner"):
        info = catalogue.lookup(name)
        assert info is not None and info.reasoning, name
        assert info.judge_temperature is None and info.judge_max_tokens > 1000
    for name in ("gpt-4o", "gpt-5-chat-latest", "claude-3-5-sonnet", "mixtral-8x7b-instruct"):
        info = catalogue.lookup(name)
        assert info is not None and not info.reasoning, name
        assert info.judge_temperature == 0.0


def test_judge_family_rule_reads_the_catalogue() -> None:
    assert model_family("openrouter/anthropic/claude-3.5-sonnet") == model_family("claude-3-haiku") == "claude"
    assert model_family("us.anthropic.claude-3-5-sonnet-20240620-v1:0") == "claude"
    assert model_family("accounts/fireworks/models/llama-v3p1-8b-instruct") == model_family("meta-llama/Llama-3-8b")
    assert model_family("o3-mini") == model_family("gpt-4o") == "gpt"
    assert catalogue.same_family("ft:gpt-4o-mini-2024-07-18:acme::x", "gpt-4.1")
    assert not catalogue.same_family("unknown-a", "unknown-a")  # no family known: not "the same family"
    with pytest.raises(JudgeFamilyError):
        resolve_judge("gpt-4o", "us.anthropic.claude-3-5-sonnet-20240620-v1:0", judge="openrouter/anthropic/claude-3-opus")
    assert resolve_judge("gpt-4o", "accounts/fireworks/models/llama-v3p1-8b-instruct") == "gpt-4o"


def test_replay_prices_under_the_catalogue_provider() -> None:
    assert provider_of("claude-3-5-sonnet") == "anthropic"
    assert provider_of("mistral-large-latest") == "mistral_ai"
    assert provider_of("deepseek-chat") == "deepseek"
    assert provider_of("openrouter/anthropic/claude-3.5-sonnet") == "openrouter"
    assert provider_of("tokenproof-judge") == "openai"
