"""The optimisation report: ``optimize-report.json`` (everything) and a short text summary.

The text keeps the search figures (optimise and select sets, which the search saw) apart from the
held-out figures (prompts nothing saw before the choice was frozen): only the held-out line says
how the prompts compare; the gap between the chosen prompt's optimise and held-out rates measures
overfitting. It ends with the promise: an optimised prompt still has to pass the normal shadow proof.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["PROMISE", "summary_text", "write_report"]

PROMISE = ("Nothing measured here switches a route: the chosen prompt is a new route version whose evidence "
           "starts from zero, and only the normal shadow proof on fresh prompts can decide \"switch\".")


def _rate(score: dict) -> str:
    if not score or score.get("match_rate") is None:
        return "n/a"
    low, high = score["ci95"]
    partial = "" if score.get("complete", True) else " (partial: budget)"
    return f"{score['match_rate']:.0%} [{low:.0%}, {high:.0%}] of {score['n']}{partial}"


def _money(value) -> str:
    return "unpriced" if value is None else f"${value:,.6f}"


def summary_text(report: dict) -> str:
    figures = report["search_figures"]
    current, chosen = report["current"]["id"], report["chosen"]["id"]
    split = report["split"]
    lines = [
        f"optimise {report['candidate']} (baseline {report['baseline']}) for {json.dumps(report['match'])}; "
        f"judge {report['judge']}, optimiser {report['optimizer_model']}",
        f"split {split['split_id']} (seed {split['seed']}): optimise {split['sizes']['optimise']}, "
        f"select {split['sizes']['select']}, held-out {split['sizes']['held_out']}; "
        f"{split['duplicates_dropped']} duplicates dropped",
        f"search: {report['rounds_run']} rounds, {len(report['variants'])} variants; stopped: {report['stop_reason']}",
        "SEARCH FIGURES (sets the search saw; optimistic by construction):",
        f"  current prompt: optimise {_rate(figures[current]['optimise'])}; select {_rate(figures[current]['select'])}",
    ]
    if report["changed"]:
        lines.append(f"  chosen {chosen} ({report['chosen']['origin']}, +{report['savings']['extra_prompt_tokens']} "
                     f"prompt tokens): optimise {_rate(figures[chosen]['optimise'])}; select {_rate(figures[chosen]['select'])}")
    else:
        lines.append("  no variant beat the current prompt on the select set: the current prompt is kept")
    held = report["held_out_figures"]
    change = "n/a" if held["change"] is None else f"{held['change']:+.0%}"
    gap = "n/a" if report["overfitting_gap"] is None else f"{report['overfitting_gap']:+.0%}"
    lines += [
        "HELD-OUT FIGURES (prompts nothing saw before the choice; the honest comparison):",
        f"  before {_rate(held['before'])}; after {_rate(held['after'])}; change "
        f"{change} (paired: {held['paired']['gained']} gained, "
        f"{held['paired']['lost']} lost, exact McNemar p = {held['paired']['p_value']})",
        f"  overfitting gap (chosen: optimise rate - held-out rate): {gap}",
    ]
    spend = report["spend"]
    savings = report["savings"]
    lines += [
        f"spend: search {spend['search']['tokens']} tokens ({_money(spend['search']['usd_priced'])} priced, "
        f"{spend['search']['unpriced_calls']} unpriced calls); total {spend['total']['tokens']} tokens "
        f"({_money(spend['total']['usd_priced'])} priced, {spend['total']['unpriced_calls']} unpriced calls)",
        f"savings after the longer prompt (held-out): baseline {_money(savings['mean_baseline_cost_usd'])} vs candidate "
        f"{_money(savings['mean_candidate_cost_usd_after'])} per call (before {_money(savings['mean_candidate_cost_usd_before'])}); "
        f"extra prompt cost {_money(savings['extra_prompt_cost_per_call_usd'])} per call; saving "
        f"{_money(savings['saving_per_call_usd_after'])} per call",
    ]
    route = report["route"]
    if route.get("changed"):
        lines.append(f"new route version {route['route_id']} (was {route['previous_route_id']}): version "
                     f"{route.get('version')}, alpha {route.get('alpha')}, evidence {route.get('evidence_n')} comparisons")
    lines.append(PROMISE)
    return "\n".join(lines)


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, text_path = out / "optimize-report.json", out / "optimize-report.txt"
    json_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    text_path.write_text(summary_text(report) + "\n", encoding="utf-8")
    return json_path, text_path
