"""CLI commands of the proof engine: candidates, shadow, prove, verdict, recommendations.

``verdict`` and ``prove`` work on files and need no service. ``candidates``, ``shadow`` and
``recommendations`` go through the service API (the embedded store has one owning process).
"""

from __future__ import annotations

import argparse
import json
import sys

from tokenproof.client import add_service_options

__all__ = ["configure", "run"]


def _params_options(parser: argparse.ArgumentParser) -> None:
    from tokenproof.analytics.proof.sequential import Params
    d = Params()
    parser.add_argument("--max-loss", type=float, default=d.max_loss,
                        help=f"loss (or unresolved) rate the candidate must stay below, default {d.max_loss}")
    parser.add_argument("--margin", type=float, default=d.margin,
                        help=f"tie-adjusted win rate must exceed 1/2 - margin, default {d.margin}")
    parser.add_argument("--max-unresolved", type=float, default=d.max_unresolved,
                        help=f"above this share of unresolved pairs the route is uninformative ({d.max_unresolved})")
    parser.add_argument("--q0", type=float, default=d.q0, help="non-loss rate to beat (sprt / eprocess methods)")
    parser.add_argument("--q1", type=float, default=d.q1, help="non-loss rate to detect (sprt method)")
    parser.add_argument("--alpha", type=float, default=d.alpha, help=f"false-switch rate bound, default {d.alpha}")
    parser.add_argument("--beta", type=float, default=d.beta, help=f"wrong-keep rate bound, default {d.beta}")
    parser.add_argument("--min-n", type=int, default=d.n_min, help=f"no decision before this many comparisons ({d.n_min})")
    parser.add_argument("--max-n", type=int, default=d.n_max, help=f"undecided at this many comparisons ({d.n_max})")


def _params(args: argparse.Namespace):
    from tokenproof.analytics.proof.sequential import Params
    return Params(q0=args.q0, q1=args.q1, alpha=args.alpha, beta=args.beta, n_min=args.min_n, n_max=args.max_n,
                  max_loss=args.max_loss, margin=args.margin, max_unresolved=args.max_unresolved)


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "verdict":
        parser.add_argument("file", help="JSONL of comparisons: {\"route\", \"outcome\"} per line ('-' = stdin)")
        _params_options(parser)
        parser.add_argument("--method", choices=["promise", "sprt", "eprocess"], default="promise",
                            help="the loss-rate and preference intersection test (default), or the "
                                 "non-loss Wald SPRT / beta-binomial e-process")
    elif name == "prove":
        parser.add_argument("file", help="requests in the OpenAI Batch API input format (JSONL)")
        parser.add_argument("--candidate", required=True, help="candidate model to prove")
        parser.add_argument("--responses", default=None,
                            help="Batch API output JSONL with the recorded baseline responses (joined by custom_id)")
        parser.add_argument("--baseline", default=None, help="baseline model (default: each request's body.model)")
        parser.add_argument("--judge", default=None, help="judge model (default: the baseline's model; never the candidate's family)")
        parser.add_argument("--base-url", default=None, help="OpenAI-compatible base URL for replays and the judge")
        parser.add_argument("--anthropic-base-url", default=None, help="Anthropic base URL (claude-* models)")
        parser.add_argument("--group-by", choices=["feature", "fingerprint"], default="feature")
        parser.add_argument("--out", default="proof-report", help="output directory (report.json, report.html)")
        parser.add_argument("--limit", type=int, default=None, help="read at most this many requests")
        parser.add_argument("--concurrency", type=int, default=4, help="parallel requests (default 4)")
        parser.add_argument("--portfolio", action="store_true", help="(default) alpha / groups for each group")
        parser.add_argument("--no-portfolio", action="store_true",
                            help="test each group at the full alpha (no control of the false-switch rate across groups)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the random sample (logged in the report)")
        parser.add_argument("--recent", type=int, default=None, metavar="N",
                            help="sample only from the last N distinct requests of each group (file order = time)")
        parser.add_argument("--segment-by", choices=["tier", "customer", "language"], default=None,
                            help="also report each segment's losses (a line's tier / customer / language field)")
        parser.add_argument("--tolerate-json-fence", action="store_true",
                            help="the app strips a Markdown fence around JSON answers (else a fenced answer fails)")
        parser.add_argument("--calibrate", type=int, default=0, metavar="N",
                            help="judge the baseline against itself on N requests per group (the judge's noise floor)")
        parser.add_argument("--monthly-calls", type=float, default=None,
                            help="calls per month per group for the savings projection (default: as in the file)")
        _params_options(parser)
    elif name == "candidates":
        parser.add_argument("--days", type=int, default=30, help="look-back window in days")
        parser.add_argument("--limit", type=int, default=20, help="at most this many request groups")
        parser.add_argument("--json", action="store_true", help="print JSON")
    elif name == "shadow":
        parser.add_argument("--service", default=None, help="service name of the request group")
        parser.add_argument("--feature", default=None, help="feature of the request group")
        parser.add_argument("--fingerprint", default=None, help="prompt fingerprint of the request group")
        parser.add_argument("--baseline", required=True, help="baseline model of the request group")
        parser.add_argument("--candidate", required=True, help="candidate model")
        parser.add_argument("--judge", default=None, help="judge model (default: the baseline)")
        parser.add_argument("--budget-usd", type=float, default=None, help="spend cap for this route")
        parser.add_argument("--limit", type=int, default=50, help="at most this many prompts")
        parser.add_argument("--file", default=None,
                            help="Batch API input JSONL to use instead of the group's captured prompts")
        parser.add_argument("--endpoint", default=None,
                            help="name of a provider endpoint configured in the service's settings")
        parser.add_argument("--wait", action="store_true", help="wait for the background run to finish")
    elif name == "shadow-status":
        parser.add_argument("job", nargs="?", default=None, help="job id (default: list all jobs)")
        parser.add_argument("--cancel", action="store_true", help="cancel the job")
    elif name == "recommendations":
        parser.add_argument("--json", action="store_true", help="print JSON")
    else:  # pragma: no cover - the dispatcher only routes the names above
        raise ValueError(name)
    if name in {"candidates", "shadow", "shadow-status", "recommendations"}:
        add_service_options(parser)


def run(name: str, args: argparse.Namespace) -> int:
    if name == "verdict":
        return _run_verdict(args)
    if name == "prove":
        from tokenproof.analytics.proof.prove import run_cli
        return run_cli(args, _params(args))
    from tokenproof.analytics.proof.client import run_service_command
    return run_service_command(name, args)


def _run_verdict(args: argparse.Namespace) -> int:
    from tokenproof.analytics.proof.verdict import VerdictError, verdict
    try:
        params = _params(args)
    except ValueError as exc:
        print(f"tokenproof verdict: {exc}", file=sys.stderr)
        return 2
    try:
        if args.file == "-":
            results = verdict(sys.stdin, params, args.method)
        else:
            with open(args.file, encoding="utf-8") as fh:
                results = verdict(fh, params, args.method)
    except VerdictError as exc:
        print(f"tokenproof verdict: {args.file}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"tokenproof verdict: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except UnicodeDecodeError as exc:
        print(f"tokenproof verdict: {args.file}: not UTF-8 text ({exc.reason})", file=sys.stderr)
        return 2
    for result in results:
        sys.stdout.write(json.dumps(result) + "\n")
    if results:
        print(results[0]["meaning"], file=sys.stderr)
    return 0
