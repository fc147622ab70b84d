"""The proof report: ``report.json`` (everything) and a readable, self-contained ``report.html``.

The page shows per route the verdict, the evidence (counts, rates, the one-sided lower bound, the
swap-inconsistency rate, the length-controlled win rate), the SPRT trajectory as an inline SVG, the
projected savings, and the disputed pairs side by side. Every model output is HTML-escaped.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

__all__ = ["render_html", "write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px;color:#222}
h1{font-size:1.5rem} h2{font-size:1.2rem;margin-top:2rem;border-top:1px solid #ccc;padding-top:1rem}
table{border-collapse:collapse;margin:.5rem 0} td,th{border:1px solid #ddd;padding:.25rem .5rem;text-align:left}
.switch{color:#0a0;font-weight:bold} .keep{color:#b00;font-weight:bold}
.undecided,.uninformative{color:#a60;font-weight:bold}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1rem;margin:1rem 0}
.pair pre{white-space:pre-wrap;background:#f7f7f7;padding:.5rem;max-height:20rem;overflow:auto;font-size:.85rem}
pre.question{white-space:pre-wrap;max-height:12rem;overflow:auto;font-size:.85rem}
.meta{color:#555;font-size:.9rem}
"""


def _e(value) -> str:
    return html.escape("" if value is None else str(value))


def _money(value) -> str:
    return "unpriced" if value is None else f"${value:,.4f}"


def _trajectory_svg(points: list[float], upper: float, lower: float, width: int = 520, height: int = 160) -> str:
    if not points:
        return ""
    lo, hi = min(min(points), lower) - 0.5, max(max(points), upper) + 0.5
    n = max(len(points), 2)

    def xy(i: int, v: float) -> str:
        return f"{10 + (width - 20) * i / (n - 1):.1f},{height - 10 - (height - 20) * (v - lo) / (hi - lo):.1f}"

    line = " ".join(xy(i, v) for i, v in enumerate(points))
    bounds = "".join(
        f'<line x1="10" x2="{width - 10}" y1="{xy(0, b).split(",")[1]}" y2="{xy(0, b).split(",")[1]}" '
        f'stroke="{c}" stroke-dasharray="4"/><text x="{width - 120}" y="{float(xy(0, b).split(",")[1]) - 3:.1f}" '
        f'font-size="10">{label}</text>'
        for b, c, label in ((upper, "#0a0", "switch boundary"), (lower, "#b00", "keep boundary")))
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="SPRT log-likelihood ratio">'
            f'{bounds}<polyline fill="none" stroke="#03c" stroke-width="1.5" points="{line}"/></svg>')


def _calibration(cal: dict | None) -> str:
    if not cal:
        return ""
    return (f"<p class='meta'>Judge calibration (baseline against itself, {cal['pairs']} pairs): non-tie verdicts "
            f"{_e(cal['non_tie_rate'])}, swap inconsistency {_e(cal['swap_inconsistency_rate'])}; the noise floor "
            f"of this judge on this route.</p>")


def render_html(report: dict) -> str:
    params = report["params"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>tokenproof proof report</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Proof report: candidate <code>{_e(report['candidate'])}</code></h1>",
             f"<p class='meta'>{report['requests']} requests grouped by {_e(report['group_by'])}. Sequential test "
             f"(Wald SPRT) on the non-loss rate: H0 q = {params['q0']} vs H1 q = {params['q1']}, "
             f"alpha = {params['alpha']}, beta = {params['beta']}, no decision before {params['min_n']}, "
             f"undecided at {params['max_n']}. A win counts only when the judge agrees in both answer orders; a "
             f"format failure is a loss. "
             + (f"Portfolio control: alpha {params['nominal_alpha']} spent across the groups (Bonferroni), so the "
                f"chance of any false switch among them is at most {params['nominal_alpha']}."
                if params.get("portfolio") == "bonferroni" else
                "Each group is controlled on its own (use --portfolio to bound false switches across groups).")
             + "</p>"]
    totals = report["totals"]
    parts.append("<table><tr><th>switch</th><th>keep</th><th>undecided</th><th>uninformative</th>"
                 "<th>switch surviving e-BH</th><th>shadow spend</th>"
                 "<th>projected monthly saving (switched routes)</th></tr>"
                 f"<tr><td>{totals['switch']}</td><td>{totals['keep']}</td><td>{totals['undecided']}</td>"
                 f"<td>{totals['uninformative']}</td><td>{totals['e_bh_switch']}</td>"
                 f"<td>{_money(totals['shadow_spend_usd'])}</td>"
                 f"<td>{_money(totals['projected_monthly_saving_usd_switched'])}</td></tr></table>")
    for route in report["routes"]:
        lc = route["length_control"]
        parts.append(
            f"<h2>{_e(route['group'])}: <span class='{_e(route['decision'])}'>{_e(route['decision'].upper())}</span></h2>"
            f"<p class='meta'>route {_e(route['route_id'])}; baseline <code>{_e(route['baseline'])}</code>, candidate "
            f"<code>{_e(route['candidate'])}</code>, judge <code>{_e(route['judge'])}</code></p>"
            "<table><tr><th>comparisons</th><th>wins</th><th>ties</th><th>losses</th><th>format failures</th>"
            "<th>non-loss rate</th><th>lower bound (one-sided)</th><th>tie-adjusted win rate</th>"
            "<th>length-controlled win rate</th><th>mean length ratio</th><th>swap inconsistency</th></tr>"
            f"<tr><td>{route['n']}</td><td>{route['wins']}</td><td>{route['ties']}</td><td>{route['losses']}</td>"
            f"<td>{route['format_failures']}</td><td>{_e(route['non_loss_rate'])}</td>"
            f"<td>{_e(route['non_loss_lower_bound'])} ({_e(route['lower_bound_confidence'])})</td>"
            f"<td>{_e(route['tie_adjusted_win_rate'])}</td><td>{_e(lc['lc_win_rate'])}"
            f"{' (length explains verdicts)' if lc['length_explains_verdicts'] else ''}</td>"
            f"<td>{_e(lc['mean_length_ratio'])}</td><td>{_e(route['swap_inconsistency_rate'])}</td></tr></table>"
            f"<p>Projected saving: <b>{_money(route['projected_monthly_saving_usd'])}</b> per month at "
            f"{route['monthly_calls']:,.0f} calls (mean cost per call {_money(route['mean_baseline_cost_usd'])} "
            f"baseline vs {_money(route['mean_candidate_cost_usd'])} candidate); shadow spend "
            f"{_money(route['shadow_spend_usd'])}. Log-likelihood ratio {route['log_likelihood_ratio']} "
            f"(switch at {route['switch_threshold']}, keep at {route['keep_threshold']}).</p>"
            + _trajectory_svg(route["trajectory"], route["switch_threshold"], route["keep_threshold"])
            + _calibration(route.get("calibration")))
        if route["disputed_pairs"]:
            parts.append(f"<h3>Disputed pairs ({len(route['disputed_pairs'])})</h3>")
        for pair in route["disputed_pairs"]:
            failures = "; ".join(pair.get("format_failures") or [])
            parts.append(
                f"<p class='meta'><b>{_e(pair['request_ref'])}</b> (line {_e(pair['line'])}): outcome "
                f"<b>{_e(pair['outcome'])}</b> by {_e(pair['decided_by'])}; judge verdicts baseline-first "
                f"[[{_e(pair['verdict_baseline_first'])}]], candidate-first [[{_e(pair['verdict_candidate_first'])}]]; "
                f"length ratio {_e(pair['length_ratio'])}{'; format: ' + _e(failures) if failures else ''}</p>"
                f"<pre class='question'>{_e(pair['question'])}</pre>"
                f"<div class='pair'><div><b>baseline</b><pre>{_e(pair['baseline_output'])}</pre></div>"
                f"<div><b>candidate</b><pre>{_e(pair['candidate_output'])}</pre></div></div>")
    parts.append("</body></html>")
    return "".join(parts)


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / "report.json", out / "report.html"
    json_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path
