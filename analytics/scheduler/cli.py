"""`tokenproof scheduler status|pause|resume|policy|events|run` through the service API.

Like every command that reads or writes data, it never opens the store: it calls the service's
``/api/v1/scheduler`` with the typed client (writes carry the ``api_token``) and prints tables, or
the API's JSON with ``--json``.

``policy`` prints the effective policy and where each field comes from; ``policy --set KEY=VALUE``
(repeatable; VALUE is JSON, or a plain string, or a comma-separated list for list fields) changes it,
``--unset KEY`` returns a field to its setting.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tokenproof.client import ServiceClient, add_service_options
from tokenproof.service_client import ServiceError

__all__ = ["configure", "run"]

HELP = "the proof scheduler: status, pause, resume, policy, events, run a pass"
_LIST_FIELDS = {"services", "features", "candidate_models", "candidate_providers", "quiet_hours"}


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    add_service_options(parser)
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.add_argument("--actor", default=None, help="who makes the change (recorded in the event log)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = sub.add_parser("status", help="paused or running, budgets, alpha, groups, routes, back-offs")
    status.add_argument("--refresh", action="store_true", help="plan again now instead of showing the last pass")
    for action in ("pause", "resume"):
        sub.add_parser(action, help=f"{action} the scheduler (stored: survives a restart)").add_argument(
            "--reason", default="")
    policy = sub.add_parser("policy", help="show the policy, or change it with --set / --unset")
    policy.add_argument("--set", dest="set_fields", action="append", default=[], metavar="KEY=VALUE")
    policy.add_argument("--unset", action="append", default=[], metavar="KEY")
    policy.add_argument("--reason", default="")
    events = sub.add_parser("events", help="the scheduler's event log, newest first")
    events.add_argument("--kind", default="")
    events.add_argument("--route", default="")
    events.add_argument("--limit", type=int, default=30)
    sub.add_parser("run", help="run one pass now and wait for it")


def _value(key: str, raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        if key in _LIST_FIELDS:
            return [part.strip() for part in raw.split(",") if part.strip()]
        return raw


def _parse_sets(items: list[str]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        key = key.strip()
        if key.startswith("params."):
            changes.setdefault("params", {})[key.removeprefix("params.")] = _value(key, raw)
        else:
            changes[key] = _value(key, raw)
    return changes


def _money(value: float | None) -> str:
    return "unpriced" if value is None else f"${value:,.4f}"


def _print_status(status) -> None:
    state = "paused" if status.paused else "running"
    who = f" (last switched by {status.paused_by}" if status.paused_by else ""
    why = (f": {status.reason})" if status.reason else ")") if who else ""
    loop = status.loop
    every = f"every {loop.get('interval_seconds'):g} s" if loop.get("running") else "loop off (passes on demand)"
    print(f"scheduler: {state}{who}{why}; {every}; policy version {status.policy_version}")
    last = status.last_pass
    if last:
        skipped = f" skipped: {last['skipped']}" if last.get("skipped") else f" {len(last.get('batches', []))} batches"
        print(f"last pass: {last.get('at')} ({last.get('seconds')} s){skipped}")
    for period in ("day", "month"):
        b = status.budgets.get(period, {})
        reserved = f", {_money(b['reserved_usd'])} reserved by batches in flight" if b.get("reserved_usd") else ""
        print(f"budget {period:<5}: spent {_money(b.get('spent_usd'))} of {_money(b.get('cap_usd'))}{reserved}, "
              f"{_money(b.get('left_usd'))} left")
    a = status.alpha
    print(f"alpha: {a.get('groups_admitted')} groups admitted holding {a.get('allotted')} of the family-wise "
          f"{a.get('family_alpha')} (each group alpha/{a.get('portfolio_routes')})")
    if status.groups:
        print(f"\n{'service':<16} {'feature':<20} {'baseline':<14} {'state':<15} {'candidate':<16} reason")
        for g in status.groups:
            print(f"{g.service[:16]:<16} {(g.feature or '-')[:20]:<20} {g.baseline[:14]:<14} {g.state:<15} "
                  f"{(g.candidate or '-')[:16]:<16} {g.reason}")
    if status.routes:
        print(f"\n{'route':<20} {'feature':<18} {'candidate':<16} {'status':<16} {'n':>5} {'W/T/L/U':>13} {'spent':>10}")
        for r in status.routes:
            wtlu = f"{r.wins or 0}/{r.ties or 0}/{r.losses or 0}/{r.unresolved or 0}"
            print(f"{r.route_id:<20} {(r.feature or '-')[:18]:<18} {r.candidate[:16]:<16} {r.status:<16} {r.n:>5} "
                  f"{wtlu:>13} {_money(r.route_spent_usd):>10}")
    for provider, b in status.backoff.items():
        print(f"backing off {provider}: {b.get('failures'):g} failures, retry in {b.get('retry_in_s')} s")
    for batch in status.running_batches:
        print(f"running: {batch.get('feature')} -> {batch.get('candidate')} (up to {batch.get('quota')} comparisons)")


def run(name: str, args: argparse.Namespace) -> int:
    client = ServiceClient(args.service_url, args.token, actor=args.actor)
    try:
        if args.action == "status":
            status = client.scheduler_status(refresh=args.refresh)
            if args.json:
                print(json.dumps(status.model_dump(), indent=2, default=str))
            else:
                _print_status(status)
        elif args.action in ("pause", "resume"):
            answer = (client.pause_scheduler if args.action == "pause" else client.resume_scheduler)(args.reason)
            print(json.dumps(answer, indent=2) if args.json else f"scheduler {'paused' if answer['paused'] else 'running'}")
        elif args.action == "policy":
            if args.set_fields or args.unset:
                answer = client.set_scheduler_policy(_parse_sets(args.set_fields), args.unset, args.reason)
                print(f"policy version {answer['version']}")
            answer = client.scheduler_policy()
            if args.json:
                print(json.dumps(answer, indent=2))
            else:
                for key, value in answer["policy"].items():
                    source = "set through the API" if key in answer["overrides"] else "setting"
                    print(f"{key:<22} {json.dumps(value):<50} ({source})")
        elif args.action == "events":
            events = client.scheduler_events(kind=args.kind, route_id=args.route, limit=args.limit)
            if args.json:
                print(json.dumps([e.model_dump() for e in events], indent=2))
            for e in [] if args.json else events:
                money = f" ${e.SpendUSD:.4f}" if e.SpendUSD else ""
                print(f"{e.At[:19]} {e.Kind:<15} {(e.Feature or '-')[:18]:<18} {e.CandidateModel[:16]:<16} "
                      f"{e.Message[:90]}{money}")
        elif args.action == "run":
            answer = client.run_scheduler_pass()
            if args.json:
                print(json.dumps(answer, indent=2, default=str))
            elif answer.get("skipped"):
                print(f"pass skipped: {answer['skipped']}")
            else:
                for b in answer.get("batches", []):
                    print(f"{b.get('feature') or '-'} -> {b.get('candidate')}: {b.get('new_comparisons')} comparisons, "
                          f"${b.get('spent_usd', 0):.4f}, {b.get('status')} ({b.get('stop_reason')})")
                if not answer.get("batches"):
                    print("nothing to run (see `tokenproof scheduler status` for why each group waits)")
    except ValueError as exc:
        print(f"tokenproof scheduler: {exc}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"tokenproof scheduler: {exc}", file=sys.stderr)
        return 1
    return 0
