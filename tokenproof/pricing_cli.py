"""`tokenproof prices`: look up a model's price, list a provider's prices, check an overrides file.

    tokenproof prices gpt-4o --provider openai --input 1000 --output 200 [--cache-read N]
    tokenproof prices gpt-5 --input 1000000 --output 100000 --service-tier flex   (or --batch)
    tokenproof prices deepseek-chat --base-url https://api.deepseek.com/v1 --input 1000
    tokenproof prices --list --provider anthropic
    tokenproof prices --check-overrides FILE

``--overrides FILE`` prices with that file instead of the configured one; ``--json`` prints
machine-readable output. Exit codes: 0 ok, 1 model unpriced, 2 bad input (e.g. an invalid
overrides file, with the error naming the bad entry).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from tokenproof import pricing, semconv, settings

__all__ = ["configure", "run"]


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="model name as sent to the provider (e.g. gpt-4o)")
    parser.add_argument("--provider", default=None,
                        help="gen_ai.provider.name (openai, anthropic, azure.ai.openai, aws.bedrock, ...)")
    parser.add_argument("--input", type=int, default=0, metavar="N", help="input tokens, cached ones included")
    parser.add_argument("--output", type=int, default=0, metavar="N", help="output tokens, reasoning included")
    parser.add_argument("--cache-read", type=int, default=0, metavar="N", help="input tokens read from cache")
    parser.add_argument("--cache-write", type=int, default=0, metavar="N", help="input tokens written to cache")
    parser.add_argument("--reasoning", type=int, default=0, metavar="N", help="reasoning tokens (part of output)")
    parser.add_argument("--cache-write-1h", type=int, default=0, metavar="N",
                        help="cache writes with a one-hour lifetime (part of --cache-write)")
    parser.add_argument("--web-searches", type=int, default=0, metavar="N", help="server-side web search requests")
    parser.add_argument("--service-tier", default=None, metavar="TIER", help="service tier (flex, priority, ...)")
    parser.add_argument("--batch", action="store_true", help="Batch API rates")
    parser.add_argument("--base-url", default=None, metavar="URL",
                        help="the client's base URL (prices under the provider whose API it is)")
    parser.add_argument("--list", action="store_true", help="list every priced model of --provider")
    parser.add_argument("--check-overrides", metavar="FILE", help="validate a price overrides file and exit")
    parser.add_argument("--overrides", metavar="FILE", help="use this overrides file instead of the configured one")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _fail(message: str) -> int:
    print(f"tokenproof prices: {message}", file=sys.stderr)
    return 2


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def run(name: str, args: argparse.Namespace) -> int:
    try:
        if args.check_overrides:
            return _check(args)
        path = args.overrides or settings.get("price_overrides")
        pricing.use_overrides(pricing.load_overrides(path) if path else None)
        if args.list:
            return _list(args)
        if not args.model:
            return _fail("give a MODEL to price, --list or --check-overrides (see --help)")
        return _price(args)
    except (pricing.PricingError, settings.SettingsError) as exc:
        return _fail(str(exc))


def _check(args: argparse.Namespace) -> int:
    overrides = pricing.load_overrides(args.check_overrides)
    version = f"{pricing.TABLE_VERSION}+overrides-{overrides.sha8}"
    if args.json:
        print(json.dumps({"ok": True, "file": overrides.path, "entries": len(overrides.entries),
                          "price_version": version}))
    else:
        print(f"{overrides.path}: OK, {len(overrides.entries)} entr{'y' if len(overrides.entries) == 1 else 'ies'}; "
              f"price version {version}")
    return 0


def _list(args: argparse.Namespace) -> int:
    providers = [args.provider] if args.provider else None
    entries = pricing.catalogue(providers)
    if args.model:
        entries = [e for e in entries if args.model.lower() in e.model.lower()]
    if args.json:
        print(json.dumps({"price_version": pricing.price_version(), "models": [asdict(e) for e in entries]}))
        return 0
    print(f"{'provider':<16} {'model':<44} {'input':>9} {'output':>9} {'cache rd':>9} {'cache wr':>9}  (USD / 1M tokens)")
    for e in entries:
        flag = " tiered" if e.tiered else ""
        flag += " override" if e.price_source == pricing.SOURCE_OVERRIDE else ""
        print(f"{e.provider:<16} {e.model:<44} {_fmt(e.input_mtok):>9} {_fmt(e.output_mtok):>9} "
              f"{_fmt(e.cache_read_mtok):>9} {_fmt(e.cache_write_mtok):>9}{flag}")
    print(f"{len(entries)} models; price version {pricing.price_version()}")
    return 0


def _price(args: argparse.Namespace) -> int:
    counts = {"input": args.input, "output": args.output, "cache-read": args.cache_read,
              "cache-write": args.cache_write, "reasoning": args.reasoning, "cache-write-1h": args.cache_write_1h,
              "web-searches": args.web_searches}
    negative = [k for k, v in counts.items() if v < 0]
    if negative:
        return _fail(f"--{negative[0]} must not be negative")
    usage = pricing.Usage(input_tokens=args.input, output_tokens=args.output, cache_read_tokens=args.cache_read,
                          cache_creation_tokens=args.cache_write, reasoning_tokens=args.reasoning,
                          cache_creation_1h_tokens=args.cache_write_1h, web_searches=args.web_searches)
    provider = args.provider or ""
    resolved = pricing.resolve(provider, args.model, args.base_url)
    context = pricing.price_context(args.service_tier, batch=args.batch)
    cost = pricing.price(provider, args.model, usage, api_url=args.base_url, context=context)
    rates = resolved.rates(context=dict(context)) if resolved is not None else {}
    if args.json:
        print(json.dumps({"provider": provider, "model": args.model, "usage": usage._asdict(),
                          **asdict(cost), "rates_per_million": rates}))
    elif cost.status == semconv.COST_UNPRICED:
        print(f"{args.model} ({provider or 'any provider'}): UNPRICED, genai-prices "
              f"{pricing.price_version()} has no price for it; add an alias or explicit price in an "
              "overrides file (TOKENPROOF_PRICE_OVERRIDES)")
    else:
        print(f"{args.model} ({provider or 'any provider'}) -> {cost.model_ref} [{cost.price_source}]")
        print("  rates (USD / 1M tokens): " + ", ".join(f"{k.removesuffix('_mtok')} {v:g}" for k, v in rates.items()))
        print(f"  usage: {usage.input_tokens} input ({usage.cache_read_tokens} cache read, "
              f"{usage.cache_creation_tokens} cache write), {usage.output_tokens} output "
              f"({usage.reasoning_tokens} reasoning)")
        print(f"  cost: ${cost.usd:.6f}   price version {cost.price_version}")
    return 0 if cost.status == semconv.COST_PRICED else 1
