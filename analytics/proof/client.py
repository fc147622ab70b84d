"""`tokenproof candidates`, `shadow`, `shadow-status`, `recommendations` through the service API.

The embedded store has one owning process (the service), so these commands never open it: they
call the API with ``tokenproof.client.ServiceClient`` and print a table (or JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import sys

from tokenproof.client import ServiceClient, ServiceError, ShadowJob

__all__ = ["run_service_command"]


def _money(value) -> str:
    return "unpriced" if value is None else f"${value:,.2f}"


def _client(args: argparse.Namespace) -> ServiceClient:
    return ServiceClient(args.service_url, args.token)


def _candidates(args: argparse.Namespace) -> int:
    groups = _client(args).candidates(days=args.days, limit=args.limit)
    if args.json:
        print(json.dumps({"groups": [g.as_dict() for g in groups]}, indent=2))
        return 0
    if not groups:
        print("no product LLM calls in the window")
        return 0
    for g in groups:
        name = f"{g.service}/{g.feature or '-'}/{g.fingerprint or '-'} on {g.baseline_model}"
        unpriced = f" + {g.unpriced_calls} unpriced calls" if g.unpriced_calls else ""
        print(f"{name}: {g.calls} calls ({g.calls_per_day}/day), spend {_money(g.cost_usd)}{unpriced}; "
              f"tokens in/out {g.mean_input_tokens:.0f}/{g.mean_output_tokens:.0f}, cache "
              f"{g.cache_share:.0%}, format {g.output_format}")
        if g.too_small:
            days = g.days_to_decision
            print(f"    too small to decide: ~{g.comparisons_needed} comparisons needed, "
                  f"{'never' if days is None else f'{days:.0f} days'} at the shadow sampling rate")
            continue
        if g.baseline_cost_per_call_usd is None:
            print("    baseline model unpriced: no saving can be projected (add it to the price overrides file)")
            continue
        for c in g.candidates:
            print(f"    -> {c.provider}/{c.model}: {_money(c.projected_monthly_saving_usd)} per month "
                  f"({c.saving_share:.0%} cheaper per call)")
        if not g.captured_calls:
            print("    (no captured prompts: enable content capture to run shadow comparisons)")
    return 0


def _shadow(args: argparse.Namespace) -> int:
    body = {"service": args.service or "", "feature": args.feature or "", "fingerprint": args.fingerprint or "",
            "judge": args.judge, "budget_usd": args.budget_usd, "limit": args.limit, "endpoint": args.endpoint}
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as fh:
                body["requests"] = [json.loads(line) for line in fh if line.strip()]
        except (OSError, ValueError) as exc:
            print(f"tokenproof shadow: cannot read {args.file}: {exc}", file=sys.stderr)
            return 2
    client = _client(args)
    job = client.start_shadow_run(args.baseline, args.candidate, **body)
    if not args.wait:
        print(f"shadow run {job.job_id} started; follow it with `tokenproof shadow-status {job.job_id}`")
        return 0
    while job.running:
        job = client.shadow_run(job.job_id, wait_s=20)
    return _print_job(job)


def _print_job(job: ShadowJob) -> int:
    if job.state == "failed":
        print(f"shadow run {job.job_id} failed: {job.error}", file=sys.stderr)
        return 1
    result = job.result
    if result is None:
        progress = job.progress
        print(f"shadow run {job.job_id}: {job.state}; {progress.get('done', 0)} of {progress.get('total', '?')} "
              f"prompts, {progress.get('n', 0)} comparisons, spent {_money(progress.get('spent_usd', 0.0))}")
        return 0
    print(f"shadow run {job.job_id} {job.state}: route {result.route_id} (version {result.version}, judge "
          f"{result.judge}): {result.decision.upper()} after {result.n} comparisons (wins {result.wins}, "
          f"ties {result.ties}, losses {result.losses}, unresolved {result.extra('unresolved', 0)}); "
          f"{result.new_comparisons} new, spent {_money(result.spent_usd)} of {_money(result.budget_usd)}; "
          f"stopped: {result.stop_reason}")
    if result.meaning:
        print(result.meaning)
    return 0


def _shadow_status(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.job is None:
        jobs = client.shadow_runs()
        if not jobs:
            print("no shadow runs in this service process")
        for job in jobs:
            _print_job(job)
        return 0
    if args.cancel:
        client.cancel_shadow_run(args.job)
        print(f"shadow run {args.job}: cancel requested (stops after the comparison in flight)")
        return 0
    return _print_job(client.shadow_run(args.job))


def _recommendations(args: argparse.Namespace) -> int:
    data = _client(args).recommendations()
    if args.json:
        print(json.dumps(data.as_dict(), indent=2))
        return 0
    if not data.recommendations:
        print(f"no recommendations yet ({data.routes_tested} routes under test)")
        return 0
    for rec in data.recommendations:
        conf = rec.confidence
        print(f"{rec.route_id}: {rec.baseline} -> {rec.candidate} for {json.dumps(rec.match)}: "
              f"saves {_money(rec.monthly_saving_usd)} per month; loses (or unresolved) below "
              f"{conf.loss_rate_upper_bound} at {conf.level:.1%}, tie-adjusted win rate "
              f"{conf.tie_adjusted_win_rate}, over {conf.comparisons} comparisons"
              f"{' [not significant at portfolio level]' if data.routes_tested > 1 and not rec.portfolio_switch else ''}"
              f"; evidence {rec.evidence}")
    print(f"{data.switch_per_route} switch decisions, {data.switch_after_portfolio_control} after portfolio "
          f"control ({data.portfolio_method})")
    print(data.meaning)
    return 0


def run_service_command(name: str, args: argparse.Namespace) -> int:
    handlers = {"candidates": _candidates, "shadow": _shadow, "shadow-status": _shadow_status,
                "recommendations": _recommendations}
    try:
        return handlers[name](args)
    except ServiceError as exc:
        print(f"tokenproof {name}: {exc}", file=sys.stderr)
        return 1
