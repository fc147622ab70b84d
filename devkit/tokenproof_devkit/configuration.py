"""The configuration reference (`docs/configuration.md`), written from the settings as declared.

Every setting is declared once, beside the code that reads it (``tokenproof.settings.declare``);
this imports every module that declares some and prints them as one table, so the reference cannot
drift from the code (``tests/devkit/test_configuration_doc.py`` compares it with the committed file).

Usage: python -m tokenproof_devkit.configuration > docs/configuration.md
"""

from __future__ import annotations

import importlib
import sys

from tokenproof import settings

# every module that declares settings (the test checks this list is complete)
MODULES = (
    "tokenproof.pricing", "tokenproof.service_client", "tokenproof._tags",
    "tokenproof.instrumentation._safety", "tokenproof.instrumentation._routing",
    "tokenproof.instrumentation._runtime", "tokenproof.collector.config",
    "tokenproof.analytics.evaluate", "tokenproof.analytics.focus", "tokenproof.analytics.webhooks",
    "tokenproof.analytics.proof.endpoints", "tokenproof.analytics.proof.jobs",
    "tokenproof.analytics.proof.mining", "tokenproof.analytics.proof.shadow",
    "tokenproof.analytics.routing.monitor", "tokenproof.analytics.scheduler.policy",
    "tokenproof.analytics.proof.optimize.search", "tokenproof_devkit.local_model",
)

HEADER = """# Configuration reference

Every setting has one name, one environment variable, a type and a default. Precedence: a command-line
argument, then the environment variable, then `tokenproof.toml` in the working directory (or the file
named by `TOKENPROOF_CONFIG`; keys are the setting names), then the default. A bad value is an error
naming the setting; inside an instrumented app a bad value disables tokenproof alone, with one
warning, and never reaches the app (docs/security.md). Lists are comma-separated in the environment.

Generated from the declarations by `python -m tokenproof_devkit.configuration`; do not edit by hand.

| setting | environment variable | type | default | what it does |
|---|---|---|---|---|
"""


def render() -> str:
    for module in MODULES:
        importlib.import_module(module)
    rows = []
    for s in settings.describe():
        default = ", ".join(map(str, s.default)) if isinstance(s.default, list) else s.default
        text = str(default).replace("|", "\\|") if default not in ("", None) else "(empty)"
        described = s.help.replace("|", "\\|")
        rows.append(f"| `{s.name}` | `{s.env}` | {s.type.__name__} | `{text}` | {described} |")
    return HEADER + "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
