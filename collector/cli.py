"""``tokenproof serve``, ``tokenproof status`` and ``tokenproof reprice``.

``serve`` owns the store (embedded chDB directory or a ClickHouse URL) and runs the service on
uvicorn; ``status`` and ``reprice`` talk to a running service through its API
(``tokenproof.client.ServiceClient``), because an embedded store has one owning process.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys

from tokenproof.client import ServiceClient, ServiceError, add_service_options
from tokenproof.collector import config

__all__ = ["configure", "run"]


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {port}")
    return port


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "serve":
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
        parser.add_argument("--port", type=_port, default=4318,
                            help="port (default 4318, the OTLP/HTTP port; 0 = pick a free one)")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--data-dir", help="embedded chDB store directory (default ./.tokenproof/data)")
        where.add_argument("--clickhouse-url", help="ClickHouse server http(s)://user:pass@host:8123/db")
        parser.add_argument("--ingest-token", help="bearer token required on /v1/* (required off loopback)")
        parser.add_argument("--read-token", help="bearer token required on every /api read (required off "
                                                 "loopback unless --allow-unauthenticated-reads)")
        parser.add_argument("--allow-unauthenticated-reads", action="store_true",
                            help="bind beyond loopback with every read endpoint open to the network (warned)")
        parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    else:
        add_service_options(parser)
        if name in ("status", "calls"):
            parser.add_argument("--json", action="store_true", help="print the raw JSON")
        if name == "calls":
            parser.add_argument("--limit", type=int, default=20, help="how many calls, newest first (1-1000)")
            parser.add_argument("--feature", default="", help="only calls of this feature")
        if name == "reprice":
            parser.add_argument("--since", required=True, help="start: ISO 8601 time, or 7d / 24h / 30m ago")
            parser.add_argument("--until", help="end (exclusive), default now")


def run(name: str, args: argparse.Namespace) -> int:
    if name == "serve":
        return _serve(args)
    try:
        if name == "status":
            return _status(args)
        if name == "calls":
            return _calls(args)
        return _reprice(args)
    except ServiceError as exc:
        print(f"tokenproof {name}: {exc}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from tokenproof.collector.app import create_app
    from tokenproof.collector.auth import is_loopback
    from tokenproof.collector.store import Store, StoreError

    ingest_token = config.get("ingest_token", args.ingest_token)
    read_token = config.get("read_token", args.read_token)
    if not is_loopback(args.host) and not ingest_token:
        print(f"tokenproof serve: refusing to listen on non-loopback address {args.host} without an ingest "
              "token: pass --ingest-token or set TOKENPROOF_INGEST_TOKEN", file=sys.stderr)
        return 2
    if not is_loopback(args.host) and not read_token:
        if not args.allow_unauthenticated_reads:
            print(f"tokenproof serve: refusing to listen on non-loopback address {args.host} with every read "
                  "endpoint open: pass --read-token (or set TOKENPROOF_READ_TOKEN), or "
                  "--allow-unauthenticated-reads to accept that (docs/security.md)", file=sys.stderr)
            return 2
        print(f"tokenproof serve: WARNING: every read endpoint (costs, customers, alerts) is open to anyone "
              f"who can reach {args.host}: --allow-unauthenticated-reads is set", file=sys.stderr, flush=True)
    allowed_hosts = list(config.get("allowed_hosts"))
    if args.host in ("0.0.0.0", "::", "") and not allowed_hosts:
        # reached under any name (containers, DNS); ingest and reads are authenticated here anyway
        allowed_hosts = ["*"]
    elif not is_loopback(args.host):
        allowed_hosts.append(args.host)  # the address the operator bound is a name of this service
    url = args.clickhouse_url if args.clickhouse_url else (None if args.data_dir else (config.get("clickhouse_url") or None))
    data_dir = None if url else (args.data_dir or config.get("data_dir"))
    try:
        store = Store.open(data_dir=data_dir, url=url)
    except StoreError as exc:
        print(f"tokenproof serve: {exc}", file=sys.stderr)
        return 1
    try:
        from tokenproof.collector.repair import repair
        fixed = repair(store, config.get("rollup_repair_hours"))  # before any traffic: docs/ingest.md
        if fixed["llm_calls"] or fixed["rollup_keys"]:
            print(f"tokenproof service: start-up repair derived {fixed['llm_calls']} LLM call(s) again and "
                  f"corrected {fixed['rollup_keys']} rollup key(s)", file=sys.stderr, flush=True)
        app = create_app(store, ingest_token=ingest_token, read_token=read_token, allowed_hosts=allowed_hosts)
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((args.host, args.port))
        except OSError as exc:
            print(f"tokenproof serve: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 1
        sock.listen(1024)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if family == socket.AF_INET6 else host
        logging.basicConfig(level=logging.WARNING)
        server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, access_log=False,
                                               timeout_graceful_shutdown=10))
        where = f"data dir {store.location}" if store.kind == "embedded" else f"ClickHouse {store.location}"
        print(f"tokenproof service listening on http://{shown}:{port}", flush=True)
        print(f"tokenproof service: store is {where}", file=sys.stderr, flush=True)
        server.run(sockets=[sock])
        return 0
    finally:
        store.close()


def _status(args: argparse.Namespace) -> int:
    status = ServiceClient(args.service_url, args.token).status()
    if args.json:
        print(json.dumps(status.as_dict(), indent=2))
        return 0
    print(f"spans stored:      {status.spans}")
    print(f"LLM calls:         {status.llm_calls} ({status.unpriced_llm_calls} unpriced)")
    areas = ", ".join(f"{area} {version:04d}" for area, version in status.schema_versions.items())
    print(f"schema version:    {status.schema_version}" + (f" ({areas})" if areas else ""))
    print(f"store:             {status.store_kind} {status.store_location}")
    print(f"uptime:            {status.uptime_seconds:.0f} s")
    return 0


def _calls(args: argparse.Namespace) -> int:
    """The most recent LLM calls as stored: one line per priced (or explicitly unpriced) span."""
    calls = ServiceClient(args.service_url, args.token).calls(limit=args.limit, feature=args.feature)
    if args.json:
        print(json.dumps([c.as_dict() for c in calls], indent=2))
        return 0
    header = ("time", "feature", "tier", "customer", "provider", "model", "in", "out", "cached", "cost_usd",
              "usage", "price_version", "status")
    rows = [header]
    for c in calls:
        cost = "unpriced" if c.CostUSD is None else f"{c.CostUSD:.6f}"
        rows.append((c.Timestamp[11:19], c.Feature or "-", c.Tier or "-", c.Customer or "-",
                     c.Provider, c.ResponseModel or c.RequestModel, str(c.InputTokens),
                     str(c.OutputTokens), str(c.CacheReadTokens), cost, c.UsageSource,
                     c.PriceVersion or "-", c.StatusCode + (" stream" if c.Streamed else "")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip())
    return 0


def _reprice(args: argparse.Namespace) -> int:
    result = ServiceClient(args.service_url, args.token).reprice(args.since, args.until)
    print(f"calls in range:    {result.rows}")
    print(f"re-priced:         {result.repriced}")
    print(f"newly priced:      {result.newly_priced}")
    print(f"still unpriced:    {result.still_unpriced}")
    print(f"cost before:       ${result.cost_before_usd:.6f}")
    print(f"cost after:        ${result.cost_after_usd:.6f}")
    print(f"price version:     {result.price_version}")
    return 0
