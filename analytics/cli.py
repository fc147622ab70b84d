"""``tokenproof cost | alerts | budgets | export``: attribution, alerts, budgets and FOCUS export.

Every command goes through the service API (``tokenproof.client.ServiceClient``): the embedded store
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

from tokenproof.client import ServiceClient, ServiceError, add_service_options

__all__ = ["configure", "run"]


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the API answer as JSON")
    add_service_options(parser)


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


def _rows(items) -> list[dict]:
    return [item.as_dict() for item in items]


def _print_cost(result) -> None:
    dims = (["bucket"] if result.granularity != "total" else []) + result.group_by
    cols = [*dims, "calls", "cost_usd", "cost_per_call", "cost_per_1k_calls", "input_tokens", "output_tokens", "unpriced_calls"]
    print(f"product cost {result.since} .. {result.until} (from {result.source})")
    print(_table(_rows(result.rows), cols))
    t = result.totals
    print(f"total: ${t.cost_usd:,.4f} over {t.calls:,} calls ({t.unpriced_calls:,} unpriced, not in $)")
    exp = result.experiment.totals
    if exp.calls:
        print(f"\nexperiment cost (shadow/judge, not in product totals): ${exp.cost_usd:,.4f} "
              f"over {exp.calls:,} calls")
        print(_table(_rows(result.experiment.rows), ["traffic_class", *result.group_by, "calls", "cost_usd"]))


def _cost(args, client: ServiceClient) -> Any:
    if args.trace:
        trace = client.trace(args.trace)
        if not args.json:
            t = trace.totals
            print(f"trace {trace.trace_id}: {trace.inference_spans} inference spans summed, "
                  f"{trace.other_spans_not_summed} agent/tool spans not summed")
            print(_table(_rows(trace.by_model), ["model", "calls", "cost_usd"]))
            print(f"total: ${t.cost_usd:,.4f}, {t.input_tokens:,} in / {t.output_tokens:,} out tokens"
                  + (f"; experiment ${trace.experiment.cost_usd:,.4f}" if trace.experiment.calls else ""))
        return trace.as_dict()
    if args.coverage:
        cov = client.coverage(args.since, args.until)
        if not args.json:
            print(f"unpriced: {cov.unpriced_calls:,} of {cov.calls:,} calls "
                  f"({100 * cov.unpriced_call_share:.1f}%), {cov.unpriced_tokens:,} of "
                  f"{cov.tokens:,} tokens ({100 * cov.unpriced_token_share:.1f}%)")
            print(_table(_rows(cov.top_unpriced_models), ["provider", "response_model", "calls", "tokens", "last_seen"]))
        return cov.as_dict()
    by = args.by or ("feature" if args.movers else "")
    if args.movers:
        movers = client.movers(args.since, args.until, by=by, where=args.where, limit=args.limit)
        if not args.json:
            print(f"top movers {movers.since} .. {movers.until} vs {movers.previous_since} ..")
            print(_table(_rows(movers.rows), [*movers.group_by, "cost_usd", "previous_cost_usd", "delta_usd",
                                              "change_pct"]))
        return movers.as_dict()
    result = client.cost(args.since, args.until, by=by, granularity=args.granularity, where=args.where,
                         limit=args.limit)
    if not args.json:
        _print_cost(result)
    return result.as_dict()


def _alerts(args, client: ServiceClient) -> Any:
    if args.action in {"ack", "resolve"}:
        if not args.alert_id:
            raise ServiceError(f"tokenproof alerts {args.action} needs an alert id")
        change = client.acknowledge_alert if args.action == "ack" else client.resolve_alert
        alert = change(args.alert_id)
        if not args.json:
            print(f"alert {alert.id} is now {alert.status}")
        return alert.as_dict()
    if args.action == "evaluate":
        result = client.evaluate_alerts()
        if not args.json:
            print(f"evaluated at {result.evaluated_at}: {result.findings} findings, "
                  f"{len(result.opened)} opened, {result.updated} updated, {len(result.resolved)} resolved")
            for opened in result.opened:
                print(f"  [{opened.severity}] {opened.id} {opened.explanation}")
        return result.as_dict()
    alerts = client.alerts(args.status, args.limit)
    if not args.json:
        print(_table(_rows(alerts), ["id", "status", "severity", "kind", "opened_at", "explanation"]))
    return {"alerts": _rows(alerts)}


def _budgets(args, client: ServiceClient) -> Any:
    if args.action == "set":
        scope = next((d for d in ("feature", "tier", "customer") if getattr(args, d)), None)
        if scope is None or args.monthly_usd is None:
            raise ServiceError("tokenproof budgets set needs --feature/--tier/--customer and --monthly-usd")
        change = client.set_budget(scope, getattr(args, scope), args.monthly_usd)
        if not args.json:
            print(f"budget for {scope}={change.value}: " + ("removed" if change.deleted
                                                             else f"${change.monthly_usd:,.2f}/month"))
        return change.as_dict()
    budgets = client.budgets()
    if not args.json:
        print(_table(_rows(budgets), ["scope", "value", "monthly_usd", "month_to_date_usd", "projected_usd",
                                      "used_pct", "runs_out_at"]))
    return {"budgets": _rows(budgets)}


def _export(args, client: ServiceClient) -> Any:
    data = client.export_focus(args.since, args.until, args.format)
    with open(args.output, "wb") as handle:
        handle.write(data)
    meta = client.export_focus_metadata(args.since, args.until)
    meta_path = f"{args.output}.metadata.json"
    with open(meta_path, "w", encoding="utf-8") as handle:
        json.dump(meta.model_dump(), handle, indent=2)
    unpriced = meta.unpriced_calls
    result = {"output": args.output, "format": args.format, "bytes": len(data), "metadata": meta_path,
              "focus_version": meta.focus_version, "unpriced_calls": unpriced}
    if not args.json:
        print(f"wrote FOCUS {meta.focus_version} {args.format} ({len(data):,} bytes) to {args.output}, "
              f"metadata to {meta_path}")
        if unpriced:
            print(f"{unpriced:,} unpriced calls left out (no price known; listed in the metadata, never $0)")
    return result


def run(name: str, args: argparse.Namespace) -> int:
    client = ServiceClient(args.service_url, args.token)
    handler = {"cost": _cost, "alerts": _alerts, "budgets": _budgets, "export": _export}[name]
    try:
        result = handler(args, client)
    except ServiceError as exc:
        print(f"tokenproof {name}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    return 0
