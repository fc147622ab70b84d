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

Per group, requests are de-duplicated by content and drawn at random (stratified over the file's
order, which stands for time; ``--seed`` is logged, ``--recent N`` keeps the last N), then compared
through the one pipeline (:mod:`tokenproof.analytics.proof.pipeline`) and fed to the group's decision
test; once a group decides, its remaining requests are skipped (no more spend). Alpha is spent across
the groups by default. ``--group-by fingerprint`` uses the live template fingerprint, so an offline
proof lines up with a live route. Writes ``report.json`` and ``report.html`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tokenproof.analytics.proof.judge import JudgeFamilyError, resolve_judge
from tokenproof.analytics.proof.pipeline import Pipeline, calibration_summary, prompt_ref, uninformative_reason
from tokenproof.analytics.proof.promise import meaning
from tokenproof.analytics.proof.replay import Replayer, answer_from_completion
from tokenproof.analytics.proof.route import RouteEvidence, route_id
from tokenproof.analytics.proof.sequential import Params, Tally, alpha_spending, mixture_cs

__all__ = ["BatchFileError", "BatchRequest", "batch_request", "fingerprint", "prove", "read_batch", "run_cli",
           "sample"]


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
    segments: dict = field(default_factory=dict)  # tier / customer / language for per-segment checks


def fingerprint(body: dict) -> str:
    """The live template fingerprint of a chat body: the instrumentation's own function."""
    from tokenproof.instrumentation._openai import ChatAdapter
    return ChatAdapter().fingerprint(dict(body)) or ""


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
    meta = body.get("metadata") or {}
    segments = {k: item.get(k, meta.get(k)) for k in ("tier", "customer", "language") if item.get(k, meta.get(k))}
    return BatchRequest(number, custom_id, body, str(feature), item.get("reference"), response, segments)


def sample(requests: list[BatchRequest], seed: int, recent: int | None = None,
           strata: int = 10) -> tuple[list[BatchRequest], int]:
    """De-duplicated by content, optionally the ``recent`` last requests, in a random order
    stratified over time (file order = arrival order): each block of draws takes one request from
    each time stratum. Returns (sample, duplicates dropped)."""
    seen: set[str] = set()
    unique = []
    for req in requests:
        ref = prompt_ref(req.body)
        if ref not in seen:
            seen.add(ref)
            unique.append(req)
    dropped = len(requests) - len(unique)
    if recent is not None:
        unique = unique[-recent:]
    rng = random.Random(seed)
    k = max(1, min(strata, len(unique)))
    buckets = [unique[i * len(unique) // k:(i + 1) * len(unique) // k] for i in range(k)]
    for bucket in buckets:
        rng.shuffle(bucket)
    ordered: list[BatchRequest] = []
    while any(buckets):
        live = [b for b in buckets if b]
        rng.shuffle(live)
        ordered += [b.pop() for b in live]
    return ordered, dropped


def _recorded(req: BatchRequest, baseline_model: str):
    return answer_from_completion(req.response, baseline_model) if req.response is not None else None


def calibrate(items: list[BatchRequest], baseline_model: str, judge: str, replayer: Replayer, n: int,
              concurrency: int, params: Params) -> dict:
    """The judge's noise floor: two *independent* baseline samples (both replayed, at the request's
    own temperature) judged against each other. Identical samples measure nothing and are counted
    apart; a judge that prefers one sample (or cannot settle) at the loss bar's rate or more makes
    the route uninformative."""
    pipe = Pipeline(replayer=replayer, route="calibration", baseline_model=baseline_model,
                    candidate_model=baseline_model, judge_model=judge, capture=False)

    def one(req: BatchRequest):
        first = replayer.call(req.body, baseline_model)
        if first.error:
            return None
        return pipe.run(req.body, request_ref=req.custom_id, baseline=first, reference=req.reference)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        results = [r for r in pool.map(one, items[:n]) if r is not None]
    return calibration_summary(results, params)


def prove(requests: list[BatchRequest], candidate: str, *, params: Params, judge: str | None = None,
          baseline: str | None = None, group_by: str = "feature", replayer: Replayer,
          concurrency: int = 4, monthly_calls: float | None = None, calibration: int = 0,
          portfolio: bool = True, seed: int = 0, recent: int | None = None,
          tolerate_fence: bool = False, segment_by: str | None = None,
          live_volumes: dict[tuple[str, str], float] | None = None) -> dict:
    """Sample, replay, judge and decide per group; return the report as a dict.

    Savings are projected at ``monthly_calls`` when given, else at the group's live monthly volume
    (``live_volumes``: (group key, baseline model) -> calls per month, read from the store through
    the service), else at the file's own volume, and then the report sets the saving against what
    proving cost.

    ``portfolio`` (default on): alpha is spent across the groups (each tested at alpha / groups,
    Bonferroni), so the chance of any false switch among all groups stays at or below alpha.
    """
    groups: dict[str, list[BatchRequest]] = {}
    for req in requests:
        key = req.feature if group_by == "feature" else fingerprint(req.body)
        groups.setdefault(key, []).append(req)
    nominal_alpha = params.alpha
    alpha = alpha_spending(len(groups), params.alpha) if portfolio else params.alpha
    results = []
    for key, all_items in groups.items():
        items, duplicates = sample(all_items, seed, recent)
        baseline_model = baseline or items[0].body.get("model") or "unknown"
        judge_model = resolve_judge(baseline_model, candidate, judge)
        rid = route_id({group_by: key}, baseline_model, candidate, "", judge_model, params)
        evidence = RouteEvidence(rid, params, alpha)
        pipe = Pipeline(replayer=replayer, route=rid, baseline_model=baseline_model, candidate_model=candidate,
                        judge_model=judge_model, feature=items[0].feature, tolerate_fence=tolerate_fence)
        calib = None
        if calibration > 0:
            calib = calibrate(items, baseline_model, judge_model, replayer, calibration, concurrency, params)
            reason = uninformative_reason(calib, params)
            if reason:
                evidence.mark_uninformative(reason)
        segments: dict[str, list[str]] = {}
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for start in range(0, len(items), max(1, concurrency)):
                if evidence.decided:
                    break
                chunk = items[start:start + concurrency]
                outs = list(pool.map(lambda r: (r, pipe.run(r.body, request_ref=r.custom_id,
                                                            baseline=_recorded(r, baseline_model),
                                                            reference=r.reference,
                                                            batch=r.response is not None)), chunk))
                for req, result in outs:  # sampled order: the decision the live system would take
                    result.record["line"] = req.line
                    if not evidence.decided and segment_by:
                        segments.setdefault(str(req.segments.get(segment_by, "")), []).append(result.outcome)
                    evidence.add(result.record)
                _check_all_failed(evidence, items, concurrency, candidate, baseline_model, judge_model)
        summary = evidence.summary()
        summary.update({
            "group_by": group_by, "group": key, "baseline": baseline_model, "candidate": candidate,
            "judge": judge_model, "requests_in_file": len(all_items), "duplicates_dropped": duplicates,
            "sampled": len(items), "sample_seed": seed, "recent_window": recent,
            "fingerprints": sorted({fingerprint(r.body) for r in items[:50]}),
            "baseline_errors": sum(r.get("error_kind") == "baseline_failed" for r in evidence.records),
            "judge_errors": summary["judge_failures"],
            "skipped_after_decision": len(items) - len(evidence.records) - evidence.ignored_after_decision,
        })
        base_cost, cand_cost = summary["mean_baseline_cost_usd"], summary["mean_candidate_cost_usd"]
        live = (live_volumes or {}).get((key, baseline_model))
        if monthly_calls is not None:
            volume, source = monthly_calls, "monthly calls given"
        elif live:
            volume, source = live, "live volume from the store"
        else:
            volume, source = float(len(all_items)), "file volume"
        summary["monthly_calls"] = volume
        summary["volume_source"] = source
        saving = None if base_cost is None or cand_cost is None else round((base_cost - cand_cost) * volume, 4)
        summary["projected_monthly_saving_usd"] = saving
        if source == "file volume":
            spent = summary["shadow_spend_usd"]
            summary["saving_vs_proving"] = (
                f"no live volume known: switching would save {'an unpriced amount' if saving is None else f'${saving:,.4f}'} "
                f"on the file's {len(all_items)} calls, against {'an unpriced' if spent is None else f'${spent:,.4f}'} "
                "spent proving it")
        summary["disputed_pairs"] = _disputed(evidence.records)
        if segment_by:
            summary["segments"] = segment_report(segments, params, alpha)
        if calib is not None:
            summary["calibration"] = calib
            summary["shadow_spend_usd"] = round(summary["shadow_spend_usd"] + calib["spend_usd"], 6)
        summary["comparisons"] = [{k: v for k, v in r.items() if k not in {"judge_explanations"}}
                                  for r in evidence.records]
        results.append(summary)
    return {
        "candidate": candidate, "group_by": group_by, "requests": len(requests),
        "meaning": meaning(params, alpha),
        "params": {**params.to_dict(), "alpha": alpha, "nominal_alpha": nominal_alpha, "seed": seed,
                   "portfolio": "bonferroni" if alpha != nominal_alpha else "per-group"},
        "routes": results,
        "totals": {
            "switch": sum(r["decision"] == "switch" for r in results),
            "keep": sum(r["decision"] == "keep" for r in results),
            "undecided": sum(r["decision"] == "undecided" for r in results),
            "uninformative": sum(r["decision"] == "uninformative" for r in results),
            "unresolved": sum(r["unresolved"] for r in results),
            "judge_failure_cost_usd": round(sum(r["judge_failure_cost_usd"] or 0.0 for r in results), 6),
            "shadow_spend_usd": round(sum(r["shadow_spend_usd"] for r in results), 6),
            "projected_monthly_saving_usd_switched": round(sum(
                r["projected_monthly_saving_usd"] or 0.0 for r in results if r["decision"] == "switch"), 4),
        },
    }


def segment_report(segments: dict[str, list[str]], params: Params, alpha: float) -> list[dict]:
    """Per-segment tallies, so a minority failing inside a good average is shown."""
    out = []
    for name, outcomes in sorted(segments.items()):
        tally = Tally()
        for outcome in outcomes:
            tally.add(outcome)
        bad = tally.losses + tally.unresolved
        low, _high = mixture_cs(bad, tally.n, alpha)
        out.append({"segment": name, "n": tally.n, **tally.summary(1 - alpha),
                    "loss_rate_lower_bound": round(low, 4),
                    "breaks_promise": low >= params.max_loss})
    return out


def _check_all_failed(evidence: RouteEvidence, items, concurrency: int, candidate: str, baseline: str,
                      judge: str) -> None:
    records = evidence.records
    if not records or len(records) < min(len(items), 2 * max(1, concurrency)):
        return
    for kind, who in (("candidate_failed", f"the candidate {candidate!r}"),
                      ("baseline_failed", f"the baseline {baseline!r}"), ("judge_error", f"the judge {judge!r}")):
        if all(r.get("error_kind") == kind for r in records):
            raise ReplayError(f"{who} failed on every request so far: {records[0].get('reason')}")


def _disputed(records: list[dict], limit: int = 12) -> list[dict]:
    """Losses, then unresolved pairs: what a reviewer should read side by side (with the judge's words)."""
    chosen = [r for r in records if r["outcome"] == "loss"] + [r for r in records if r["outcome"] == "unresolved"]
    keys = ("request_ref", "line", "outcome", "decided_by", "error_kind", "reason", "question", "baseline_output",
            "candidate_output", "verdict_baseline_first", "verdict_candidate_first", "format_failures",
            "judge_explanations", "length_ratio")
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


def live_monthly_volumes(group_by: str) -> dict[tuple[str, str], float] | None:
    """(feature or fingerprint, baseline model) -> calls per month of the live request groups, read
    through the service (``service_url``); None when no service answers (the file's volume is used)."""
    from tokenproof.client import ServiceClient, ServiceError

    try:
        groups = ServiceClient(None, None, timeout=5.0).candidates(days=30, limit=500)
    except (ServiceError, OSError, ValueError):
        return None
    volumes: dict[tuple[str, str], float] = {}
    for g in groups:
        key = (g.feature if group_by == "feature" else g.fingerprint, g.baseline_model)
        volumes[key] = volumes.get(key, 0.0) + g.calls_per_day * 30
    return volumes


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
    live = None if args.monthly_calls is not None else live_monthly_volumes(args.group_by)
    try:
        report = prove(requests, args.candidate, params=params, judge=args.judge, baseline=args.baseline,
                       group_by=args.group_by, replayer=replayer, concurrency=args.concurrency,
                       monthly_calls=args.monthly_calls, calibration=args.calibrate,
                       portfolio=not args.no_portfolio, seed=args.seed, recent=args.recent,
                       tolerate_fence=args.tolerate_json_fence, segment_by=args.segment_by, live_volumes=live)
    except (JudgeFamilyError, ReplayError) as exc:
        print(f"tokenproof prove: {exc}", file=sys.stderr)
        return 2
    json_path, html_path = write_report(report, out)
    for route in report["routes"]:
        saving = route["projected_monthly_saving_usd"]
        reasons = ", ".join(f"{k} {v}" for k, v in route["unresolved_reasons"].items())
        print(f"{route['group']}: {route['decision'].upper()} after {route['n']} comparisons "
              f"(wins {route['wins']}, ties {route['ties']}, losses {route['losses']}, unresolved "
              f"{route['unresolved']}{f' ({reasons})' if reasons else ''}; loss-or-unresolved rate "
              f"{route['loss_or_unresolved_rate']}, below {route['loss_rate_upper_bound']} at "
              f"{round(100 * route['lower_bound_confidence'], 1):g}% (confidence sequence); tie-adjusted win rate "
              f"{route['tie_adjusted_win_rate']}); projected saving "
              f"{'unpriced' if saving is None else f'${saving:,.2f}'} per month at the "
              f"{route['volume_source']}" + (f" ({route['saving_vs_proving']})" if route.get("saving_vs_proving") else ""))
    print(report["meaning"])
    print(f"report: {html_path} and {json_path}")
    return 0
