"""Decision benchmark on real recorded data: does the switch decision keep its promises?

Data: the provider's shipped copy of lm-sys/RouteLLM recordings (``devkit/tokenproof_devkit/provider/data``,
Apache-2.0): GPT-4-1106-preview (baseline) and Mixtral-8x7B-Instruct (candidate) on GSM8K, MMLU by
subject and MT-bench by category, with real correctness labels (GSM8K, MMLU) or GPT-4 grades
(MT-bench). Each feature is one population (one route).

Outcome of one comparison, from the candidate's side:
- GSM8K / MMLU: win = candidate correct and baseline wrong; loss = candidate wrong and baseline
  correct; tie otherwise (both right or both wrong).
- MT-bench (each turn): grades 1-10; tie when they differ by at most 1 point (the single-grade noise
  of a GPT-4 grader), else win / loss by the higher grade.

A population's true non-loss rate q is its share of non-losses. A run draws comparisons i.i.d. from
the population (a random ordering of real traffic) and feeds them to the decision rule exactly as the
live system does (every comparison looked at). Over many runs per population we report the switch
rate (a false switch where q <= q0, power where q >= q1), mean and p90 comparisons to a decision and
the shadow dollars spent (candidate replay plus two judge calls per comparison, priced with
tokenproof.pricing from the recorded texts, ~4 characters per token). Compared with:
- the fixed-size binomial test with the same alpha and beta (its n computed exactly);
- the naive rule "from n = 30, switch as soon as the one-sided 95% Wilson lower bound exceeds q0";
- the anytime-valid e-process;
- an oracle that switches exactly the populations with q >= q1 (savings captured).
Portfolio: all populations tested at once; false switches per worse route, with and without e-BH.

Finally ``tokenproof prove`` runs end to end on a GSM8K subset through the local provider server.

Run: ``.venv/bin/python bench/bench_decision.py [--runs 1000] [--seed 1] [--no-prove]``
"""

from __future__ import annotations

import argparse
import collections
import math
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import special, stats

from tokenproof import pricing
from tokenproof.analytics.proof import sequential as sq
from tokenproof_devkit.provider.corpus import GPT4, MIXTRAL, get_corpus

BASELINE = ("openai", "gpt-4-1106-preview")
CANDIDATE = ("mistral_ai", "open-mixtral-8x7b")
JUDGE = BASELINE
JUDGE_OVERHEAD_TOKENS = 160  # judge instructions and markers
JUDGE_OUTPUT_TOKENS = 80
MT_BENCH_TIE_MARGIN = 1.0


@dataclass
class Population:
    name: str
    nonloss: np.ndarray  # 1 = win or tie
    wins: np.ndarray
    shadow_usd: np.ndarray  # per comparison: candidate call + two judge calls
    saving_usd: np.ndarray  # per call: baseline cost - candidate cost

    @property
    def q(self) -> float:
        return float(self.nonloss.mean())


def _tokens(text: str | None, floor: int = 1) -> int:
    return max(floor, len(text or "") // 4)


def _usd(provider_model: tuple[str, str], tin: int, tout: int) -> float:
    cost = pricing.price(provider_model[0], provider_model[1], pricing.Usage(input_tokens=tin, output_tokens=tout))
    if cost.usd is None:
        raise SystemExit(f"unpriced model {provider_model}: the benchmark needs a price")
    return cost.usd


def load_populations() -> list[Population]:
    rows: dict[str, list[tuple[int, int, float, float]]] = collections.defaultdict(list)
    for record in get_corpus().records:
        lb, lc = record.labels[GPT4], record.labels[MIXTRAL]
        if record.dataset == "mt_bench":
            diff = (lc - lb) * 10.0
            outcome = "tie" if abs(diff) <= MT_BENCH_TIE_MARGIN else ("win" if diff > 0 else "loss")
        else:
            outcome = "win" if lc > lb else ("loss" if lc < lb else "tie")
        prompt = _tokens(record.prompt, 8)
        base_out = _tokens(record.answers.get(GPT4), 4)
        cand_out = _tokens(record.answers.get(MIXTRAL), 4)
        candidate_call = _usd(CANDIDATE, prompt, cand_out)
        judge_call = _usd(JUDGE, JUDGE_OVERHEAD_TOKENS + prompt + base_out + cand_out, JUDGE_OUTPUT_TOKENS)
        saving = _usd(BASELINE, prompt, base_out) - candidate_call
        rows[record.feature].append((outcome != "loss", outcome == "win", candidate_call + 2 * judge_call, saving))
    pops = []
    for name, items in sorted(rows.items()):
        arr = np.array(items, dtype=float)
        pops.append(Population(name, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3]))
    return pops


def sprt_runs(x: np.ndarray, params: sq.Params) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised SPRT over runs (rows of non-loss indicators): (decision code, n). 1 switch, -1 keep, 0 undecided."""
    llr = np.cumsum(np.where(x > 0, params.step_nonloss, params.step_loss), axis=1)
    n_idx = np.arange(1, x.shape[1] + 1)
    live = n_idx >= params.n_min
    up = (llr >= params.upper - 1e-12) & live
    down = (llr <= params.lower + 1e-12) & live
    return _first(up, down, params.n_max)


def _first(up: np.ndarray, down: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    hit = up | down
    any_hit = hit.any(axis=1)
    first = np.where(any_hit, hit.argmax(axis=1), cap - 1)
    rows = np.arange(hit.shape[0])
    decision = np.where(any_hit, np.where(up[rows, first], 1, -1), 0)
    return decision, first + 1


def eprocess_runs(x: np.ndarray, params: sq.Params) -> tuple[np.ndarray, np.ndarray]:
    s = np.cumsum(x, axis=1)
    n = np.arange(1, x.shape[1] + 1)[None, :]
    f = n - s

    def log_mix(lo: float, hi: float) -> np.ndarray:
        mass = special.betainc(s + 1, f + 1, hi) - special.betainc(s + 1, f + 1, lo)
        with np.errstate(divide="ignore"):
            return special.betaln(s + 1, f + 1) + np.log(mass) - math.log(hi - lo)

    log_e = log_mix(params.q0, 1.0) - (s * math.log(params.q0) + f * math.log1p(-params.q0))
    log_keep = log_mix(0.0, params.q1) - (s * math.log(params.q1) + f * math.log1p(-params.q1))
    live = n >= params.n_min
    up = (log_e >= math.log(1 / params.alpha)) & live
    down = (log_keep >= math.log(1 / params.beta)) & live & ~up
    return _first(up, down, params.n_max)


def naive_runs(x: np.ndarray, q0: float, n_min: int = 30, z: float = 1.6449) -> np.ndarray:
    """Switch as soon as the one-sided 95% Wilson lower bound exceeds q0 (looking after every comparison)."""
    k = np.cumsum(x, axis=1)
    n = np.arange(1, x.shape[1] + 1)[None, :]
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return ((centre - half > q0) & (n >= n_min)).any(axis=1)


def fixed_test(params: sq.Params) -> tuple[int, int]:
    n = sq.fixed_sample_size(params)
    c = int(stats.binom.ppf(1 - params.alpha, n, params.q0)) + 1
    return n, c


def _check_against_reference(x: np.ndarray, params: sq.Params) -> None:
    """The vectorised SPRT must take the same decisions as the live implementation."""
    dec, n = sprt_runs(x[:50], params)
    for row in range(50):
        test = sq.run_sequence(("win" if v else "loss" for v in x[row]), params)
        code = {"switch": 1, "keep": -1, "undecided": 0}[test.decision]
        assert (code, test.tally.n) == (dec[row], n[row]), (row, code, test.tally.n, dec[row], n[row])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-prove", action="store_true", help="skip the end-to-end `tokenproof prove` run")
    args = ap.parse_args(argv)
    params = sq.Params()
    started = time.perf_counter()
    pops = load_populations()
    rng = np.random.default_rng(args.seed)
    n_fix, c_fix = fixed_test(params)
    print(f"decision benchmark: {len(pops)} populations (features), {args.runs} random orderings each; "
          f"SPRT q0={params.q0} q1={params.q1} alpha={params.alpha} beta={params.beta} "
          f"n_min={params.n_min} cap={params.n_max}")
    print(f"fixed-size test with the same error rates: n = {n_fix} (switch when >= {c_fix} non-losses)\n")
    header = (f"{'population':42s} {'size':>5s} {'true q':>6s} {'class':>6s} {'P(sw)':>6s} {'mean n':>6s} "
              f"{'p90 n':>5s} {'shadow$':>8s} {'fixed':>6s} {'naive':>6s} {'e-proc':>6s} {'e n':>5s}")
    print(header)
    print("-" * len(header))
    summary = collections.defaultdict(list)
    portfolio = []
    for index, pop in enumerate(pops):
        idx = rng.integers(0, len(pop.nonloss), size=(args.runs, params.n_max))
        x = pop.nonloss[idx]
        if index == 0:
            _check_against_reference(x, params)
        dec, n = sprt_runs(x, params)
        cost = np.cumsum(pop.shadow_usd[idx], axis=1)[np.arange(args.runs), n - 1]
        fixed_switch = x[:, :n_fix].sum(axis=1) >= c_fix
        naive = naive_runs(x, params.q0)
        e_dec, e_n = eprocess_runs(x, params)
        q = pop.q
        cls = "worse" if q <= params.q0 else ("good" if q >= params.q1 else "zone")
        switch = float((dec == 1).mean())
        row = dict(name=pop.name, q=q, cls=cls, switch=switch, mean_n=float(n.mean()),
                   p90_n=float(np.percentile(n, 90)), usd=float(cost.mean()),
                   fixed=float(fixed_switch.mean()), naive=float(naive.mean()),
                   e_switch=float((e_dec == 1).mean()), e_n=float(e_n.mean()),
                   saving=float(pop.saving_usd.mean()), fixed_usd=float(pop.shadow_usd.mean() * n_fix))
        summary[cls].append(row)
        portfolio.append((pop, dec, n, x))
        print(f"{pop.name:42s} {len(pop.nonloss):5d} {q:6.3f} {cls:>6s} {switch:6.3f} {row['mean_n']:6.1f} "
              f"{row['p90_n']:5.0f} {row['usd']:8.3f} {row['fixed']:6.3f} {row['naive']:6.3f} "
              f"{row['e_switch']:6.3f} {row['e_n']:5.0f}")

    print()
    ok = True
    worse, good = summary["worse"], summary["good"]
    max_fs = max(r["switch"] for r in worse)
    # binomial slack for a finite number of runs (about 2 standard errors at alpha)
    slack = 2 * math.sqrt(params.alpha * (1 - params.alpha) / args.runs)
    print(f"false-switch rate (q <= q0, {len(worse)} populations): max {max_fs:.3f}, mean "
          f"{np.mean([r['switch'] for r in worse]):.4f}  [target <= alpha = {params.alpha}; "
          f"simulation slack {slack:.3f}]")
    ok &= max_fs <= params.alpha + slack
    min_power = min(r["switch"] for r in good) if good else float("nan")
    print(f"power (q >= q1, {len(good)} populations): min {min_power:.3f}, mean "
          f"{np.mean([r['switch'] for r in good]):.3f}  [target >= 0.9]")
    ok &= bool(good) and min_power >= 0.9
    all_rows = worse + good + summary["zone"]
    mean_n = np.mean([r["mean_n"] for r in all_rows])
    print(f"comparisons to a decision: mean {mean_n:.1f} over all populations "
          f"(worse {np.mean([r['mean_n'] for r in worse]):.1f}, good {np.mean([r['mean_n'] for r in good]):.1f}, "
          f"zone {np.mean([r['mean_n'] for r in summary['zone']]):.1f}); fixed-size test: {n_fix}  "
          f"[target: fewer]")
    ok &= mean_n < n_fix
    print(f"shadow dollars to a decision: mean ${np.mean([r['usd'] for r in all_rows]):.3f} per route "
          f"(fixed-size test ${np.mean([r['fixed_usd'] for r in all_rows]):.3f})")
    print(f"fixed-size test: false-switch max {max(r['fixed'] for r in worse):.3f}, "
          f"power min {min(r['fixed'] for r in good):.3f}")
    print(f"naive peeking (Wilson 95% from n=30, every comparison): false-switch max "
          f"{max(r['naive'] for r in worse):.3f}, mean {np.mean([r['naive'] for r in worse]):.3f}; "
          f"at the boundary (0.84 <= q <= 0.85): "
          f"{np.mean([r['naive'] for r in worse if r['q'] >= 0.84] or [float('nan')]):.3f}")
    print(f"e-process: false-switch max {max(r['e_switch'] for r in worse):.3f}, power min "
          f"{min(r['e_switch'] for r in good):.3f}, mean n {np.mean([r['e_n'] for r in all_rows]):.1f}")
    oracle = sum(r["saving"] for r in good)
    captured = sum(r["saving"] * r["switch"] for r in good)
    harmful = sum(r["saving"] * r["switch"] for r in worse)
    zone = sum(r["saving"] * r["switch"] for r in summary["zone"])
    print(f"savings per call-slot vs an oracle switching exactly the q >= q1 routes: captured "
          f"{captured / oracle:.1%}; taken on truly worse routes {harmful / oracle:.1%} of the oracle's; "
          f"on in-between routes (q0 < q < q1) {zone / oracle:.1%}")
    _portfolio(portfolio, params, args.runs)
    print(f"\nbenchmark time {time.perf_counter() - started:.1f} s; targets {'MET' if ok else 'NOT MET'}")
    if not args.no_prove:
        _prove_end_to_end()
    return 0 if ok else 1


def _portfolio(portfolio, params: sq.Params, runs: int) -> None:
    """All routes tested at once: false switches per run, per-route alpha vs e-BH vs Bonferroni."""
    worse_idx = [i for i, (pop, *_rest) in enumerate(portfolio) if pop.q <= params.q0]
    m = len(portfolio)
    fs_plain = fs_ebh = fs_bonf = 0
    sw_plain = sw_ebh = sw_bonf = 0
    bonf = sq.Params(alpha=sq.alpha_spending(m, params.alpha), beta=params.beta)
    bonf_runs = [sprt_runs(x, bonf) for (_pop, _dec, _n, x) in portfolio]
    bonf_results = [d for d, _ in bonf_runs]
    bonf_mean_n = float(np.mean([n.mean() for _, n in bonf_runs]))
    plain_mean_n = float(np.mean([n.mean() for (_p, _d, n, _x) in portfolio]))
    for run in range(runs):
        e_values, switched = [], []
        for _pop, dec, n, x in portfolio:
            llr = np.where(x[run, : n[run]] > 0, params.step_nonloss, params.step_loss).sum()
            e_values.append(float(np.exp(min(llr, 700.0))))
            switched.append(dec[run] == 1)
        chosen = sq.e_bh(e_values, params.alpha)
        for i in range(m):
            sw_plain += switched[i]
            sw_ebh += chosen[i] and switched[i]
            sw_bonf += bonf_results[i][run] == 1
            if i in worse_idx:
                fs_plain += switched[i]
                fs_ebh += chosen[i] and switched[i]
                fs_bonf += bonf_results[i][run] == 1
    w = len(worse_idx) * runs
    print(f"portfolio of {m} routes tested at once ({len(worse_idx)} truly worse): false switches per worse "
          f"route {fs_plain / w:.4f} per-route alpha, {fs_ebh / w:.4f} with e-BH, {fs_bonf / w:.4f} with "
          f"Bonferroni spending; share of switches that are false {fs_plain / max(sw_plain, 1):.3f} / "
          f"{fs_ebh / max(sw_ebh, 1):.3f} / {fs_bonf / max(sw_bonf, 1):.3f}; switches per run "
          f"{sw_plain / runs:.1f} / {sw_ebh / runs:.1f} / {sw_bonf / runs:.1f}")
    print(f"  Bonferroni spending (alpha/{m} = {bonf.alpha:.5f} per route) costs mean n {bonf_mean_n:.1f} vs "
          f"{plain_mean_n:.1f}; e-BH on stopped SPRT e-values (about 1/alpha at the switch) rejects almost nothing "
          f"when many routes are tested, so the service uses alpha spending (setting proof_portfolio_routes)")


def _prove_end_to_end() -> None:
    try:
        from tokenproof_devkit.examples import write_gsm8k_batch
        from tokenproof_devkit.provider.testing import run_provider
    except ImportError as exc:  # the provider's test server or prove not available in this checkout
        print(f"\n`tokenproof prove` end to end: skipped ({exc})")
        return
    from tokenproof.cli import main as cli_main
    print()
    out = Path(tempfile.mkdtemp(prefix="tokenproof-prove-"))
    batch = write_gsm8k_batch(out / "batch.jsonl", n=120, seed=3, features=("gsm8k", "mmlu:high_school_mathematics"))
    started = time.perf_counter()
    with run_provider() as handle:
        code = cli_main(["prove", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url",
                         handle.base_url_openai, "--out", str(out / "report"), "--group-by", "feature"])
    print(f"`tokenproof prove` on {batch} (120 GSM8K + 120 MMLU high-school-maths requests, baseline "
          f"gpt-4-1106-preview, candidate mixtral-8x7b-instruct, local provider): exit {code} in "
          f"{time.perf_counter() - started:.1f} s; report at {out / 'report' / 'report.html'} and report.json")


if __name__ == "__main__":
    sys.exit(main())
