"""The package layout's dependency arrows hold (house style): a user installing the bare package gets
an instrumentation that imports nothing of the collector or analytics, and the collector never
imports analytics (it mounts their API routers by entry point). The dev kit (`tokenproof_devkit`, a
distribution of its own) may import the product; no product module imports the dev kit."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {
    "tokenproof": ROOT / "tokenproof",
    "tokenproof.instrumentation": ROOT / "instrumentation",
    "tokenproof.collector": ROOT / "collector",
    "tokenproof.analytics": ROOT / "analytics",
    "tokenproof.dashboards": ROOT / "dashboards",
}
DEVKIT = "tokenproof_devkit"
# package -> packages of ours it must never import
FORBIDDEN = {
    "tokenproof.instrumentation": ("tokenproof.collector", "tokenproof.analytics", "tokenproof.dashboards", DEVKIT),
    "tokenproof.collector": ("tokenproof.analytics", "tokenproof.dashboards", "tokenproof.instrumentation", DEVKIT),
    "tokenproof.analytics": ("tokenproof.dashboards", DEVKIT),
    "tokenproof.dashboards": (DEVKIT,),
    "tokenproof": ("tokenproof.collector", "tokenproof.analytics", "tokenproof.dashboards", DEVKIT),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_dependency_arrows_hold():
    problems = []
    for package, banned in FORBIDDEN.items():
        folder = FOLDERS[package]
        for path in folder.rglob("*.py"):
            for name in _imports(path):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert problems == []


def test_example_apps_stand_alone():
    """The examples play a user's app: they import tokenproof's public API, never the dev kit."""
    problems = [f"{path.relative_to(ROOT)} imports {name}" for path in (ROOT / "examples").rglob("*.py")
                for name in _imports(path) if name == DEVKIT or name.startswith(DEVKIT + ".")]
    assert problems == []


def test_no_generic_top_level_packages_are_installed(tmp_path):
    """Only `tokenproof` is an import name of ours: no `analytics` or `collector` importable from
    outside the checkout."""
    import subprocess
    import sys

    code = (
        "import importlib.util, json\n"
        "print(json.dumps({n: getattr(importlib.util.find_spec(n), 'origin', None) for n in "
        "('instrumentation', 'collector', 'analytics', 'dashboards')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         check=True).stdout
    import json

    found = {k: v for k, v in json.loads(out).items() if v and str(ROOT) in v}
    assert found == {}
    ok = subprocess.run([sys.executable, "-c", "import tokenproof.analytics, tokenproof.collector"],
                        cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
