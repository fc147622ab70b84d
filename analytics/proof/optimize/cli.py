"""`tokenproof optimize`: optimise a route's candidate system prompt, with a held-out figure.

Two ways to run (docs/optimize.md):
- on a file, here: ``tokenproof optimize FILE --candidate M --base-url URL`` reads Batch API lines
  like ``tokenproof prove`` (a line's ``response`` is the recorded baseline answer, ``reference`` a
  reference answer), runs the whole optimisation in this process and writes
  ``optimize-report.json`` and ``optimize-report.txt`` into ``--out``;
- through the service: without FILE (the group's captured prompts) or with ``--via-service``, it
  starts ``POST /api/v1/optimize-runs`` (the service's configured endpoints, by name) and, with
  ``--wait``, prints the report when the job ends; ``--job ID`` shows a job, ``--cancel`` stops it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tokenproof.client import OptimizeJob, ServiceClient, ServiceError, add_service_options

__all__ = ["configure", "run"]


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", default=None, help="Batch API input JSONL (default: the group's captured prompts)")
    parser.add_argument("--candidate", default=None, help="candidate model (required to start a run)")
    parser.add_argument("--baseline", default=None, help="baseline model (default: the file's body.model)")
    parser.add_argument("--judge", default=None,
                        help="judge model, or 'reference-check' (default: the check where answers are checkable, "
                             "else the baseline's model)")
    parser.add_argument("--optimizer-model", default=None, help="model that proposes prompts (setting optimize_model)")
    parser.add_argument("--system-prompt-file", default=None, help="the route's current candidate system prompt")
    parser.add_argument("--feature", default="", help="feature of the request group")
    parser.add_argument("--group-service", default="", help="service name of the request group")
    parser.add_argument("--fingerprint", default="", help="prompt fingerprint of the request group")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", type=int, default=3, help="proposals per round")
    parser.add_argument("--fewshot-tokens", type=int, default=None, help="token budget of few-shot demonstrations")
    parser.add_argument("--sizes", default="30,20,60", help="caps of the optimise, select and held-out sets")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split (logged in the report)")
    parser.add_argument("--budget-tokens", type=int, default=None, help="token budget of the search")
    parser.add_argument("--budget-usd", type=float, default=None, help="USD budget of the search (priced calls)")
    parser.add_argument("--monthly-calls", type=float, default=None, help="calls per month for the savings line")
    parser.add_argument("--tolerate-json-fence", action="store_true")
    parser.add_argument("--out", default="optimize-report", help="report folder (file mode)")
    parser.add_argument("--base-url", default=None, help="file mode: OpenAI-compatible URL of candidate and judge")
    parser.add_argument("--optimizer-base-url", default=None, help="file mode: URL of the optimiser model")
    parser.add_argument("--via-service", action="store_true", help="send the file to the service instead")
    parser.add_argument("--endpoint", default=None, help="service mode: configured endpoint name")
    parser.add_argument("--optimizer-endpoint", default=None, help="service mode: endpoint of the optimiser")
    parser.add_argument("--shadow", action="store_true", help="service mode: then prove the new version (shadow run)")
    parser.add_argument("--wait", action="store_true", help="service mode: wait for the job and print its report")
    parser.add_argument("--job", default=None, help="service mode: show this job (with --cancel: stop it)")
    parser.add_argument("--cancel", action="store_true")
    add_service_options(parser)


def _sizes(text: str) -> tuple[int, int, int]:
    parts = [int(p) for p in text.split(",")]
    if len(parts) != 3 or min(parts) < 1:
        raise ValueError("--sizes takes three positive numbers: optimise,select,held-out")
    return parts[0], parts[1], parts[2]


def _lines(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _system_prompt(args) -> str | None:
    return Path(args.system_prompt_file).read_text(encoding="utf-8").strip() if args.system_prompt_file else None


def _offline(args) -> int:
    from tokenproof.analytics.proof.optimize.report import summary_text, write_report
    from tokenproof.analytics.proof.optimize.search import OptimizeSpec, run_optimize
    from tokenproof.analytics.proof.replay import Replayer
    lines = _lines(args.file)
    baseline = args.baseline or next((ln.get("body", {}).get("model") for ln in lines if isinstance(ln, dict)), None)
    if not baseline:
        raise ValueError("no baseline model: pass --baseline or set body.model in the file")
    spec = OptimizeSpec(baseline=baseline, candidate=args.candidate, service=args.group_service, feature=args.feature,
                        fingerprint=args.fingerprint, judge=args.judge, optimizer_model=args.optimizer_model,
                        candidate_system_prompt=_system_prompt(args), rounds=args.rounds,
                        variants_per_round=args.variants, fewshot_tokens=args.fewshot_tokens, caps=_sizes(args.sizes),
                        seed=args.seed, budget_tokens=args.budget_tokens, budget_usd=args.budget_usd, uploaded=lines,
                        tolerate_fence=args.tolerate_json_fence, monthly_calls=args.monthly_calls)
    replayer = Replayer(base_url=args.base_url)
    optimizer = Replayer(base_url=args.optimizer_base_url) if args.optimizer_base_url else None
    report = run_optimize(None, spec, replayer, optimizer)
    json_path, text_path = write_report(report, Path(args.out))
    print(summary_text(report))
    print(f"report: {text_path} and {json_path}")
    return 0


def _print_job(job: OptimizeJob) -> int:
    if job.state == "failed":
        print(f"optimisation run {job.job_id} failed: {job.error}", file=sys.stderr)
        return 1
    result = job.result
    if not result:
        print(f"optimisation run {job.job_id}: {job.state}; phase {job.progress.get('phase', 'starting')}, "
              f"{job.progress.get('tokens', 0)} tokens spent")
        return 0
    print(result.get("text", ""))
    shadow = result.get("shadow")
    if shadow:
        print(f"shadow proof of {shadow['route_id']} (version {shadow['version']}): {shadow['decision']} after "
              f"{shadow['n']} comparisons; stopped: {shadow['stop_reason']}")
    return 0


def _service(args, client: ServiceClient) -> int:
    if args.job:
        if args.cancel:
            return _print_job(client.cancel_optimize_run(args.job))
        return _print_job(client.optimize_run(args.job))
    if not args.candidate or not args.baseline:
        raise ValueError("--candidate and --baseline are required to start an optimisation run")
    optimise, select, held_out = _sizes(args.sizes)
    body = {"service": args.group_service, "feature": args.feature, "fingerprint": args.fingerprint,
            "judge": args.judge, "optimizer_model": args.optimizer_model,
            "candidate_system_prompt": _system_prompt(args), "endpoint": args.endpoint,
            "optimizer_endpoint": args.optimizer_endpoint, "rounds": args.rounds, "variants_per_round": args.variants,
            "fewshot_tokens": args.fewshot_tokens, "optimise_size": optimise, "select_size": select,
            "held_out_size": held_out, "seed": args.seed, "budget_tokens": args.budget_tokens,
            "budget_usd": args.budget_usd, "monthly_calls": args.monthly_calls,
            "tolerate_json_fence": args.tolerate_json_fence, "shadow": args.shadow}
    if args.file:
        body["requests"] = _lines(args.file)
    job = client.start_optimize_run(args.baseline, args.candidate, **body)
    if not args.wait:
        print(f"optimisation run {job.job_id} started; follow it with `tokenproof optimize --job {job.job_id}`")
        return 0
    while job.running:
        job = client.optimize_run(job.job_id, wait_s=20)
    return _print_job(job)


def run(name: str, args: argparse.Namespace) -> int:
    try:
        if args.file and not args.via_service and not args.job:
            if not args.candidate:
                raise ValueError("--candidate is required")
            return _offline(args)
        return _service(args, ServiceClient(args.service_url, args.token))
    except (OSError, ValueError) as exc:
        print(f"tokenproof optimize: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"tokenproof optimize: {exc}", file=sys.stderr)
        return 1
