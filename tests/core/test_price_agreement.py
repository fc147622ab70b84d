"""The compiled price plans agree with ``genai_prices.calc_price`` over the whole price table.

Every provider x every model of the bundled genai-prices table, a few random (consistent) usages
each with every usage field we price (cache reads, 5-minute and 1-hour cache writes, reasoning,
audio, web searches), at the request times where the model's prices change, and with every price
variant the model has (service tiers, batch processing). Zero mismatches are allowed: this test is
what the upper version bound on genai-prices in ``pyproject.toml`` guards, so a new genai-prices
minor version is taken only once it passes here.
"""

from __future__ import annotations

import random
import warnings
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from genai_prices import Usage as GPUsage
from genai_prices import calc_price, data_snapshot
from genai_prices import types as gp_types

from tokenproof import pricing
from tokenproof.usage import USAGE_KEYS, Usage

NOW = datetime.now(tz=UTC)


def _usages(rng: random.Random) -> list[Usage]:
    usages = [Usage(input_tokens=1_000_000, output_tokens=100_000)]
    for size in (3_000, 150_000, 400_000):  # below and above the usual tier thresholds
        total = rng.randint(size // 2, size)
        audio = rng.choice((0, 0, rng.randint(0, total // 4)))
        cache_read = rng.randint(0, total // 3)
        cache_audio = rng.randint(0, min(audio, cache_read)) if audio else 0
        writes = rng.randint(0, total // 4)
        output = rng.randint(0, 20_000)
        reasoning = rng.randint(0, output // 2)
        usages.append(Usage(
            input_tokens=total,
            output_tokens=output,
            cache_read_tokens=cache_read,
            cache_creation_tokens=writes,
            reasoning_tokens=reasoning,
            cache_creation_1h_tokens=rng.randint(0, writes),
            input_audio_tokens=audio,
            output_audio_tokens=rng.randint(0, output - reasoning) if audio else 0,
            cache_audio_read_tokens=cache_audio,
            web_searches=rng.choice((0, 1, 3)),
        ))
    return usages


def _gp_usage(usage: Usage) -> GPUsage:
    return GPUsage(**{key: getattr(usage, name) for key, name in USAGE_KEYS.items()})


def _moments(model: gp_types.ModelInfo) -> list[datetime]:
    """Request times on both sides of every date or time-of-day at which the model's prices change."""
    constraints = [c.constraint for c in model.prices] if isinstance(model.prices, list) else []
    constraints += [v.constraint for v in model.price_variants or ()]
    moments = {NOW}
    for constraint in constraints:
        if isinstance(constraint, gp_types.StartDateConstraint):
            start = datetime.combine(constraint.start_date, time(12), tzinfo=UTC)
            moments.update((start, start - timedelta(days=1)))
        elif isinstance(constraint, gp_types.TimeOfDateConstraint):
            day = date(2026, 6, 1)
            inside = datetime.combine(day, constraint.start_time).replace(tzinfo=UTC) + timedelta(minutes=1)
            moments.update((inside, inside - timedelta(minutes=2)))
    return sorted(moments)


def _contexts(model: gp_types.ModelInfo) -> list[pricing.PriceContext]:
    contexts = {(): None}
    for variant in model.price_variants or ():
        contexts[tuple(sorted(variant.when.items()))] = None
    return list(contexts)


def _pairs(snapshot: data_snapshot.DataSnapshot) -> list[tuple[gp_types.Provider, gp_types.ModelInfo]]:
    """Every (provider, model) of the table, plus the models a provider prices through its fallback
    providers (e.g. OpenAI models on Azure: genai-prices ignores their price variants there)."""
    pairs = [(provider, model) for provider in snapshot.providers for model in provider.models]
    by_id = {provider.id: provider for provider in snapshot.providers}
    for provider in snapshot.providers:
        for fallback in provider.fallback_model_providers or ():
            for model in by_id[fallback].models if fallback in by_id else ():
                if provider.find_model(model.id) is None:  # priced through the fallback
                    pairs.append((provider, model))
    return pairs


def test_compiled_plans_agree_with_calc_price_over_the_whole_catalogue() -> None:
    rng = random.Random(20261201)
    snapshot = data_snapshot.get_snapshot()
    checked = mismatches = 0
    failures: list[str] = []
    pricing.reset()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # calc_price warns about price keys it ignores (as we do)
            for provider, model in _pairs(snapshot):
                resolved = pricing.resolve(provider.id, model.id)
                if resolved is None:  # an internal id its own match rule does not accept
                    with pytest.raises(LookupError):
                        calc_price(GPUsage(input_tokens=1), model.id, provider_id=provider.id)
                    continue
                for usage in _usages(rng):
                    gp_usage = _gp_usage(usage)
                    for when in _moments(model):
                        for context in _contexts(model):
                            ctx = dict(context) if context else None
                            try:
                                expected: Decimal | str = calc_price(
                                    gp_usage, model.id, provider_id=provider.id,
                                    genai_request_timestamp=when, price_context=ctx).total_price
                            except ValueError as exc:
                                expected = f"error: {exc}"
                            try:
                                ours: Decimal | str = resolved.total(usage, when, ctx)
                            except ValueError as exc:
                                ours = f"error: {exc}"
                            checked += 1
                            if (ours == expected) if isinstance(ours, Decimal) else not isinstance(expected,
                                                                                                    Decimal):
                                continue
                            mismatches += 1
                            if len(failures) < 10:
                                failures.append(f"{provider.id}/{model.id} {usage} {when} {ctx}: "
                                                f"ours {ours} vs calc_price {expected}")
    finally:
        pricing.reset()
    assert checked > 10_000
    assert mismatches == 0, "\n".join(failures)


@pytest.mark.parametrize(("tier", "batch", "usd"), [
    (None, False, 2.25), ("default", False, 2.25), ("flex", False, 1.125), ("priority", False, 4.50),
    (None, True, 1.125), ("batch", False, 1.125),
])
def test_gpt5_service_tiers_and_batch(tier, batch, usd) -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000)
    assert pricing.price("openai", "gpt-5", usage, service_tier=tier, batch=batch).usd == pytest.approx(usd)


def test_one_hour_cache_writes_are_priced_at_their_own_rate() -> None:
    five_minute = Usage(input_tokens=100_000, cache_creation_tokens=100_000)
    one_hour = five_minute.replace(cache_creation_1h_tokens=100_000)
    assert pricing.price("anthropic", "claude-3-5-sonnet-latest", five_minute).usd == pytest.approx(0.375)
    assert pricing.price("anthropic", "claude-3-5-sonnet-latest", one_hour).usd == pytest.approx(0.60)


def test_web_searches_and_audio_tokens_are_priced() -> None:
    text = Usage(input_tokens=10_000, output_tokens=1_000)
    searched = pricing.price("openai", "gpt-5", text.replace(web_searches=2)).usd
    assert searched == pytest.approx(pricing.price("openai", "gpt-5", text).usd + 2 * 10 / 1000)
    # gpt-audio: $2.5 / $10 per M text tokens, $32 / $64 per M audio tokens
    spoken = text.replace(input_audio_tokens=5_000, output_audio_tokens=500)
    assert pricing.price("openai", "gpt-audio", spoken).usd == pytest.approx(
        (5_000 * 2.5 + 5_000 * 32 + 500 * 10 + 500 * 64) / 1e6)
