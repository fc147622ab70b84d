"""Per-call pricing time: tokenproof.pricing.price() vs genai_prices.calc_price().

Runs interleaved rounds over a few models (flat, cached, tiered, date-conditional, unknown) and
prints the median microseconds per call of each and their ratio, plus first-lookup (resolve) time
and offline token counting speed. Bounded counts; takes a few seconds.

    .venv/bin/python bench/bench_pricing.py [--rounds 7] [--calls 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from genai_prices import Usage as GPUsage
from genai_prices import calc_price

from tokenproof import pricing, tokens
from tokenproof.usage import Usage

CASES = [
    ("openai", "gpt-4o-2024-08-06", Usage(1200, 300, cache_read_tokens=800)),
    ("openai", "gpt-4o-mini", Usage(500, 120)),
    ("anthropic", "claude-sonnet-4-5", Usage(250_000, 2_000, cache_read_tokens=100_000, cache_creation_tokens=5_000)),
    ("anthropic", "claude-sonnet-4-6", Usage(4_000, 500)),  # date-conditional prices
    ("openai", "o3", Usage(2_000, 3_000, reasoning_tokens=2_500)),
]


def per_call_us(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    print(f"price table {pricing.price_version()}; {args.rounds} interleaved rounds x {args.calls} calls per case")
    print(f"{'case':<40} {'tokenproof us':>14} {'calc_price us':>14} {'ratio':>8}")
    ratios = []
    for provider, model, usage in CASES:
        gp_usage = GPUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                           cache_read_tokens=usage.cache_read_tokens,
                           cache_write_tokens=usage.cache_creation_tokens,
                           **({"output_reasoning_tokens": usage.reasoning_tokens} if usage.reasoning_tokens else {}))
        provider_id = pricing.genai_provider_id(provider)
        ours = pricing.price(provider, model, usage).usd
        theirs = float(calc_price(gp_usage, model, provider_id=provider_id).total_price)
        assert ours == theirs, (model, ours, theirs)
        ours_t, theirs_t = [], []
        calls_ref = max(args.calls // 20, 50)
        for _ in range(args.rounds):
            ours_t.append(per_call_us(lambda: pricing.price(provider, model, usage), args.calls))
            theirs_t.append(per_call_us(lambda: calc_price(gp_usage, model, provider_id=provider_id), calls_ref))
        a, b = statistics.median(ours_t), statistics.median(theirs_t)
        ratios.append(b / a)
        print(f"{provider + '/' + model:<40} {a:>14.2f} {b:>14.1f} {b / a:>7.0f}x")
    unknown = Usage(100, 10)
    unknown_t = statistics.median(per_call_us(lambda: pricing.price("openai", "acme-unknown", unknown), args.calls)
                                  for _ in range(args.rounds))
    print(f"{'openai/acme-unknown (unpriced)':<40} {unknown_t:>14.2f}")
    tier = Usage(1_000_000, 100_000)
    flex_t = statistics.median(per_call_us(lambda: pricing.price("openai", "gpt-5", tier, service_tier="flex"), args.calls)
                               for _ in range(args.rounds))
    print(f"{'openai/gpt-5 service_tier=flex':<40} {flex_t:>14.2f}")
    hit_usage = CASES[0][2]
    pricing.price_counts(CASES[0][0], CASES[0][1], hit_usage)
    hit_t = statistics.median(per_call_us(lambda: pricing.price_counts(CASES[0][0], CASES[0][1], hit_usage), args.calls * 5)
                              for _ in range(args.rounds))
    print(f"{'price_counts, repeated call (cache hit)':<40} {hit_t:>14.2f}")
    print(f"median speed-up over calc_price: {statistics.median(ratios):.0f}x")

    resolve_t = []
    for _ in range(args.rounds):
        pricing.reset()
        start = time.perf_counter()
        for _provider, _model, _ in CASES:
            pricing.resolve(_provider, _model)
        resolve_t.append((time.perf_counter() - start) / len(CASES) * 1e6)
    print(f"first lookup (resolve + compile, once per model): median {statistics.median(resolve_t):.0f} us")

    start = time.perf_counter()
    tokens.get_encoding("o200k_base")
    load_o200k = time.perf_counter() - start
    start = time.perf_counter()
    tokens.get_encoding("cl100k_base")
    load_cl100k = time.perf_counter() - start
    text = "The quick brown fox jumps over the lazy dog. " * 40
    n_tokens = tokens.count_tokens("gpt-4o", text)
    count_t = statistics.median(per_call_us(lambda: tokens.count_tokens("gpt-4o", text), 200)
                                for _ in range(args.rounds))
    print(f"offline encodings: o200k_base loaded+verified in {load_o200k * 1000:.0f} ms, "
          f"cl100k_base in {load_cl100k * 1000:.0f} ms; counting {n_tokens} tokens: {count_t:.0f} us")


if __name__ == "__main__":
    main()
