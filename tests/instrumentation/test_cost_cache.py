"""The per-(provider, model, usage) cost cache of the instrumentation's hot path (pricing.price_counts)."""

from __future__ import annotations

from pathlib import Path

from tokenproof import pricing

USAGE = pricing.Usage(input_tokens=10_000, output_tokens=1_000, cache_read_tokens=4_000)


def test_cached_cost_equals_price_and_follows_overrides(tmp_path: Path) -> None:
    try:
        pricing.reset()
        expected = pricing.price("openai", "gpt-4o", USAGE)
        first = pricing.price_counts("openai", "gpt-4o", USAGE)
        assert first == expected
        assert pricing.price_counts("openai", "gpt-4o", USAGE) is pricing.price_counts("openai", "gpt-4o", USAGE)
        path = tmp_path / "prices.toml"
        path.write_text('[[overrides]]\nprovider = "openai"\ndiscount = 0.5\n', encoding="utf-8")
        pricing.use_overrides(pricing.load_overrides(path))  # a new table: cached costs are forgotten
        discounted = pricing.price_counts("openai", "gpt-4o", USAGE)
        assert discounted == pricing.price("openai", "gpt-4o", USAGE)
        assert discounted.usd is not None and expected.usd is not None and discounted.usd < expected.usd
        assert discounted.price_version != expected.price_version
    finally:
        pricing.reset()


def test_unpriced_calls_are_counted_every_time() -> None:
    try:
        pricing.reset()
        for _ in range(3):
            assert pricing.price_counts("openai", "no-such-model-xyz", USAGE).usd is None
        assert pricing.unpriced_counts()[("openai", "no-such-model-xyz")] == 3
    finally:
        pricing.reset()


def test_time_dependent_prices_are_not_cached() -> None:
    try:
        pricing.reset()
        dated = [(e.provider, e.model) for e in pricing.catalogue(["anthropic", "openai"])
                 if pricing.resolve(e.provider, e.model).date_dependent]
        assert dated
        provider, model = dated[0]
        assert pricing.price_counts(provider, model, USAGE) == pricing.price(provider, model, USAGE)
        assert not any(key[:2] == (provider, model) for key in pricing._costs)
    finally:
        pricing.reset()
