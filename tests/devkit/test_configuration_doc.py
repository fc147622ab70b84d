"""The configuration reference in docs/ is the settings as declared: every setting, none invented."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tokenproof_devkit.configuration import MODULES

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"tokenproof": ROOT / "tokenproof", "tokenproof.instrumentation": ROOT / "instrumentation",
           "tokenproof.collector": ROOT / "collector", "tokenproof.analytics": ROOT / "analytics",
           "tokenproof.dashboards": ROOT / "dashboards"}


def _declaring_modules() -> set[str]:
    found = set()
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "declare"
                   and getattr(n.func.value, "id", "") == "settings" for n in ast.walk(tree)):
                rel = path.relative_to(folder).with_suffix("")
                found.add(".".join((package, *rel.parts)).removesuffix(".__init__"))
    return found


def test_the_reference_lists_every_module_that_declares_settings():
    assert _declaring_modules() - {"tokenproof.dashboards.cli"} <= set(MODULES)


def test_the_committed_reference_is_current():
    # a fresh process: settings other tests declared in this one are not the product's
    out = subprocess.run([sys.executable, "-m", "tokenproof_devkit.configuration"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8") == out, (
        "regenerate: python -m tokenproof_devkit.configuration > docs/configuration.md")
