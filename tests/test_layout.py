"""The package layout's dependency arrows hold (house style): a user installing the bare package gets
an instrumentation that imports nothing of the collector or analytics, and the collector never
imports analytics (it mounts their API routers by entry point)."""

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
# package -> packages of ours it must never import
FORBIDDEN = {
    "tokenproof.instrumentation": ("tokenproof.collector", "tokenproof.analytics", "tokenproof.dashboards"),
    "tokenproof.collector": ("tokenproof.analytics", "tokenproof.dashboards", "tokenproof.instrumentation"),
    "tokenproof.analytics": ("tokenproof.dashboards",),
    "tokenproof": ("tokenproof.collector", "tokenproof.analytics", "tokenproof.dashboards"),
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
            if package == "tokenproof" and "provider" in path.parts and path.name == "testing.py":
                continue
            for name in _imports(path):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
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
