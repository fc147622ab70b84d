"""The `tokenproof` command line.

Each subcommand lives next to the code it drives. ``COMMANDS`` maps a subcommand to the module that
implements it; that module defines ``configure(name, parser)`` to add its arguments and
``run(name, args) -> int``. Modules are imported only when their command runs, so ``tokenproof
--help`` stays fast and the bare install (instrumentation only) still has a working CLI.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "provider": ("tokenproof.provider.cli", "run the local OpenAI/Anthropic-compatible provider server (recorded real answers)"),
    "demo": ("tokenproof.demo", "run the main job: example app under opentelemetry-instrument, spans priced and stored"),
    "serve": ("tokenproof.collector.cli", "run the service: OTLP receiver, ClickHouse store and API"),
    "status": ("tokenproof.collector.cli", "print the service's status (spans stored, LLM calls, schema)"),
    "calls": ("tokenproof.collector.cli", "the most recent LLM calls as stored (tokens, cost, tags)"),
    "reprice": ("tokenproof.collector.cli", "recompute costs for a time range after a price change"),
    "cost": ("tokenproof.analytics.cli", "cost attribution by any dimension"),
    "alerts": ("tokenproof.analytics.cli", "spend-anomaly and budget alerts"),
    "budgets": ("tokenproof.analytics.cli", "monthly budgets and burn-rate forecasts"),
    "export": ("tokenproof.analytics.cli", "export usage and cost (FOCUS csv/parquet)"),
    "candidates": ("tokenproof.analytics.proof.cli", "mine request groups and cheaper candidate models"),
    "shadow": ("tokenproof.analytics.proof.cli", "run a judged shadow comparison for a route"),
    "prove": ("tokenproof.analytics.proof.cli", "replay a JSONL export on a candidate, judge, decide, write a report"),
    "verdict": ("tokenproof.analytics.proof.cli", "sequential decision over comparisons judged elsewhere"),
    "recommendations": ("tokenproof.analytics.proof.cli", "decided routes with projected savings"),
    "prices": ("tokenproof.pricing_cli", "look up the price of a model, validate an overrides file"),
    # loaded by name like every command: core never imports the dashboards package
    "dashboard": ("tokenproof.dashboards.cli", "start the Streamlit dashboard (default http://127.0.0.1:8501)"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenproof",
        description="LLM cost control on OpenTelemetry: priced spans, a cost store, proof before switch.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        if argv and argv[0] not in {"-h", "--help"}:
            parser.print_usage(sys.stderr)
            print(f"tokenproof: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    name = argv[0]
    module_name, help_text = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        print(f"tokenproof {name}: needs an optional dependency that is not installed ({exc.name}); "
              "install tokenproof[all]", file=sys.stderr)
        return 2
    sub = argparse.ArgumentParser(prog=f"tokenproof {name}", description=help_text)
    module.configure(name, sub)
    args = sub.parse_args(argv[1:])
    return int(module.run(name, args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
