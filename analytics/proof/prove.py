"""`tokenproof prove`: offline proof from a file of past requests, before touching any code.

Input: JSONL in the OpenAI Batch API *input* format, one request per line::

    {"custom_id": "req-1", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gpt-4o", "messages": [...], ...}}

Optional per line (our extensions; the Batch API ignores nothing we need from it):
- ``"response"``: the recorded baseline answer, in the Batch API *output* line's shape
  (``{"status_code": 200, "body": {<chat.completion>}}``) or the chat.completion itself. When present
  the baseline is not replayed (no baseline spend); otherwise the request is replayed on the baseline.
  A Batch output file can be merged in by ``custom_id`` with ``--responses FILE``.
- ``"feature"`` (or ``body.metadata.feature``): the request group for ``--group-by feature``.
- ``"reference"``: a reference answer for reference-guided judging.

Each request is replayed on the candidate with the same parameters, gated, judged in both orders,
and fed in file order to its group's sequential test; once a group decides, its remaining requests
are skipped (no more spend). Writes ``report.json`` and ``report.html`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from tokenproof.analytics.proof.answer import content_hash
from tokenproof.analytics.proof.judge import JudgeFailed, JudgeFamilyError, compare, resolve_judge
from tokenproof.analytics.proof.replay import Replayer, answer_from_completion, price_answer
from tokenproof.analytics.proof.route import RouteEvidence, comparison_record, route_id
from tokenproof.analytics.proof.sequential import Params, alpha_spending, e_bh

__all__ = ["BatchFileError", "BatchRequest", "batch_request", "fingerprint", "prove", "read_batch", "run_cli"]


class ReplayError(RuntimeError):
    """Replaying cannot produce any comparison (e.g. the baseline fails on every request)."""


class BatchFileError(ValueError):
    """A malformed line of the input file (the message names the line)."""


@dataclass
class BatchRequest:
    line: int
    custom_id: str
    body: dict
    feature: str
    reference: str | None
    response: dict | None  # a recorded chat.completion


def fingerprint(body: dict) -> str:
    """The request's template: model, system prompt, tools and response format (not the user turn)."""
    system = [m.get("content") for m in body.get("messages") or [] if m.get("role") in {"system", "developer"}]
    return content_hash(json.dumps({"model": body.get("model"), "system": system, "tools": body.get("tools"),
                                    "response_format": body.get("response_format")}, sort_keys=True))[:12]


def read_batch(path: Path, responses: Path | None = None, limit: int | None = None) -> list[BatchRequest]:
    recorded: dict[str, dict] = {}
    if responses is not None:
        for number, raw in enumerate(responses.read_text(encoding="utf-8").splitlines(), start=1):
            if raw.strip():
                try:
                    item = json.loads(raw)
                    recorded[item["custom_id"]] = item.get("response")
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise BatchFileError(f"{responses}: line {number}: not a Batch API output line") from None
    requests = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BatchFileError(f"{path}: line {number}: not valid JSON ({exc.msg})") from None
        try:
            requests.append(batch_request(item, number, recorded))
        except BatchFileError as exc:
            raise BatchFileError(f"{path}: {exc}") from None
        if limit is not None and len(requests) >= limit:
            break
    return requests


def batch_request(item, number: int, recorded: dict[str, dict] | None = None) -> BatchRequest:
    """One Batch API input line (already decoded) as a :class:`BatchRequest`."""
    body = item.get("body") if isinstance(item, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise BatchFileError(f"line {number}: expected a Batch API line with body.messages")
    if item.get("url", "/v1/chat/completions") != "/v1/chat/completions":
        raise BatchFileError(f"line {number}: only /v1/chat/completions requests can be replayed")
    custom_id = str(item.get("custom_id") or f"line-{number}")
    response = item.get("response", (recorded or {}).get(custom_id))
    if isinstance(response, dict) and "body" in response:
        response = response["body"] if response.get("status_code", 200) == 200 else None
    feature = item.get("feature") or (body.get("metadata") or {}).get("feature") or "default"
    return BatchRequest(number, custom_id, body, str(feature), item.get("reference"), response)


def _one(req: BatchRequest, baseline_model: str, candidate: str, judge: str, replayer: Replayer,
         route: str) -> dict:
    if req.response is not None:
        baseline = answer_from_completion(req.response, baseline_model)
    else:
        baseline = replayer.call(req.body, baseline_model, feature=req.feature)
    if baseline.error:  # no baseline, no comparison: never counted as evidence either way
        return {"baseline_error": baseline.error, "line": req.line, "request_ref": req.custom_id}
    candidate_answer = replayer.call(req.body, candidate, feature=req.feature)
    if req.response is not None:  # answered by the Batch API: the workload costs batch rates on either model
        price_answer(baseline, batch=True)
        price_answer(candidate_answer, batch=True)
    try:
        comparison = compare(req.body, baseline, candidate_answer, replayer.judge(judge, req.feature), req.reference)
    except JudgeFailed as exc:
        return {"judge_error": str(exc), "line": req.line, "request_ref": req.custom_id}
    record = comparison_record(route=route, prompt_ref=content_hash(json.dumps(req.body["messages"], sort_keys=True)),
                               request_ref=req.custom_id, request=req.body, baseline=baseline,
                               candidate=candidate_answer, comparison=comparison, judge_model=judge, capture=True)
    record["line"] = req.line
    return record


def calibrate(items: list[BatchRequest], baseline_model: str, judge: str, replayer: Replayer, n: int,
              concurrency: int) -> dict:
    """The judge's noise floor on this group: the baseline against a second baseline answer."""
    def one(req: BatchRequest):
        first = (answer_from_completion(req.response, baseline_model) if req.response is not None
                 else replayer.call(req.body, baseline_model, feature=req.feature))
        second = replayer.call(req.body, baseline_model, feature=req.feature)
        if first.error or second.error:
            return None
        try:
            result = compare(req.body, first, second, replayer.judge(judge, req.feature), req.reference)
        except JudgeFailed:
            return None
        spent = [a.cost_usd for a in result.judge_answers] + [second.cost_usd] + (
            [] if first.recorded else [first.cost_usd])
        return result, sum(c or 0.0 for c in spent)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = [r for r in pool.map(one, items[:n]) if r is not None]
    judged = [r for r, _ in results if r.swap_consistent is not None]
    return {
        "pairs": len(results),
        "non_tie_rate": round(sum(r.outcome != "tie" for r, _ in results) / len(results), 4) if results else None,
        "swap_inconsistency_rate": round(sum(not r.swap_consistent for r in judged) / len(judged), 4) if judged else None,
        "spend_usd": round(sum(c for _, c in results), 6),
    }


def prove(requests: list[BatchRequest], candidate: str, *, params: Params, judge: str | None = None,
          baseline: str | None = None, group_by: str = "feature", replayer: Replayer,
          concurrency: int = 4, monthly_calls: float | None = None, calibration: int = 0,
          portfolio: bool = False) -> dict:
    """Replay, judge and decide per group; return the report as a dict.

    ``portfolio``: spend alpha across the groups (each tested at alpha / groups, Bonferroni), so the
    chance of any false switch among all groups stays at or below alpha.
    """
    groups: dict[str, list[BatchRequest]] = {}
    for req in requests:
        key = req.feature if group_by == "feature" else fingerprint(req.body)
        groups.setdefault(key, []).append(req)
    nominal_alpha = params.alpha
    if portfolio and len(groups) > 1:
        params = replace(params, alpha=alpha_spending(len(groups), params.alpha))
    results = []
    for key, items in groups.items():
        baseline_model = baseline or items[0].body.get("model") or "unknown"
        judge_model = resolve_judge(baseline_model, candidate, judge)
        rid = route_id({group_by: key}, baseline_model, candidate, "", judge_model)
        evidence = RouteEvidence(rid, params)
        errors: list[dict] = []
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for start in range(0, len(items), max(1, concurrency)):
                if evidence.decided:
                    break
                chunk = items[start:start + concurrency]
                records = list(pool.map(lambda r: _one(r, baseline_model, candidate, judge_model, replayer, rid), chunk))
                for record in records:  # file order: the decision the live system would take
                    if "baseline_error" in record or "judge_error" in record:
                        errors.append(record)
                    else:
                        evidence.add(record)
                failed_calls = [r for r in evidence.records if r["format_failures"][:1]
                                and r["format_failures"][0].startswith("call failed")]
                if evidence.records and len(failed_calls) == len(evidence.records) >= min(len(items), 2 * concurrency):
                    raise ReplayError(f"the candidate {candidate!r} failed on every request so far: "
                                      f"{failed_calls[0]['format_failures'][0]}")
                if errors and not evidence.records and len(errors) >= min(len(items), 2 * max(1, concurrency)):
                    first = errors[0]
                    what = (f"the baseline {baseline_model!r}" if "baseline_error" in first
                            else f"the judge {judge_model!r}")
                    raise ReplayError(f"{what} failed on every request so far: "
                                      f"{first.get('baseline_error') or first.get('judge_error')}")
        summary = evidence.summary()
        summary.update({
            "group_by": group_by, "group": key, "baseline": baseline_model, "candidate": candidate,
            "judge": judge_model, "requests_in_file": len(items),
            "baseline_errors": sum("baseline_error" in e for e in errors),
            "judge_errors": sum("judge_error" in e for e in errors),
            "skipped_after_decision": len(items) - len(evidence.records) - evidence.ignored_after_decision - len(errors),
        })
        volume = monthly_calls if monthly_calls is not None else float(len(items))
        base_cost, cand_cost = summary["mean_baseline_cost_usd"], summary["mean_candidate_cost_usd"]
        summary["monthly_calls"] = volume
        summary["projected_monthly_saving_usd"] = (
            None if base_cost is None or cand_cost is None else round((base_cost - cand_cost) * volume, 4))
        summary["disputed_pairs"] = _disputed(evidence.records)
        if calibration > 0:
            summary["calibration"] = calibrate(items, baseline_model, judge_model, replayer, calibration, concurrency)
            summary["shadow_spend_usd"] = round(summary["shadow_spend_usd"] + summary["calibration"]["spend_usd"], 6)
        summary["comparisons"] = [{k: v for k, v in r.items() if k not in {"judge_explanations"}}
                                  for r in evidence.records]
        results.append(summary)
    e_bh_kept = e_bh([r["e_value"] for r in results], nominal_alpha)
    for result, kept in zip(results, e_bh_kept, strict=False):
        result["e_bh_switch"] = bool(kept and result["decision"] == "switch")
    return {
        "candidate": candidate, "group_by": group_by, "requests": len(requests),
        "params": {"q0": params.q0, "q1": params.q1, "alpha": params.alpha, "beta": params.beta,
                   "min_n": params.n_min, "max_n": params.n_max, "nominal_alpha": nominal_alpha,
                   "portfolio": "bonferroni" if params.alpha != nominal_alpha else "per-group"},
        "routes": results,
        "totals": {
            "switch": sum(r["decision"] == "switch" for r in results),
            "keep": sum(r["decision"] == "keep" for r in results),
            "undecided": sum(r["decision"] == "undecided" for r in results),
            "uninformative": sum(r["decision"] == "uninformative" for r in results),
            "e_bh_switch": sum(r["e_bh_switch"] for r in results),
            "shadow_spend_usd": round(sum(r["shadow_spend_usd"] for r in results), 6),
            "projected_monthly_saving_usd_switched": round(sum(
                r["projected_monthly_saving_usd"] or 0.0 for r in results if r["decision"] == "switch"), 4),
        },
    }


def _disputed(records: list[dict], limit: int = 12) -> list[dict]:
    """Losses and swap-inconsistent pairs first: what a reviewer should read side by side."""
    chosen = [r for r in records if r["outcome"] == "loss"] + [
        r for r in records if r["outcome"] != "loss" and r.get("swap_consistent") is False]
    keys = ("request_ref", "line", "outcome", "decided_by", "question", "baseline_output", "candidate_output",
            "verdict_baseline_first", "verdict_candidate_first", "format_failures", "judge_explanations",
            "length_ratio")
    return [{k: r.get(k) for k in keys} for r in chosen[:limit]]


def _unwritable(out: Path) -> str | None:
    """Why the report directory ``out`` could not be created or written (None when it can), creating nothing."""
    target = out.resolve()
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def run_cli(args: argparse.Namespace, params: Params) -> int:
    from tokenproof.analytics.proof.report import write_report
    try:
        requests = read_batch(Path(args.file), Path(args.responses) if getattr(args, "responses", None) else None,
                              args.limit)
    except (OSError, BatchFileError) as exc:
        print(f"tokenproof prove: {exc}", file=sys.stderr)
        return 2
    if not requests:
        print(f"tokenproof prove: {args.file} holds no requests", file=sys.stderr)
        return 2
    out = Path(args.out)
    problem = _unwritable(out)  # before any replay is paid for: the report must have somewhere to go
    if problem:
        print(f"tokenproof prove: cannot write the report to {out}: {problem}", file=sys.stderr)
        return 2
    replayer = Replayer(base_url=args.base_url, anthropic_base_url=args.anthropic_base_url)
    try:
        report = prove(requests, args.candidate, params=params, judge=args.judge, baseline=args.baseline,
                       group_by=args.group_by, replayer=replayer, concurrency=args.concurrency,
                       monthly_calls=args.monthly_calls, calibration=args.calibrate, portfolio=args.portfolio)
    except (JudgeFamilyError, ReplayError) as exc:
        print(f"tokenproof prove: {exc}", file=sys.stderr)
        return 2
    json_path, html_path = write_report(report, out)
    for route in report["routes"]:
        saving = route["projected_monthly_saving_usd"]
        print(f"{route['group']}: {route['decision'].upper()} after {route['n']} comparisons "
              f"(wins {route['wins']}, ties {route['ties']}, losses {route['losses']}; non-loss "
              f"{route['non_loss_rate']}, lower bound {route['non_loss_lower_bound']}; swap inconsistency "
              f"{route['swap_inconsistency_rate']}); projected saving "
              f"{'unpriced' if saving is None else f'${saving:,.2f}'} per month")
    print(f"report: {html_path} and {json_path}")
    return 0
