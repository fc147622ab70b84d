"""Proof scheduler: simulated days and shadow dollars from first traffic to each decision, against
running every candidate at once.

    .venv/bin/python bench/bench_scheduler.py [--days 13] [--slices 4] [--rates 0.1,1.0] [--no-all-at-once]

Real parts: an embedded chDB store, the local replay provider (recorded GPT-4 / Mixtral answers of
the lm-sys/RouteLLM corpus; the judge, claude-opus-4-1, follows the recorded correctness labels),
product traffic with captured content inserted as the exporter writes it, the miner proposing the
candidates and the scheduler's own pass (``Scheduler.run_pass``) or ``run_shadow``.

Traffic arrives over simulated time: six request groups (features) of one service, baseline
gpt-4o, each at its own calls per day, questions drawn from one corpus population in turn (the
product repeats questions once the corpus' distinct ones are used; the proof engine compares a
prompt at most once per candidate). Simulated day ``d`` of ``--days`` lies ``days - d`` real days in
the past, inside the 14-day sampling window (``proof_sample_days``). Each simulated day is cut in
``--slices`` slices: a slice's traffic is inserted, then passes run until one makes no comparison
(the service's loop passes every two minutes, far more often than a slice), and a route that
decided in them is counted as deciding at the slice's end. Four groups are populations where the
candidates' recorded answers (all the candidates answer with the Mixtral recording) are as good as
GPT-4's (MMLU marketing, sociology, high-school government, world religions), two where they are
worse (GSM8K, MMLU moral scenarios). Candidates allowed: gpt-4o-mini, gpt-4.1-mini, gpt-4.1-nano,
gpt-5-mini (gpt-3.5-turbo has no recording in the provider's model table).

Arms, each in its own process (chDB hosts one engine directory per process) on a fresh store:

- ``scheduler``: the default policy (sampling rate 0.1, 25 comparisons per route per pass, two
  routes at once, one candidate per group at a time, budgets $5 per route, $5 per day, $50 per
  month, family-wise alpha 0.05 over ``proof_portfolio_routes`` = 5 admitted groups), with the
  features, candidates and judge named and the rate limit raised. All passes run on one real day, so
  the day's budget is emulated: before each simulated day's first pass it is set to what was spent
  before that day plus $5 (a policy change, recorded as one). The month's budget applies as is.
- ``all-at-once``: every (group, candidate) pair the miner proposes is shadow-tested from the first
  slice on, in parallel, each at the same sampling quota (the sampling rate x the group's captured
  calls in the window), through ``run_shadow`` with the same $5 route budget and no day or month
  budget; the family-wise alpha is divided over the six groups (``portfolio`` 6), each group's
  candidates spending its share as a series, so both arms keep the false-switch rate at 0.05.

``--days`` above 13 widens the sampling window to fit (``TOKENPROOF_PROOF_SAMPLE_DAYS``, not the
default policy), so every simulated day's traffic stays inside it.

Printed per route: simulated days to its decision, comparisons, shadow dollars (candidate replay,
judge calls and the judge's calibration); per arm: dollars and days to the first SWITCH and to the
last decision, the groups admitted (the alpha portfolio) and the budget stops; then the arms side by
side with ratios. Runs on loopback only and stops (a few minutes on two cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

BASELINE, JUDGE = "gpt-4o", "claude-opus-4-1"
CANDIDATES = ["gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5-mini"]
SERVICE = "support-app"
SYSTEM = "Answer the question."
# feature, corpus population, calls per day, expected outcome
GROUPS = [
    ("quiz-marketing", "mmlu:marketing", 300, "as good"),
    ("quiz-sociology", "mmlu:sociology", 200, "as good"),
    ("quiz-civics", "mmlu:high_school_government_and_politics", 150, "as good"),
    ("quiz-religions", "mmlu:world_religions", 100, "as good"),
    ("math-tutor", "gsm8k", 400, "worse"),
    ("ethics-helper", "mmlu:moral_scenarios", 150, "worse"),
]
FINISHED = {"switch", "keep", "uninformative", "undecided", "budget_exhausted"}
DEFAULT_DAY_USD = 5.0
MAX_PASSES_PER_SLICE = 40


# --- one arm (in its own process) ----------------------------------------------------------------

def _spans(groups: list[tuple[str, str, int, str]], start: dt.datetime, slice_h: float, index: int,
           cursor: dict[str, int]) -> list[dict[str, Any]]:
    """The product traffic of one slice: each group's calls spread evenly over it, content captured."""
    from tokenproof import pricing, semconv
    from tokenproof_devkit.provider.corpus import GPT4, get_corpus

    corpus = get_corpus().records
    spans = []
    for feature, population, per_day, _ in groups:
        records = [r for r in corpus if r.feature == population and GPT4 in r.answers]
        calls = round(per_day * slice_h / 24)
        for i in range(calls):
            record = records[cursor[feature] % len(records)]
            cursor[feature] += 1
            when = start + dt.timedelta(hours=slice_h * (index + (i + 0.5) / calls))
            answer = record.answers[GPT4]
            tin, tout = (len(SYSTEM) + len(record.prompt)) // 4 + 8, max(1, len(answer) // 4)
            cost = pricing.price("openai", BASELINE, pricing.Usage(input_tokens=tin, output_tokens=tout)).usd
            attrs = {
                semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_PROVIDER_NAME: "openai",
                semconv.GEN_AI_REQUEST_MODEL: BASELINE, semconv.GEN_AI_RESPONSE_MODEL: BASELINE,
                semconv.GEN_AI_USAGE_INPUT_TOKENS: tin, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: tout,
                semconv.GEN_AI_USAGE_COST: cost, semconv.TP_COST_STATUS: semconv.COST_PRICED,
                semconv.TP_FEATURE: feature, semconv.TP_PROMPT_FINGERPRINT: f"fp-{feature}",
                semconv.TP_OUTPUT_FORMAT: "text",
                semconv.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps([{"type": "text", "content": SYSTEM}]),
                semconv.GEN_AI_INPUT_MESSAGES: json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": record.prompt}]}]),
                semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps(
                    [{"role": "assistant", "finish_reason": "stop", "parts": [{"type": "text", "content": answer}]}]),
                semconv.TP_REQUEST_PARAMS: json.dumps({"temperature": 0, "max_tokens": 400}),
            }
            spans.append({"service": SERVICE, "timestamp": when, "attributes": attrs, "duration_ms": 800})
    return spans


def _routes(store) -> dict[str, dict[str, Any]]:
    from tokenproof.analytics.proof import store as proof_store

    routes = {}
    for route in proof_store.list_routes(store):
        comparisons = proof_store.load_comparisons(store, route["RouteId"])
        outcomes = {k: sum(c.get("outcome") == k for c in comparisons) for k in ("win", "tie", "loss", "unresolved")}
        routes[route["RouteId"]] = {
            "feature": route["Feature"], "candidate": route["CandidateModel"], "status": route["Status"],
            "spent_usd": float(route["SpentUSD"]), "version": int(route["Version"]), "n": len(comparisons),
            "outcomes": outcomes}
    return routes


class _Clock:
    """Per route: the slice after which it decided, and the arm's total spend at that moment."""

    def __init__(self, slices_per_day: int) -> None:
        self.slices_per_day = slices_per_day
        self.decided: dict[str, dict[str, Any]] = {}
        self.first_seen: dict[str, float] = {}

    def tick(self, index: int, routes: dict[str, dict[str, Any]], total_usd: float) -> None:
        day = (index + 1) / self.slices_per_day
        for rid, route in routes.items():
            self.first_seen.setdefault(rid, index / self.slices_per_day)
            if route["status"] in FINISHED and rid not in self.decided:
                self.decided[rid] = {"day": day, "total_usd": total_usd}


def _scheduler_arm(store, args, groups) -> dict[str, Any]:
    from tokenproof.analytics.scheduler.loop import Scheduler
    from tokenproof.analytics.scheduler.status import status

    scheduler = Scheduler(store, interval_s=0)
    scheduler.set_policy({"features": [g[0] for g in groups], "candidate_models": CANDIDATES, "judge": JUDGE,
                          "sample_rate": args.rate, "rate_limit_rpm": 60000}, actor="bench")
    start = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=args.days, minutes=5)
    slice_h = 24 / args.slices
    cursor = {g[0]: 0 for g in groups}
    clock = _Clock(args.slices)
    stops: dict[str, int] = {}
    month_spent = 0.0
    passes = 0
    day_opened = 0.0
    day_spent: dict[int, float] = {}
    for index in range(args.days * args.slices):
        from tokenproof.collector.testing import insert_spans

        insert_spans(store, _spans(groups, start, slice_h, index, cursor))
        if index % args.slices == 0:  # the day's budget starts again (emulated: one real day holds every pass)
            day_opened = month_spent
            scheduler.set_policy({"budget_day_usd": month_spent + DEFAULT_DAY_USD}, actor="bench",
                                 reason="simulated day starts")
        for _ in range(MAX_PASSES_PER_SLICE):  # the loop passes every 120 s: many passes per slice of traffic
            result = scheduler.run_pass()
            passes += 1
            if result.get("skipped"):
                stops[result["skipped"]] = stops.get(result["skipped"], 0) + 1
            for batch in result.get("batches", []):
                if batch.get("stop_reason") in ("spend cap reached", "budget exhausted", "route budget spent"):
                    stops[batch["stop_reason"]] = stops.get(batch["stop_reason"], 0) + 1
            if result.get("skipped") or not any(b.get("new_comparisons") for b in result.get("batches", [])):
                break
        state = status(scheduler)
        month_spent = state["budgets"]["month"]["spent_usd"]
        day_spent[index // args.slices] = month_spent - day_opened
        clock.tick(index, _routes(store), month_spent)
        plans = state["groups"]
        if plans and all(p["state"] in ("done", "not eligible", "portfolio full") for p in plans):
            break
    state = status(scheduler)
    return {"routes": _routes(store), "decided": clock.decided, "first_seen": clock.first_seen,
            "total_usd": state["budgets"]["month"]["spent_usd"], "stops": stops, "alpha": state["alpha"],
            "groups": [{k: p[k] for k in ("feature", "state", "reason", "candidates_done")} for p in state["groups"]],
            "slices": index + 1, "passes": passes, "max_day_usd": round(max(day_spent.values(), default=0.0), 4)}


def _all_at_once_arm(store, args, groups) -> dict[str, Any]:
    from tokenproof import settings
    from tokenproof.analytics.proof import endpoints
    from tokenproof.analytics.proof.mining import mine
    from tokenproof.analytics.proof.sequential import Params
    from tokenproof.analytics.proof.shadow import ShadowSpec, run_shadow
    from tokenproof.collector.testing import insert_spans

    start = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=args.days, minutes=5)
    slice_h = 24 / args.slices
    cursor = {g[0]: 0 for g in groups}
    clock = _Clock(args.slices)
    params = Params()
    features = {g[0] for g in groups}
    done: set[tuple[str, str]] = set()
    compared: dict[tuple[str, str], int] = {}
    spent: dict[tuple[str, str], float] = {}

    def one(group, candidate: str, quota: int) -> tuple[tuple[str, str], dict[str, Any]]:
        spec = ShadowSpec(baseline=group.baseline_model, candidate=candidate, service=group.service,
                          feature=group.feature, fingerprint=group.fingerprint, judge=JUDGE, budget_usd=5.0,
                          limit=quota, params=params, seed=zlib.crc32(f"{group.feature}/{candidate}".encode()) & 0xFFFF,
                          portfolio=len(groups))
        replayer = endpoints.replayer("default", feature=group.feature)
        return (group.feature, candidate), run_shadow(store, spec, replayer, reserve=True)

    index = 0
    with ThreadPoolExecutor(max_workers=6) as pool:
        for index in range(args.days * args.slices):
            insert_spans(store, _spans(groups, start, slice_h, index, cursor))
            mined = [g for g in mine(store, days=settings.get("proof_sample_days"), limit=50, params=params, max_candidates=5, providers=[],
                                     models=CANDIDATES, sample_rate=args.rate)
                     if g.feature in features and not g.too_small and g.captured_calls]
            jobs, new = [], []
            for group in mined:
                allowed = math.floor(args.rate * group.captured_calls + 1e-12)
                for candidate in group.candidates:
                    key = (group.feature, candidate.model)
                    quota = allowed - compared.get(key, 0)
                    if key not in done and quota > 0:
                        (jobs if key in compared else new).append((group, candidate.model, quota))
            # a pair's first run numbers its route version in the group's series: one at a time
            results = [one(*job) for job in new] + [f.result() for f in [pool.submit(one, *job) for job in jobs]]
            for key, result in results:
                compared[key] = result["n"]
                spent[key] = result["spent_usd"]
                if result["status"] in FINISHED:
                    done.add(key)
            clock.tick(index, _routes(store), sum(spent.values()))
            pairs = {(g.feature, c.model) for g in mined for c in g.candidates}
            if pairs and pairs <= done:
                break
    return {"routes": _routes(store), "decided": clock.decided, "first_seen": clock.first_seen,
            "total_usd": round(sum(spent.values()), 6), "stops": {}, "slices": index + 1,
            "alpha": {"family_alpha": params.alpha, "portfolio_routes": len(groups), "groups_admitted": len(groups)},
            "groups": []}


def run_arm(args) -> None:
    os.environ.setdefault("TOKENPROOF_STORE_FSYNC", "false")
    from tokenproof.collector.testing import open_test_store
    from tokenproof_devkit.provider.testing import run_provider

    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp, run_provider() as provider:
        os.environ["TOKENPROOF_PROOF_BASE_URL"] = provider.base_url_openai
        os.environ["TOKENPROOF_PROOF_ANTHROPIC_BASE_URL"] = provider.base_url_anthropic
        store = open_test_store(Path(tmp) / "chdb")
        try:
            started = time.perf_counter()
            arm = _scheduler_arm if args.arm == "scheduler" else _all_at_once_arm
            result = arm(store, args, GROUPS)
            result["wall_s"] = round(time.perf_counter() - started, 1)
        finally:
            store.close()
    print(json.dumps(result, default=str))


# --- the report -------------------------------------------------------------------------------------

def _milestones(result: dict[str, Any], k: int) -> dict[str, Any]:
    decided = result["decided"]
    routes = result["routes"]
    switches = sorted((decided[r] for r in decided if routes[r]["status"] == "switch"), key=lambda d: d["day"])
    ordered = sorted(decided.values(), key=lambda d: d["day"])
    kth = ordered[k - 1] if 0 < k <= len(ordered) else None
    return {"first_switch_day": switches[0]["day"] if switches else None,
            "first_switch_usd": switches[0]["total_usd"] if switches else None,
            "kth_day": kth and kth["day"], "kth_usd": kth and kth["total_usd"],
            "last_day": ordered[-1]["day"] if ordered else None, "decided": len(decided), "routes": len(routes),
            "switches": len(switches), "total_usd": result["total_usd"],
            "usd_per_decision": result["total_usd"] / len(decided) if decided else None}


def _route_table(label: str, result: dict[str, Any]) -> None:
    extra = f", {result['passes']} passes, at most ${result['max_day_usd']:.2f} in a day" if "passes" in result else ""
    print(f"\n{label}: {len(result['routes'])} routes, ${result['total_usd']:.2f} shadow spend in total, "
          f"{result['slices']} slices simulated{extra}, {result['wall_s']} s wall")
    print(f"  {'feature':15} {'candidate':13} {'v':>2} {'status':17} {'started':>7} {'decided':>7} {'n':>4} "
          f"{'w/t/l/u':>13} {'shadow $':>9}")
    order = sorted(result["routes"].items(), key=lambda kv: (kv[1]["feature"], result["first_seen"].get(kv[0], 0)))
    for rid, route in order:
        decided = result["decided"].get(rid)
        print(f"  {route['feature']:15} {route['candidate']:13} {route['version']:>2} {route['status']:17} "
              f"{result['first_seen'].get(rid, 0):>6.2f}d "
              f"{_fmt(decided and decided['day'], 'd'):>7} {route['n']:>4} "
              f"{'/'.join(str(route['outcomes'][k]) for k in ('win', 'tie', 'loss', 'unresolved')):>13} "
              f"{route['spent_usd']:>9.2f}")
    alpha = result["alpha"]
    print(f"  alpha: {alpha['groups_admitted']} groups admitted of a portfolio of {alpha['portfolio_routes']}"
          + (f", alpha {alpha.get('allotted', 0):.4g} allotted of {alpha['family_alpha']:g}" if "allotted" in alpha else ""))
    for group in result["groups"]:
        if group["state"] != "done":
            print(f"  group {group['feature']}: {group['state']} ({group['reason']})")
    if result["stops"]:
        print("  budget stops and skipped passes: " + ", ".join(f"{k} x{v}" for k, v in result["stops"].items()))


def _fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.2f} d" if unit == "d" else f"${value:.2f}"


def _ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=13,
                        help="simulated days; above 13 the sampling window (proof_sample_days, 14) is widened to fit")
    parser.add_argument("--slices", type=int, default=4, help="traffic slices (and passes) per simulated day")
    parser.add_argument("--rates", default="0.1,1.0", help="sampling rates to run (the default policy's is 0.1)")
    parser.add_argument("--no-all-at-once", action="store_true")
    parser.add_argument("--jobs", type=int, default=2, help="arms run at once (each in a process of its own)")
    parser.add_argument("--arm", choices=["scheduler", "all-at-once"], help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0.1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        run_arm(args)
        return
    print(f"Groups (baseline {BASELINE}, judge {JUDGE}, candidates {', '.join(CANDIDATES)}):")
    for feature, population, per_day, expected in GROUPS:
        print(f"  {feature:15} {population:42} {per_day:>4} calls/day   candidate {expected}")
    rates = [float(r) for r in args.rates.split(",")]
    arms = [("scheduler", rate) for rate in rates] + ([] if args.no_all_at_once else [("all-at-once", rates[0])])

    def run(arm: str, rate: float) -> dict[str, Any]:
        command = [sys.executable, __file__, "--arm", arm, "--rate", str(rate), "--days", str(args.days),
                   "--slices", str(args.slices)]
        env = {**os.environ, "TOKENPROOF_PROOF_SAMPLE_DAYS": str(max(14, args.days + 1))}
        out = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        if out.returncode != 0:
            print(out.stderr[-4000:], file=sys.stderr)
            raise SystemExit(f"arm {arm} at {rate} failed")
        return json.loads(out.stdout.strip().splitlines()[-1])

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:  # each arm is a process of its own
        futures = {key: pool.submit(run, *key) for key in arms}
        results = {key: future.result() for key, future in futures.items()}
    for (arm, rate), result in results.items():
        _route_table(f"{arm}, sampling rate {rate:g}", result)

    pairs = len(GROUPS) * len(CANDIDATES)
    k = min(len(r["decided"]) for r in results.values())
    miles = {key: _milestones(r, k) for key, r in results.items()}
    print(f"\nFrom first traffic, {args.days} simulated days, {pairs} (group, candidate) pairs mined "
          "(days; $ = the arm's total shadow spend at that moment):")
    print(f"  {'arm':20} {'first SWITCH':>12} {'$ then':>8} {f'decision #{k}':>13} {'$ then':>8} "
          f"{'decided':>7} {'switches':>8} {'last decision':>13} {'total $':>8} {'$/decision':>10}")
    for (arm, rate), m in miles.items():
        print(f"  {arm + f' @ {rate:g}':20} {_fmt(m['first_switch_day'], 'd'):>12} {_fmt(m['first_switch_usd'], '$'):>8} "
              f"{_fmt(m['kth_day'], 'd'):>13} {_fmt(m['kth_usd'], '$'):>8} {m['decided']:>3}/{pairs:<3} "
              f"{m['switches']:>8} {_fmt(m['last_day'], 'd'):>13} {_fmt(m['total_usd'], '$'):>8} "
              f"{_fmt(m['usd_per_decision'], '$'):>10}")
    s, a = miles.get(("scheduler", 0.1)), miles.get(("all-at-once", 0.1))
    if s and a:
        print("\nScheduler / all-at-once at the default sampling rate 0.1:")
        print(f"  days to the first SWITCH        {_ratio(s['first_switch_day'], a['first_switch_day'])}")
        print(f"  $ to the first SWITCH           {_ratio(s['first_switch_usd'], a['first_switch_usd'])}")
        print(f"  days to decision #{k:<2}             {_ratio(s['kth_day'], a['kth_day'])}")
        print(f"  $ to decision #{k:<2}                {_ratio(s['kth_usd'], a['kth_usd'])}")
        print(f"  decisions within {args.days} days       {_ratio(s['decided'], a['decided'])}")
        print(f"  switches found                  {_ratio(s['switches'], a['switches'])}")
        print(f"  total shadow $                  {_ratio(s['total_usd'], a['total_usd'])}")
        print(f"  $ per decision                  {_ratio(s['usd_per_decision'], a['usd_per_decision'])}")


if __name__ == "__main__":
    main()
