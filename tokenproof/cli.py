"""The `tokenproof` command line.

Each subcommand lives next to the code it drives. ``COMMANDS`` maps a subcommand to the module that
implements it; that module defines ``configure(name, parser)`` to add its arguments and
``run(name, args) -> int``. Modules are imported only when their command runs, so ``tokenproof
--help`` stays fast and the bare install (instrumentation only) still has a working CLI. A
command that fails on bad input (URL, port, path, value) prints one error line, never a traceback.

Other distributions add subcommands through the ``tokenproof.commands`` entry-point group
(``name = "module"``, the module as above; its ``HELP`` string, else its docstring's first line, is
the help text): the dev kit registers ``provider`` and ``demo`` there, so the core never imports it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib.metadata import entry_points

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
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
    "shadow-status": ("tokenproof.analytics.proof.cli", "progress of background shadow runs; --cancel one"),
    "prove": ("tokenproof.analytics.proof.cli", "replay a JSONL export on a candidate, judge, decide, write a report"),
    "verdict": ("tokenproof.analytics.proof.cli", "sequential decision over comparisons judged elsewhere"),
    "recommendations": ("tokenproof.analytics.proof.cli", "decided routes with projected savings"),
    "scheduler": ("tokenproof.analytics.scheduler.cli", "the proof scheduler: status, pause, resume, policy, events, run"),
    "optimize": ("tokenproof.analytics.proof.optimize.cli", "optimise a candidate's system prompt; held-out match rates"),
    "routes": ("tokenproof.analytics.routing.cli", "push, canary, pause, roll back, audit and export routes"),
    "prices": ("tokenproof.pricing_cli", "look up the price of a model, validate an overrides file"),
    # loaded by name like every command: core never imports the dashboards package
    "dashboard": ("tokenproof.dashboards.cli", "start the Streamlit dashboard (default http://127.0.0.1:8501)"),
}

ENTRY_POINT_GROUP = "tokenproof.commands"
# Commands another distribution provides, named here only to say what to install when it is missing.
PROVIDED_ELSEWHERE = {
    "provider": "the tokenproof dev kit (from a checkout: pip install -e ./devkit)",
    "demo": "the tokenproof dev kit (from a checkout: pip install -e ./devkit)",
}


def _registered_commands() -> dict[str, str]:
    """subcommand -> module registered by installed distributions (``tokenproof.commands`` group)."""
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in COMMANDS}


def _commands() -> dict[str, tuple[str, str | None]]:
    """Every subcommand: registered ones (help read when the module imports), then the core's table."""
    table: dict[str, tuple[str, str | None]] = {
        name: (module_name, None) for name, module_name in sorted(_registered_commands().items(), reverse=True)}
    table.update(COMMANDS)
    return table


def _first_line(module) -> str | None:
    if isinstance(getattr(module, "HELP", None), str):
        return module.HELP
    doc = (module.__doc__ or "").strip().splitlines()
    return doc[0] if doc else None


def _module_help(module_name: str) -> str:
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return f"(not available: {exc})"
    return _first_line(module) or module_name


def _parser(commands: dict[str, tuple[str, str | None]]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tokenproof",
        description="LLM cost control on OpenTelemetry: priced spans, a cost store, proof before switch.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in commands.items():
        sub.add_parser(name, help=help_text or _module_help(module_name), add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _commands()
    if argv and argv[0] not in commands and argv[0] in PROVIDED_ELSEWHERE:
        print(f"tokenproof {argv[0]}: this command comes with {PROVIDED_ELSEWHERE[argv[0]]}, "
              "which is not installed", file=sys.stderr)
        return 2
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in commands:
        parser = _parser(commands)
        if argv and argv[0] not in {"-h", "--help"}:
            parser.print_usage(sys.stderr)
            print(f"tokenproof: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        parser.print_help()
        return 0
    name = argv[0]
    module_name, help_text = commands[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name.split(".")[0] + ".") and name not in COMMANDS:
            print(f"tokenproof {name}: its module {module_name} is registered but not importable; "
                  "reinstall the distribution that provides it", file=sys.stderr)
        else:
            print(f"tokenproof {name}: needs an optional dependency that is not installed ({exc.name}); "
                  "install tokenproof[all]", file=sys.stderr)
        return 2
    if help_text is None:
        help_text = _first_line(module)
    sub = argparse.ArgumentParser(prog=f"tokenproof {name}", description=help_text)
    module.configure(name, sub)
    args = sub.parse_args(argv[1:])
    try:
        return int(module.run(name, args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, OverflowError, LookupError) as exc:
        # a malformed invocation (bad URL, port, path, value) is the user's to fix: one clear line, no
        # traceback; TOKENPROOF_DEBUG=1 shows it for a bug report
        if os.environ.get("TOKENPROOF_DEBUG"):
            raise
        print(f"tokenproof {name}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
