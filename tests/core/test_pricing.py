"""Pricing: agreement with genai-prices' calc_price, cache/reasoning/tiered prices, unpriced state."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime

import genai_prices
import pytest
from genai_prices import Usage as GPUsage
from genai_prices import calc_price

from tokenproof import pricing, semconv
from tokenproof.pricing import Usage, price

M = 1_000_000


def reference(provider: str, model: str, usage: Usage, when: datetime | None = None) -> float:
    values = dict(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                  cache_read_tokens=usage.cache_read_tokens, cache_write_tokens=usage.cache_creation_tokens)
    if usage.reasoning_tokens:
        values["output_reasoning_tokens"] = usage.reasoning_tokens
    result = calc_price(GPUsage(**values), model, provider_id=pricing.genai_provider_id(provider),
                        genai_request_timestamp=when)
    return float(result.total_price)


def random_usage(rnd: random.Random) -> Usage:
    total_in = rnd.choice([0, 7, 1000, 123_457, 199_999, 200_001, 272_001, 1_500_000])
    cache_read = rnd.randint(0, total_in // 2)
    cache_write = rnd.randint(0, (total_in - cache_read) // 2)
    out = rnd.choice([0, 1, 333, 20_000])
    return Usage(total_in, out, cache_read, cache_write, rnd.randint(0, out))


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gcp.gemini", "aws.bedrock", "azure.ai.openai",
                                      "mistral_ai", "x_ai", "deepseek", "groq", "perplexity"])
def test_every_model_of_a_provider_agrees_exactly_with_calc_price(provider: str) -> None:
    rnd = random.Random(provider)
    models = pricing.catalogue([provider])
    assert len(models) > 3
    for entry in models:
        for _ in range(4):
            usage = random_usage(rnd)
            cost = price(provider, entry.model, usage)
            assert cost.status == semconv.COST_PRICED
            assert cost.usd == reference(provider, entry.model, usage), (entry.model, usage)


def test_dated_model_names_match_the_table_entry_and_agree() -> None:
    usage = Usage(1000, 200, cache_read_tokens=500)
    cost = price("openai", "gpt-4o-2024-08-06", usage)
    assert cost.model_ref == "gpt-4o"
    assert cost.price_source == "genai-prices"
    assert cost.price_version == f"genai-prices-{genai_prices.__version__}"
    assert cost.usd == reference("openai", "gpt-4o-2024-08-06", usage)


def test_past_dates_use_the_price_that_applied_then() -> None:
    # Models with date-conditional prices: every request date gets calc_price's answer for that date.
    usage = Usage(50_000, 2_000, cache_read_tokens=10_000)
    dated = [(e.provider, e.model) for e in pricing.catalogue(["anthropic", "openai", "deepseek", "gcp.gemini"])
             if pricing.resolve(e.provider, e.model).date_dependent]
    assert dated, "expected some models with date-conditional prices"
    for provider, model in dated:
        for when in (datetime(2023, 1, 1, tzinfo=UTC), datetime(2025, 6, 1, 3, 30, tzinfo=UTC),
                     datetime(2026, 12, 1, 17, 0, tzinfo=UTC)):
            assert price(provider, model, usage, when=when).usd == reference(provider, model, usage, when)


def test_cache_reads_and_writes_are_priced_at_their_own_rates() -> None:
    # claude-3-5-haiku: input $0.8, cache read $0.08, cache write $1, output $4 per million
    usage = Usage(input_tokens=10_000, output_tokens=1_000, cache_read_tokens=6_000, cache_creation_tokens=3_000)
    cost = price("anthropic", "claude-3-5-haiku-latest", usage)
    expected = (1_000 * 0.8 + 6_000 * 0.08 + 3_000 * 1.0 + 1_000 * 4.0) / M
    assert cost.usd == pytest.approx(expected, rel=1e-12)
    # the same call without the cache split costs input rate on everything
    plain = price("anthropic", "claude-3-5-haiku-latest", Usage(10_000, 1_000))
    assert plain.usd == pytest.approx((10_000 * 0.8 + 1_000 * 4.0) / M, rel=1e-12)
    assert cost.usd != plain.usd


def test_reasoning_tokens_are_output_unless_the_model_prices_them_separately() -> None:
    # o3 has no reasoning rate: reasoning tokens are part of output and priced as output
    with_reasoning = price("openai", "o3", Usage(1_000, 1_000, reasoning_tokens=800))
    without = price("openai", "o3", Usage(1_000, 1_000))
    assert with_reasoning.usd == without.usd
    # sonar-deep-research: output $8, reasoning $3 per million
    cost = price("perplexity", "sonar-deep-research", Usage(1_000, 1_000, reasoning_tokens=400))
    assert cost.usd == pytest.approx((1_000 * 2 + 600 * 8 + 400 * 3) / M, rel=1e-12)


def test_tiered_prices_switch_on_total_input_including_cached_tokens() -> None:
    # claude-sonnet-4-5: $3 / $15 per million up to 200k input tokens, $6 / $22.5 above
    below = price("anthropic", "claude-sonnet-4-5", Usage(200_000, 1_000))
    above = price("anthropic", "claude-sonnet-4-5", Usage(200_001, 1_000))
    assert below.usd == pytest.approx((200_000 * 3 + 1_000 * 15) / M, rel=1e-12)
    assert above.usd == pytest.approx((200_001 * 6 + 1_000 * 22.5) / M, rel=1e-12)
    cached = price("anthropic", "claude-sonnet-4-5", Usage(250_000, 0, cache_read_tokens=240_000))
    assert cached.usd == pytest.approx((10_000 * 6 + 240_000 * 0.6) / M, rel=1e-12)
    catalogue = {e.model: e for e in pricing.catalogue(["anthropic"])}
    assert catalogue["claude-sonnet-4-5"].tiered and catalogue["claude-sonnet-4-5"].input_mtok == 3


def test_unknown_model_is_unpriced_never_zero_and_counted() -> None:
    usage = Usage(1000, 100)
    for _ in range(3):
        cost = price("openai", "my-private-model", usage)
        assert cost.usd is None
        assert cost.status == semconv.COST_UNPRICED
        assert cost.price_source == "" and cost.model_ref is None
    price("someprovider", "another-unknown", usage)
    counts = pricing.unpriced_counts()
    assert counts[("openai", "my-private-model")] == 3
    assert counts[("someprovider", "another-unknown")] == 1
    assert ("openai", "gpt-4o") not in counts
    assert pricing.resolve("openai", "my-private-model") is None


def test_inconsistent_usage_is_unpriced_not_a_crash() -> None:
    cost = price("openai", "gpt-4o", Usage(input_tokens=100, output_tokens=10, cache_read_tokens=500))
    assert cost.usd is None and cost.status == semconv.COST_UNPRICED
    assert pricing.unpriced_counts()[("openai", "gpt-4o")] == 1


def test_provider_names_map_to_the_price_table() -> None:
    assert pricing.genai_provider_id("azure.ai.openai") == "azure"
    assert pricing.genai_provider_id("aws.bedrock") == "aws"
    assert pricing.genai_provider_id("gcp.vertex_ai") == "google"
    assert pricing.genai_provider_id("x_ai") == "x-ai"
    # Azure serves OpenAI's models: priced through genai-prices' fallback
    assert price("azure.ai.openai", "gpt-4o", Usage(1000, 100)).usd == reference("azure.ai.openai", "gpt-4o",
                                                                               Usage(1000, 100))
    # an unrecognised provider (e.g. a gateway) falls back to matching by model name
    assert price("my-gateway", "gpt-4o", Usage(1000, 100)).status == semconv.COST_PRICED
    with pytest.raises(pricing.PricingError, match="unknown provider 'nonsense'"):
        pricing.catalogue(["nonsense"])


def test_concurrent_pricing_gives_the_same_answers() -> None:
    usage = Usage(5_000, 700, cache_read_tokens=1_000)
    models = [e.model for e in pricing.catalogue(["openai"])][:40]
    expected = {m: reference("openai", m, usage) for m in models}
    pricing.reset()
    errors: list[str] = []

    def work() -> None:
        for model in models * 5:
            got = price("openai", model, usage).usd
            if got != expected[model]:
                errors.append(f"{model}: {got} != {expected[model]}")

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_missing_token_counts_are_unpriced_not_a_crash() -> None:
    cost = price("openai", "gpt-4o", Usage(None, 10))  # type: ignore[arg-type]
    assert cost.usd is None and cost.status == semconv.COST_UNPRICED


def test_an_application_changing_the_decimal_context_does_not_change_costs() -> None:
    import decimal

    usage = Usage(123_457, 9_871, cache_read_tokens=11_111)
    expected = reference("openai", "gpt-4o", usage)
    with decimal.localcontext() as ctx:
        ctx.prec = 3
        ctx.traps[decimal.Inexact] = True
        assert price("openai", "gpt-4o", usage).usd == expected
