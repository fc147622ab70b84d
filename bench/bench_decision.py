"""Decision benchmark on real recorded data: does the switch decision keep its promises?

Data: the provider's shipped copy of lm-sys/RouteLLM recordings (``devkit/tokenproof_devkit/provider/data``,
Apache-2.0): GPT-4-1106-preview (baseline) and Mixtral-8x7B-Instruct (candidate) on GSM8K, MMLU by
subject and MT-bench by category, with real correctness labels (GSM8K, MMLU) or GPT-4 grades
(MT-bench). Each feature is one population (one route); MMLU subjects whose recorded labels are
upstream artefacts (``examples.SUSPECT_LABELS``) are excluded.

Outcome of one comparison, from the candidate's side:
- GSM8K / MMLU: win = candidate correct and baseline wrong; loss = candidate wrong and baseline
  correct; tie otherwise (both right or both wrong).
- MT-bench (each turn): grades 1-10; tie when they differ by at most 1 point, else win / loss.

A population is *worse* when the promise fails (loss rate >= max_loss or tie-adjusted win rate <=
1/2 - margin), *good* when it holds with room (loss <= max_loss - 0.05, score >= 1/2 - margin/2),
else in the zone between. A run draws comparisons i.i.d. from the population and feeds them to the
default decision (``promise``, vectorised here and checked against the live implementation) exactly
as the live system does. Judge scenarios: a clean judge; order-dependent errors on 10/20/30% of the
pairs (the orders disagree: unresolved); a judge that fails on half the non-tie pairs. Reported per
scenario: the false-switch rate on every worse population (target <= alpha, or uninformative), power
on the good ones, mean and p90 comparisons, shadow dollars (candidate replay plus two judge calls,
priced with tokenproof.pricing, ~4 characters per token); the former non-loss SPRT beside it. Then
the duplicated-prompt and easy-then-hard histories (file order vs de-duplicated random samples), a
degenerate constant-answer candidate with and without the gate, and a portfolio of all routes.

Finally ``tokenproof prove`` runs end to end on GSM8K and MMLU world religions through the local
provider server.

Run: ``.venv/bin/python bench/bench_decision.py [--runs 400] [--seed 1] [--no-prove]``
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
from scipy import special

from tokenproof import pricing
from tokenproof.analytics.proof import sequential as sq
from tokenproof.analytics.proof.promise import PromiseTest, meaning
from tokenproof_devkit.examples import SUSPECT_LABELS, trusted
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


def promise_runs(codes: np.ndarray, params: sq.Params, alpha: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised default decision (PromiseTest) over runs of outcome codes 0 win, 1 tie, 2 loss,
    3 unresolved: (decision code, n); 1 switch, -1 keep, 2 uninformative, 0 undecided."""
    alpha = params.alpha if alpha is None else alpha
    runs, length = codes.shape
    n = np.arange(1, length + 1)[None, :].astype(float)
    bad = np.cumsum(codes >= 2, axis=1).astype(float)
    good = n - bad
    bar = params.max_loss

    def log_mix(lo: float, hi: float) -> np.ndarray:
        mass = special.betainc(bad + 1, good + 1, hi) - special.betainc(bad + 1, good + 1, lo)
        with np.errstate(divide="ignore"):
            return special.betaln(bad + 1, good + 1) + np.log(mass) - math.log(hi - lo)

    null = bad * math.log(bar) + good * math.log1p(-bar)
    e_loss, e_loss_keep = log_mix(0.0, bar) - null, log_mix(bar, 1.0) - null
    score = np.choose(np.minimum(codes, 3), [1.0, 0.5, 0.0, 0.0])
    m0 = 0.5 - params.margin

    def capital(side: int) -> np.ndarray:
        prev_s = np.concatenate([np.zeros((runs, 1)), np.cumsum(score, axis=1)[:, :-1]], axis=1)
        prev_q = np.concatenate([np.zeros((runs, 1)), np.cumsum(score * score, axis=1)[:, :-1]], axis=1)
        t = np.arange(length)[None, :] + 1.0
        mean = (0.5 + prev_s) / t
        var = np.maximum(1e-4, (0.25 + prev_q) / t - mean * mean)
        edge = side * (mean - m0)
        cap = 0.5 / (m0 if side > 0 else 1.0 - m0)
        bet = np.minimum(cap, np.maximum(0.0, edge / (var + edge * edge)))
        return np.cumsum(np.log1p(bet * side * (score - m0)), axis=1)

    pref, pref_keep = capital(+1), capital(-1)
    live = n >= params.n_min
    unresolved_share = np.cumsum(codes == 3, axis=1) / n
    uninf = live & (unresolved_share > params.max_unresolved)
    up = live & ~uninf & (np.minimum(e_loss, pref) >= math.log(1 / alpha))
    down = live & ~uninf & ~up & (np.maximum(e_loss_keep, pref_keep) >= math.log(1 / params.beta))
    hit = uninf | up | down
    any_hit = hit.any(axis=1)
    first = np.where(any_hit, hit.argmax(axis=1), length - 1)
    rows = np.arange(runs)
    decision = np.where(~any_hit, 0, np.where(uninf[rows, first], 2, np.where(up[rows, first], 1, -1)))
    return decision, first + 1


def _check_promise_against_reference(codes: np.ndarray, params: sq.Params) -> None:
    """The vectorised decision must take the same decisions as the live PromiseTest."""
    dec, n = promise_runs(codes[:40], params)
    names = ("win", "tie", "loss", "unresolved")
    for row in range(40):
        test = PromiseTest(params)
        for code in codes[row]:
            if test.update(names[code]) is not None:
                break
        got = {"switch": 1, "keep": -1, "uninformative": 2, "undecided": 0, None: 0}[test.decision]
        assert (got, test.tally.n) == (dec[row], n[row]), (row, got, test.tally.n, dec[row], n[row])


def noisy(codes: np.ndarray, rng, flip: float = 0.0, fail_disputed: float = 0.0) -> np.ndarray:
    """Judge noise: on ``flip`` of the pairs one answer order (at random) gets a wrong verdict (an
    order-dependent error: the orders disagree, the pair is unresolved); the judge fails on
    ``fail_disputed`` of the non-tie pairs (failures concentrated where answers differ)."""
    out = codes.copy()
    if flip:
        out = np.where(rng.random(codes.shape) < flip, 3, out)
    if fail_disputed:
        out = np.where((out != 1) & (out != 3) & (rng.random(codes.shape) < fail_disputed), 3, out)
    return out


def truth(pop: Population, params: sq.Params) -> tuple[float, float, str]:
    loss = float(1 - pop.nonloss.mean())
    score = float((pop.wins + 0.5 * (pop.nonloss - pop.wins)).mean())
    if loss >= params.max_loss or score <= 0.5 - params.margin:
        return loss, score, "worse"
    if loss <= params.max_loss - 0.05 and score >= 0.5 - params.margin / 2:
        return loss, score, "good"
    return loss, score, "zone"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-prove", action="store_true", help="skip the end-to-end `tokenproof prove` run")
    args = ap.parse_args(argv)
    params = sq.Params()
    started = time.perf_counter()
    pops = [p for p in load_populations() if trusted(p.name)]
    rng = np.random.default_rng(args.seed)
    print(f"decision benchmark: {len(pops)} populations (features; {len(SUSPECT_LABELS)} with upstream-artefact "
          f"labels excluded), {args.runs} random orderings each.\n{meaning(params)}\n"
          f"alpha={params.alpha} beta={params.beta} max_loss={params.max_loss} margin={params.margin} "
          f"max_unresolved={params.max_unresolved} n_min={params.n_min} cap={params.n_max}\n")
    scenarios = [("clean judge", 0.0, 0.0), ("order errors 10%", 0.10, 0.0), ("order errors 20%", 0.20, 0.0),
                 ("order errors 30%", 0.30, 0.0), ("fails on 50% of disputed", 0.0, 0.5)]
    header = (f"{'population':40s} {'size':>5s} {'loss':>5s} {'score':>5s} {'class':>5s} {'old P':>6s} "
              + " ".join(f"{name[:12]:>12s}" for name, *_ in scenarios) + f" {'mean n':>6s} {'p90 n':>5s} {'shadow$':>7s}")
    print("P(switch) [uninformative share] per judge scenario; 'old P' = the former non-loss SPRT, clean judge")
    print(header)
    print("-" * len(header))
    ok = True
    results = collections.defaultdict(list)
    for index, pop in enumerate(pops):
        codes = np.where(pop.wins > 0, 0, np.where(pop.nonloss > 0, 1, 2)).astype(int)
        idx = rng.integers(0, len(codes), size=(args.runs, params.n_max))
        base = codes[idx]
        if index == 0:
            _check_promise_against_reference(base, params)
        loss, score, cls = truth(pop, params)
        old, _ = sprt_runs((base != 2).astype(float), params)
        cells = []
        for name, flip, fail in scenarios:
            dec, n = promise_runs(noisy(base, rng, flip, fail), params)
            cost = np.cumsum(pop.shadow_usd[idx], axis=1)[np.arange(args.runs), n - 1]
            row = dict(name=pop.name, cls=cls, switch=float((dec == 1).mean()), uninf=float((dec == 2).mean()),
                       mean_n=float(n.mean()), p90_n=float(np.percentile(n, 90)), usd=float(cost.mean()))
            results[(name, cls)].append(row)
            cells.append(row)
        clean = cells[0]
        print(f"{pop.name:40s} {len(codes):5d} {loss:5.3f} {score:5.3f} {cls:>5s} {float((old == 1).mean()):6.3f} "
              + " ".join(f"{c['switch']:5.3f} [{c['uninf']:4.2f}]" for c in cells)
              + f" {clean['mean_n']:6.1f} {clean['p90_n']:5.0f} {clean['usd']:7.3f}")
    print()
    slack = 2 * math.sqrt(params.alpha * (1 - params.alpha) / args.runs)
    for name, *_ in scenarios:
        worse, good = results[(name, "worse")], results[(name, "good")]
        max_fs = max(r["switch"] for r in worse)
        power = float(np.mean([r["switch"] for r in good])) if good else float("nan")
        every = worse + good + results[(name, "zone")]
        print(f"{name:26s}: false-switch max {max_fs:.3f} over {len(worse)} worse populations [<= {params.alpha} "
              f"+ slack {slack:.3f}]; power (truly as good, {len(good)}) mean {power:.3f}, min "
              f"{min((r['switch'] for r in good), default=float('nan')):.3f}; uninformative on good "
              f"{np.mean([r['uninf'] for r in good]):.3f}; comparisons mean {np.mean([r['mean_n'] for r in every]):.0f}, "
              f"p90 {np.mean([r['p90_n'] for r in every]):.0f}; shadow ${np.mean([r['usd'] for r in every]):.3f} per route")
        ok &= max_fs <= params.alpha + slack
    ok &= _histories(params, rng, args.runs)
    ok &= _degenerate(params, args.runs)
    _portfolio(pops, params, rng, args.runs)
    print(f"\nbenchmark time {time.perf_counter() - started:.1f} s; targets {'MET' if ok else 'NOT MET'}")
    if not args.no_prove:
        _prove_end_to_end()
    return 0 if ok else 1


def _histories(params: sq.Params, rng, runs: int) -> bool:
    """Duplicated-prompt and easy-then-hard histories: file order vs de-duplicated random samples."""
    gsm = [r for r in get_corpus().records if r.feature == "gsm8k"]
    outcome = {r.id: (0 if r.labels[MIXTRAL] > r.labels[GPT4] else 2 if r.labels[MIXTRAL] < r.labels[GPT4] else 1)
               for r in gsm}
    won = next(r.id for r in gsm if outcome[r.id] == 0)
    ids = [r.id for r in gsm]
    print()
    ok = True
    histories = {
        "one won GSM8K prompt x40, then the group": [won] * 40 + ids,
        "easy (both right) first, then hard": sorted(ids, key=lambda i: (outcome[i] != 1, i)),
    }
    for label, history in histories.items():
        in_order = np.array([[outcome[i] for i in history[:params.n_max]]])
        dec_old, _ = promise_runs(in_order, params)
        unique = list(dict.fromkeys(history))
        draws = np.array([[outcome[unique[j]] for j in rng.permutation(len(unique))[:params.n_max]]
                          for _ in range(runs)])
        dec_new, n_new = promise_runs(draws, params)
        print(f"{label}: file order, no de-duplication -> {['undecided', 'SWITCH', 'uninformative'][int(dec_old[0])] if dec_old[0] >= 0 else 'KEEP'}; "
              f"de-duplicated random sample -> P(switch) {float((dec_new == 1).mean()):.3f}, mean n {n_new.mean():.0f}")
        ok &= float((dec_new == 1).mean()) <= params.alpha
    return ok


def _degenerate(params: sq.Params, runs: int) -> bool:
    """A constant 'null model' answer that the judge prefers: without the gate every pair is a win."""
    from tokenproof.analytics.proof.degenerate import DegenerateGate
    records = [r for r in get_corpus().records if r.dataset == "mt_bench"][:params.n_max]
    constant = "Thank you for your question! Here is a thorough, balanced and well-structured answer for you."
    gate = DegenerateGate()
    codes = np.array([[2 if gate.check(r.id, constant, r.answers[GPT4]) else 0 for r in records]])
    without, _ = promise_runs(np.zeros_like(codes), params)
    with_gate, n = promise_runs(codes, params)
    names = {1: "SWITCH", -1: "KEEP", 0: "undecided", 2: "uninformative"}
    print(f"degenerate candidate (one constant answer, judged the better one every time): without the gate "
          f"{names[int(without[0])]}; with the degenerate gate {names[int(with_gate[0])]} after {int(n[0])} "
          f"({int((codes == 2).sum())} of {codes.shape[1]} caught)")
    return int(with_gate[0]) == -1


def _portfolio(pops: list[Population], params: sq.Params, rng, runs: int) -> None:
    """All populations tested at once, alpha spent across them (Bonferroni, as the service does)."""
    m = len(pops)
    fs = fs_b = sw = sw_b = w = 0
    for pop in pops:
        codes = np.where(pop.wins > 0, 0, np.where(pop.nonloss > 0, 1, 2)).astype(int)
        x = codes[rng.integers(0, len(codes), size=(runs, params.n_max))]
        dec, _ = promise_runs(x, params)
        dec_b, _ = promise_runs(x, params, sq.alpha_spending(m, params.alpha))
        worse = truth(pop, params)[2] == "worse"
        w += worse * runs
        fs += worse * int((dec == 1).sum())
        fs_b += worse * int((dec_b == 1).sum())
        sw += int((dec == 1).sum())
        sw_b += int((dec_b == 1).sum())
    print(f"\nportfolio of {m} routes at once: false switches per worse route {fs / max(w, 1):.4f} at per-route "
          f"alpha, {fs_b / max(w, 1):.4f} with alpha/{m} each; switches per run {sw / runs:.1f} vs {sw_b / runs:.1f}")


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
    batch = write_gsm8k_batch(out / "batch.jsonl", n=150, seed=3, features=("gsm8k", "mmlu:world_religions"))
    started = time.perf_counter()
    with run_provider() as handle:
        code = cli_main(["prove", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url",
                         handle.base_url_openai, "--out", str(out / "report"), "--group-by", "feature"])
    print(f"`tokenproof prove` on {batch} (150 GSM8K + 150 MMLU world-religions requests, baseline "
          f"gpt-4-1106-preview, candidate mixtral-8x7b-instruct, local provider): exit {code} in "
          f"{time.perf_counter() - started:.1f} s; report at {out / 'report' / 'report.html'} and report.json")


if __name__ == "__main__":
    sys.exit(main())
