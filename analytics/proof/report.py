"""The proof report: ``report.json`` (everything) and a readable, self-contained ``report.html``.

The page states in one sentence what SWITCH means, then shows per route the verdict, the evidence
(counts with unresolved pairs and their reasons, rates, confidence sequences, judge failures and
their cost, the swap-inconsistency rate, the length-controlled win rate, per-segment checks), the
e-value trajectory as an inline SVG, the projected savings at the stated volume, and the disputed
pairs side by side with the judge's explanations. Every model output is HTML-escaped.
"""

from __future__ import annotations

import html
import json
import math
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


def _trajectory_svg(points: list[float], upper: float, lower: float | None, width: int = 520,
                    height: int = 160) -> str:
    if not points:
        return ""
    floor = min(points) if lower is None else lower
    lo, hi = min(min(points), floor) - 0.5, max(max(points), upper) + 0.5
    n = max(len(points), 2)

    def xy(i: int, v: float) -> str:
        return f"{10 + (width - 20) * i / (n - 1):.1f},{height - 10 - (height - 20) * (v - lo) / (hi - lo):.1f}"

    line = " ".join(xy(i, v) for i, v in enumerate(points))
    bounds = "".join(
        f'<line x1="10" x2="{width - 10}" y1="{xy(0, b).split(",")[1]}" y2="{xy(0, b).split(",")[1]}" '
        f'stroke="{c}" stroke-dasharray="4"/><text x="{width - 120}" y="{float(xy(0, b).split(",")[1]) - 3:.1f}" '
        f'font-size="10">{label}</text>'
        for b, c, label in ((upper, "#0a0", "switch boundary"), (lower, "#b00", "keep boundary")) if b is not None)
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="log e-value of the switch test">'
            f'{bounds}<polyline fill="none" stroke="#03c" stroke-width="1.5" points="{line}"/></svg>')


def _calibration(cal: dict | None) -> str:
    if not cal:
        return ""
    if not cal["informative"]:
        return (f"<p class='meta'>Judge calibration ({cal['pairs']} pairs of two independent baseline samples): "
                f"{_e(cal['note'] or 'no distinct pairs')}.</p>")
    return (f"<p class='meta'>Judge calibration (two independent baseline samples, {cal['distinct_pairs']} distinct "
            f"pairs, {cal['identical_samples']} identical): the judge preferred one sample or could not settle "
            f"in {_e(cal['non_tie_rate'])} of pairs, swap inconsistency {_e(cal['swap_inconsistency_rate'])}; "
            f"{'reliable enough' if cal['judge_reliable'] else 'NOT reliable: the route is uninformative'}.</p>")


def _segments(segments: list[dict] | None) -> str:
    if not segments:
        return ""
    rows = "".join(f"<tr><td>{_e(s['segment'] or '(none)')}</td><td>{s['n']}</td><td>{s['losses']}</td>"
                   f"<td>{s['unresolved']}</td><td>{_e(s['loss_rate_lower_bound'])}</td>"
                   f"<td>{'BREAKS the loss bar' if s['breaks_promise'] else 'ok'}</td></tr>" for s in segments)
    return ("<h3>Segments</h3><table><tr><th>segment</th><th>comparisons</th><th>losses</th><th>unresolved</th>"
            f"<th>loss rate at least</th><th>check</th></tr>{rows}</table>")


def render_html(report: dict) -> str:
    params = report["params"]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>tokenproof proof report</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Proof report: candidate <code>{_e(report['candidate'])}</code></h1>",
             f"<p><b>{_e(report['meaning'])}</b></p>",
             f"<p class='meta'>{report['requests']} requests grouped by {_e(report['group_by'])}, de-duplicated "
             f"by content and sampled at random (seed {_e(params['seed'])}). Decision: the intersection of two "
             f"anytime-valid tests, each at alpha = {_e(params['alpha'])}: losses and unresolved pairs below "
             f"{_e(params['max_loss'])}, tie-adjusted win rate above {0.5 - params['margin']:.2f}; no decision "
             f"before {params['min_n']}, undecided at {params['max_n']}, uninformative above "
             f"{params['max_unresolved']:.0%} unresolved. A win counts only when the judge agrees in both answer "
             f"orders; a format failure is a loss; an unresolved pair never counts for the candidate. "
             + (f"Portfolio control: alpha {params['nominal_alpha']} spent across the groups (Bonferroni), so the "
                f"chance of any false switch among them is at most {params['nominal_alpha']}."
                if params.get("portfolio") == "bonferroni" else
                "Each group is controlled on its own (--no-portfolio).")
             + "</p>"]
    totals = report["totals"]
    parts.append("<table><tr><th>switch</th><th>keep</th><th>undecided</th><th>uninformative</th>"
                 "<th>unresolved pairs</th><th>judge failure cost</th><th>shadow spend</th>"
                 "<th>projected monthly saving (switched routes)</th></tr>"
                 f"<tr><td>{totals['switch']}</td><td>{totals['keep']}</td><td>{totals['undecided']}</td>"
                 f"<td>{totals['uninformative']}</td><td>{totals['unresolved']}</td>"
                 f"<td>{_money(totals['judge_failure_cost_usd'])}</td>"
                 f"<td>{_money(totals['shadow_spend_usd'])}</td>"
                 f"<td>{_money(totals['projected_monthly_saving_usd_switched'])}</td></tr></table>")
    for route in report["routes"]:
        parts.append(_route_html(route))
    parts.append("</body></html>")
    return "".join(parts)


def _route_html(route: dict) -> str:
    lc = route["length_control"]
    reasons = ", ".join(f"{_e(k)}: {v}" for k, v in route["unresolved_reasons"].items()) or "none"
    why = f"<p class='meta'>Uninformative: {_e(route['uninformative_reason'])}</p>" if route["uninformative_reason"] else ""
    volume = (f"{route['monthly_calls']:,.0f} calls per month ({_e(route['volume_source'])})"
              if route["volume_source"] != "file volume" else
              f"the file's own volume ({route['monthly_calls']:,.0f} calls; not a monthly figure: proving cost "
              f"{_money(route['shadow_spend_usd'])} against this saving)")
    out = [
        f"<h2>{_e(route['group'])}: <span class='{_e(route['decision'])}'>{_e(route['decision'].upper())}</span></h2>",
        f"<p class='meta'>route {_e(route['route_id'])}; baseline <code>{_e(route['baseline'])}</code>, candidate "
        f"<code>{_e(route['candidate'])}</code>, judge <code>{_e(route['judge'])}</code>; {route['sampled']} distinct "
        f"requests sampled of {route['requests_in_file']} ({route['duplicates_dropped']} duplicates dropped)</p>", why,
        "<table><tr><th>comparisons</th><th>wins</th><th>ties</th><th>losses</th><th>unresolved</th>"
        "<th>format failures</th><th>loss or unresolved rate</th><th>below (confidence sequence)</th>"
        "<th>tie-adjusted win rate</th><th>length-controlled win rate</th><th>mean length ratio</th>"
        "<th>swap inconsistency</th></tr>",
        f"<tr><td>{route['n']}</td><td>{route['wins']}</td><td>{route['ties']}</td><td>{route['losses']}</td>"
        f"<td>{route['unresolved']}</td><td>{route['format_failures']}</td>"
        f"<td>{_e(route['loss_or_unresolved_rate'])}</td>"
        f"<td>{_e(route['loss_rate_upper_bound'])} ({_e(route['lower_bound_confidence'])})</td>"
        f"<td>{_e(route['tie_adjusted_win_rate'])}</td><td>{_e(lc['lc_win_rate'])}"
        f"{' (length explains verdicts)' if lc['length_explains_verdicts'] else ''}</td>"
        f"<td>{_e(lc['mean_length_ratio'])}</td><td>{_e(route['swap_inconsistency_rate'])}</td></tr></table>",
        f"<p class='meta'>Unresolved pairs by reason: {reasons}. Judge failures: {route['judge_failures']} "
        f"costing {_money(route['judge_failure_cost_usd'])}.</p>",
        f"<p>Projected saving: <b>{_money(route['projected_monthly_saving_usd'])}</b> at {volume} (mean cost per "
        f"call {_money(route['mean_baseline_cost_usd'])} baseline vs {_money(route['mean_candidate_cost_usd'])} "
        f"candidate); shadow spend {_money(route['shadow_spend_usd'])}. E-value {route['e_value']} (loss test "
        f"{route['e_value_loss']}, preference test {route['e_value_preference']}; switch at "
        f"{route['switch_threshold_e']}).</p>",
        _trajectory_svg(route["trajectory"], round(math.log(route["switch_threshold_e"]), 4), None),
        _calibration(route.get("calibration")), _segments(route.get("segments")),
    ]
    if route["disputed_pairs"]:
        out.append(f"<h3>Disputed pairs ({len(route['disputed_pairs'])})</h3>")
    for pair in route["disputed_pairs"]:
        failures = "; ".join(pair.get("format_failures") or [])
        explanations = "".join(f"<pre class='question'>{_e(t)}</pre>" for t in pair.get("judge_explanations") or [] if t)
        out.append(
            f"<p class='meta'><b>{_e(pair['request_ref'])}</b> (line {_e(pair['line'])}): outcome "
            f"<b>{_e(pair['outcome'])}</b> by {_e(pair['decided_by'])}"
            f"{' (' + _e(pair.get('error_kind')) + ')' if pair.get('error_kind') else ''}; judge verdicts "
            f"baseline-first [[{_e(pair['verdict_baseline_first'])}]], candidate-first "
            f"[[{_e(pair['verdict_candidate_first'])}]]; length ratio {_e(pair['length_ratio'])}"
            f"{'; format: ' + _e(failures) if failures else ''}</p>"
            f"<pre class='question'>{_e(pair['question'])}</pre>"
            f"<div class='pair'><div><b>baseline</b><pre>{_e(pair['baseline_output'])}</pre></div>"
            f"<div><b>candidate</b><pre>{_e(pair['candidate_output'])}</pre></div></div>"
            + (f"<details><summary>judge explanations</summary>{explanations}</details>" if explanations else ""))
    return "".join(out)


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / "report.json", out / "report.html"
    json_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path
