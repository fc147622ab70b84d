"""``tokenproof provider``: run the local OpenAI/Anthropic-compatible server (recorded real answers).

Prints ``provider listening on http://HOST:PORT`` once the socket is bound (``--port 0`` picks a
free port), so scripts can read the address from stdout.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys

HELP = "run the local OpenAI/Anthropic-compatible provider server (recorded real answers)"
LOOPBACK_NAMES = {"localhost"}


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback unless --allow-remote)")
    parser.add_argument("--port", type=int, default=8100, help="port (0 = any free port, printed on stdout)")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of requests that fail (0-1)")
    parser.add_argument("--fault-status", type=int, default=500, help="status of those failures (429, 500, 529...)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before every response")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0, help="delay between streamed chunks")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="how long a 'timeout' fault waits")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on 429/529")
    parser.add_argument("--stream-break-after", type=int, default=None, help="break every stream after K chunks")
    parser.add_argument("--stream-break-mode", choices=["error", "drop"], default="error")
    parser.add_argument("--judge-position-bias", type=float, default=0.0,
                        help="probability the judge says [[A]] on a tie/close call")
    parser.add_argument("--judge-noise", type=float, default=0.0, help="probability of a random judge verdict")
    parser.add_argument("--judge-close-margin", type=float, default=0.0, help="grade gap (0-1) counted as close")
    parser.add_argument("--seed", type=int, default=0, help="seed for fault-rate and judge knobs")
    parser.add_argument("--model", action="append", default=[], metavar="PATTERN=gpt4|mixtral|embedding",
                        help="extra model-name mapping (checked before the defaults); repeatable")
    parser.add_argument("--no-auth", action="store_true", help="accept requests without an API key")
    parser.add_argument("--log-level", default="warning")


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(name: str, args: argparse.Namespace) -> int:
    from tokenproof_devkit.provider.models import parse_model_map
    from tokenproof_devkit.provider.options import ProviderOptions
    from tokenproof_devkit.provider.testing import bind_socket, make_server

    if not _is_loopback(args.host) and not args.allow_remote:
        print(f"tokenproof provider: refusing to bind {args.host}; it is loopback-only unless --allow-remote",
              file=sys.stderr)
        return 2
    try:
        parse_model_map(args.model)
    except ValueError as exc:
        print(f"tokenproof provider: {exc}", file=sys.stderr)
        return 2
    options = ProviderOptions(
        host=args.host, port=args.port, fault_rate=args.fault_rate, fault_status=args.fault_status,
        latency_ms=args.latency_ms, chunk_delay_ms=args.chunk_delay_ms, timeout_s=args.timeout_s,
        retry_after_s=args.retry_after, stream_break_after=args.stream_break_after,
        stream_break_mode=args.stream_break_mode, judge_position_bias=args.judge_position_bias,
        judge_noise=args.judge_noise, judge_close_margin=args.judge_close_margin, seed=args.seed,
        model_map=args.model, require_api_key=not args.no_auth,
    )
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"tokenproof provider: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    server = make_server(options, log_level=args.log_level)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"provider listening on http://{shown}:{port}", flush=True)
    print(f"  OpenAI base_url: http://{shown}:{port}/v1   Anthropic base_url: http://{shown}:{port}", flush=True)
    server.run(sockets=[sock])
    return 0
