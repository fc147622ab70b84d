"""``tokenproof cost | alerts | budgets | export``: attribution, alerts, budgets and FOCUS export.

Every command goes through the service API (``tokenproof.service_client.call``): the embedded store
has one owning process, the service. Output is a readable table; ``--json`` prints the API answer for
scripts.

    tokenproof cost --by feature,model --since 7d [--until ...] [--granularity day] [--json]
    tokenproof cost --movers [--by feature] | --coverage | --trace TRACE_ID
    tokenproof alerts [list|ack ID|resolve ID|evaluate] [--status open]
    tokenproof budgets [list|set --feature X --monthly-usd 500]
    tokenproof export focus --since 30d --format csv|parquet --output FILE
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tokenproof.service_client import ServiceError, call

__all__ = ["configure", "run"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the API answer as JSON")
    parser.add_argument("--service-url", default=None, help="service base URL (default: setting service_url)")
    parser.add_argument("--token", default=None, help="API token for writes (default: setting api_token)")


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "cost":
        parser.add_argument("--by", default="", help="dimensions: service, feature, tier, customer, provider, "
                            "model, request_model, response_model, fingerprint, attr.<span attribute key>")
        parser.add_argument("--since", default="7d", help="start: 7d, 24h, 2w or an ISO date/time")
        parser.add_argument("--until", default=None, help="end (default now)")
        parser.add_argument("--granularity", default="total", help="hour, day, week, month or total")
        parser.add_argument("--where", action="append", default=[], help="filter dimension=value (repeatable)")
        parser.add_argument("--limit", type=int, default=100)
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--movers", action="store_true", help="top movers versus the previous period")
        mode.add_argument("--coverage", action="store_true", help="unpriced-coverage report")
        mode.add_argument("--trace", default=None, help="cost roll-up of one trace (agent run)")
    elif name == "alerts":
        parser.add_argument("action", nargs="?", default="list", choices=["list", "ack", "resolve", "evaluate"])
        parser.add_argument("alert_id", nargs="?", default=None)
        parser.add_argument("--status", default="", help="open, acknowledged or resolved (list)")
        parser.add_argument("--limit", type=int, default=100)
    elif name == "budgets":
        parser.add_argument("action", nargs="?", default="list", choices=["list", "set"])
        scope = parser.add_mutually_exclusive_group()
        for dim in ("feature", "tier", "customer"):
            scope.add_argument(f"--{dim}", default=None, help=f"budget for this {dim}")
        parser.add_argument("--monthly-usd", type=float, default=None, help="monthly budget (0 removes it)")
    elif name == "export":
        parser.add_argument("kind", choices=["focus"])
        parser.add_argument("--since", default="30d")
        parser.add_argument("--until", default=None)
        parser.add_argument("--format", default="csv", choices=["csv", "parquet"])
        parser.add_argument("--output", required=True, help="file to write")
    _common(parser)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.6f}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value) if value != "" else "(none)"


def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "(no rows)"
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)) for row in cells]
    return "\n".join(lines)


def _print_cost(result: dict) -> None:
    dims = (["bucket"] if result["granularity"] != "total" else []) + result["group_by"]
    cols = [*dims, "calls", "cost_usd", "cost_per_call", "cost_per_1k_calls", "input_tokens", "output_tokens", "unpriced_calls"]
    print(f"product cost {result['since']} .. {result['until']} (from {result['source']})")
    print(_table(result["rows"], cols))
    t = result["totals"]
    print(f"total: ${t['cost_usd']:,.4f} over {t['calls']:,} calls ({t['unpriced_calls']:,} unpriced, not in $)")
    exp = result["experiment"]["totals"]
    if exp["calls"]:
        print(f"\nexperiment cost (shadow/judge, not in product totals): ${exp['cost_usd']:,.4f} "
              f"over {exp['calls']:,} calls")
        print(_table(result["experiment"]["rows"], ["traffic_class"] + result["group_by"] + ["calls", "cost_usd"]))


def _cost(args, kw) -> Any:
    params = {"since": args.since, "until": args.until}
    if args.trace:
        result = call("GET", f"/api/v1/cost/traces/{args.trace}", **kw)
        if not args.json:
            t = result["totals"]
            print(f"trace {result['trace_id']}: {result['inference_spans']} inference spans summed, "
                  f"{result['other_spans_not_summed']} agent/tool spans not summed")
            print(_table(result["by_model"], ["model", "calls", "cost_usd"]))
            print(f"total: ${t['cost_usd']:,.4f}, {t['input_tokens']:,} in / {t['output_tokens']:,} out tokens"
                  + (f"; experiment ${result['experiment']['cost_usd']:,.4f}" if result["experiment"]["calls"] else ""))
        return result
    if args.coverage:
        result = call("GET", "/api/v1/cost/coverage", params=params, **kw)
        if not args.json:
            print(f"unpriced: {result['unpriced_calls']:,} of {result['calls']:,} calls "
                  f"({100 * result['unpriced_call_share']:.1f}%), {result['unpriced_tokens']:,} of "
                  f"{result['tokens']:,} tokens ({100 * result['unpriced_token_share']:.1f}%)")
            print(_table(result["top_unpriced_models"], ["provider", "response_model", "calls", "tokens", "last_seen"]))
        return result
    params.update({"by": args.by or ("feature" if args.movers else ""), "limit": args.limit})
    if args.where:
        params["where"] = args.where
    if args.movers:
        result = call("GET", "/api/v1/cost/movers", params=params, **kw)
        if not args.json:
            print(f"top movers {result['since']} .. {result['until']} vs {result['previous_since']} ..")
            print(_table(result["rows"], result["group_by"] + ["cost_usd", "previous_cost_usd", "delta_usd",
                                                                 "change_pct"]))
        return result
    params["granularity"] = args.granularity
    result = call("GET", "/api/v1/cost", params=params, **kw)
    if not args.json:
        _print_cost(result)
    return result


def _alerts(args, kw) -> Any:
    if args.action in {"ack", "resolve"}:
        if not args.alert_id:
            raise ServiceError(f"tokenproof alerts {args.action} needs an alert id")
        result = call("POST", f"/api/v1/alerts/{args.alert_id}/{args.action}", **kw)
        if not args.json:
            print(f"alert {result['id']} is now {result['status']}")
        return result
    if args.action == "evaluate":
        result = call("POST", "/api/v1/alerts/evaluate", **kw)
        if not args.json:
            print(f"evaluated at {result['evaluated_at']}: {result['findings']} findings, "
                  f"{len(result['opened'])} opened, {result['updated']} updated, {len(result['resolved'])} resolved")
            for alert in result["opened"]:
                print(f"  [{alert['severity']}] {alert['id']} {alert['explanation']}")
        return result
    result = call("GET", "/api/v1/alerts", params={"status": args.status, "limit": args.limit}, **kw)
    if not args.json:
        print(_table(result["alerts"], ["id", "status", "severity", "kind", "opened_at", "explanation"]))
    return result


def _budgets(args, kw) -> Any:
    if args.action == "set":
        scope = next((d for d in ("feature", "tier", "customer") if getattr(args, d)), None)
        if scope is None or args.monthly_usd is None:
            raise ServiceError("tokenproof budgets set needs --feature/--tier/--customer and --monthly-usd")
        result = call("PUT", "/api/v1/budgets", body={"scope": scope, "value": getattr(args, scope),
                                                      "monthly_usd": args.monthly_usd}, **kw)
        if not args.json:
            print(f"budget for {scope}={result['value']}: " + ("removed" if result["deleted"]
                                                                 else f"${result['monthly_usd']:,.2f}/month"))
        return result
    result = call("GET", "/api/v1/budgets", **kw)
    if not args.json:
        print(_table(result["budgets"], ["scope", "value", "monthly_usd", "month_to_date_usd", "projected_usd",
                                         "used_pct", "runs_out_at"]))
    return result


def _export(args, kw) -> Any:
    data = call("GET", "/api/v1/export/focus", params={"since": args.since, "until": args.until,
                                                        "format": args.format}, **kw)
    with open(args.output, "wb") as handle:
        handle.write(data if isinstance(data, bytes) else json.dumps(data).encode())
    meta = call("GET", "/api/v1/export/focus/metadata", params={"since": args.since, "until": args.until}, **kw)
    meta_path = f"{args.output}.metadata.json"
    with open(meta_path, "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=2)
    unpriced = meta["x_UnpricedUsage"]["calls"]
    result = {"output": args.output, "format": args.format, "bytes": len(data), "metadata": meta_path,
              "focus_version": meta["Schema"]["FocusVersion"], "unpriced_calls": unpriced}
    if not args.json:
        print(f"wrote FOCUS {meta['Schema']['FocusVersion']} {args.format} ({len(data):,} bytes) to {args.output}, "
              f"metadata to {meta_path}")
        if unpriced:
            print(f"{unpriced:,} unpriced calls left out (no price known; listed in the metadata, never $0)")
    return result


def run(name: str, args: argparse.Namespace) -> int:
    kw = {"base_url": args.service_url, "token": args.token}
    handler = {"cost": _cost, "alerts": _alerts, "budgets": _budgets, "export": _export}[name]
    try:
        result = handler(args, kw)
    except ServiceError as exc:
        print(f"tokenproof {name}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    return 0
