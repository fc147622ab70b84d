"""`tokenproof routes list|show|push|canary|pause|rollback|audit|export` through the service API.

Like every command that reads or writes data, it never opens the store: it calls the service's
routing API (``/api/v1/routing``) with ``tokenproof.service_client.call`` (writes carry the
``api_token``) and prints a table, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tokenproof.client import add_service_options
from tokenproof.service_client import ServiceError
from tokenproof.service_client import call as _service_call

__all__ = ["configure", "run"]

BASE = "/api/v1/routing"


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    # the common options come before the action: `tokenproof routes --service-url URL list`
    add_service_options(parser)
    parser.add_argument("--json", action="store_true", help="print the API's JSON")
    parser.add_argument("--actor", default=None, help="who makes the change (recorded in the audit log)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="every route with its state and traffic share")
    listing.add_argument("--service", default="")
    listing.add_argument("--state", default="")
    sub.add_parser("show", help="one route with its drift monitor").add_argument("route_id")
    push = sub.add_parser("push", help="push a route proven 'switch' (or with --override and --reason)")
    push.add_argument("--service", required=True)
    push.add_argument("--feature", default="")
    push.add_argument("--fingerprint", default="")
    push.add_argument("--baseline", required=True)
    push.add_argument("--candidate", required=True)
    push.add_argument("--provider", default="openai")
    push.add_argument("--proof", dest="proof_route_id", default="", help="proof route version id (r_...)")
    push.add_argument("--system-prompt-file", default=None, help="candidate system prompt (a text file)")
    push.add_argument("--state", default="canary", choices=("shadow", "canary", "active"))
    push.add_argument("--share", type=float, default=None, help="starting traffic share of a canary")
    push.add_argument("--schedule", default="", help="growth steps HOURS=SHARE,... e.g. 24=0.25,72=1")
    push.add_argument("--timeout", type=float, default=0.0, help="candidate attempt timeout in seconds")
    push.add_argument("--override", action="store_true", help="push although the proof did not decide 'switch'")
    push.add_argument("--reason", default="")
    canary = sub.add_parser("canary", help="set a route's traffic share (1.0 = active)")
    canary.add_argument("route_id")
    canary.add_argument("share", type=float)
    canary.add_argument("--reason", default="")
    for action in ("pause", "rollback"):
        p = sub.add_parser(action, help=f"{action} a route")
        p.add_argument("route_id")
        p.add_argument("--reason", default="")
    audit = sub.add_parser("audit", help="the append-only audit log (refusals included)")
    audit.add_argument("--route", default="")
    audit.add_argument("--limit", type=int, default=50)
    export = sub.add_parser("export", help="a LiteLLM router config of the routes that move traffic")
    export.add_argument("--format", default="litellm", choices=("litellm",))
    export.add_argument("--provider", default="openai")
    export.add_argument("--output", "-o", default="-", help="file to write (JSON, which YAML loaders read too)")


def _schedule(raw: str) -> list[dict[str, float]]:
    steps = []
    for part in filter(None, (p.strip() for p in raw.split(","))):
        hours, _, share = part.partition("=")
        steps.append({"after_hours": float(hours), "share": float(share)})
    return steps


def _line(route: dict[str, Any]) -> str:
    m = route["match"]
    share = f" {route['traffic_share']:.0%}" if route["state"] == "canary" else ""
    flags = " [override]" if route["proof"]["override"] else ""
    flags += f" [re-proof: {route['reproof']}]" if route["reproof"] else ""
    return (f"{route['id']} v{route['version']} {route['state']}{share}: {m['service']}/{m['feature'] or '*'}/"
            f"{m['fingerprint'] or '*'} {m['baseline']} -> {route['candidate']}{flags} "
            f"(by {route['changed_by']} at {route['changed_at']})")


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    """The service API at ``--service-url`` (else the setting), with ``--token`` when given."""
    return _service_call(method, path, base_url=args.service_url, token=args.token, **kwargs)


def _headers(args: argparse.Namespace) -> dict[str, str]:
    return {"X-Tokenproof-Actor": args.actor} if args.actor else {}


def _write(method: str, path: str, body: dict, args: argparse.Namespace) -> Any:
    return _call(args, method, path, body=body, headers=_headers(args))


def _run(args: argparse.Namespace) -> int:
    action = args.action
    if action == "list":
        data = _call(args, "GET", f"{BASE}/routes", params={"service": args.service, "state": args.state})
        if args.json:
            print(json.dumps(data, indent=2))
        else:
            print("\n".join(_line(r) for r in data["routes"]) or "no routes")
        return 0
    if action == "show":
        data = _call(args, "GET", f"{BASE}/routes/{args.route_id}")
        if not args.json:
            print(_line(data["route"]))
            if data["route"]["state_reason"]:
                print(f"    reason: {data['route']['state_reason']}")
            monitor = data.get("monitor")
            if monitor:
                loss, fb = monitor["loss_cusum"], monitor["fallback_cusum"]
                print(f"    judged {monitor['judged']}: loss CUSUM {loss['s']}/{loss['h']} ({loss['ones']} losses); "
                      f"fallback CUSUM {fb['s']}/{fb['h']} ({fb['ones']} of {fb['n']}); "
                      f"shadow spend ${monitor['shadow_spend_usd']:.4f}")
            return 0
    elif action == "push":
        body = {k: getattr(args, k) for k in ("service", "feature", "fingerprint", "baseline", "candidate",
                                             "provider", "proof_route_id", "state", "override", "reason")}
        body["timeout_s"] = args.timeout
        body["schedule"] = _schedule(args.schedule)
        if args.share is not None:
            body["traffic_share"] = args.share
        if args.system_prompt_file:
            with open(args.system_prompt_file, encoding="utf-8") as fh:
                body["candidate_system_prompt"] = fh.read()
        data = _write("POST", f"{BASE}/routes", body, args)
    elif action == "canary":
        data = _write("POST", f"{BASE}/routes/{args.route_id}/canary", {"share": args.share, "reason": args.reason}, args)
    elif action in ("pause", "rollback"):
        data = _write("POST", f"{BASE}/routes/{args.route_id}/{action}", {"reason": args.reason}, args)
    elif action == "audit":
        data = _call(args, "GET", f"{BASE}/audit", params={"route_id": args.route, "limit": args.limit})
        if not args.json:
            for a in data["audit"]:
                flag = " override" if a["override"] else ""
                print(f"{a['at']} {a['outcome']:8} {a['action']:9} {a['route_id'] or '-'} by {a['actor']}{flag}: "
                      f"{a['reason']}")
            return 0
    else:  # export
        data = _call(args, "GET", f"{BASE}/export/litellm", params={"provider": args.provider})
        text = json.dumps(data, indent=2)
        if args.output == "-":
            print(text)
        else:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
            print(f"wrote {args.output} ({len(data['model_list'])} deployments)")
        return 0
    print(json.dumps(data, indent=2) if args.json else _line(data))
    return 0


def run(name: str, args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except ServiceError as exc:
        print(f"tokenproof routes: {exc}", file=sys.stderr)
        return 1 if exc.status is None else 2
    except (OSError, ValueError) as exc:
        print(f"tokenproof routes: {exc}", file=sys.stderr)
        return 2
