"""What `pip install tokenproof` gets: the core wheel carries the product only, no recorded answers.

The replay server, its recorded corpus, the demo and the example builders are the dev kit
(``devkit/``, distribution ``tokenproof-devkit``); the core wheel must hold none of them, and the
``tokenproof`` CLI must still tell a user without the dev kit what to install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tokenproof import cli

ROOT = Path(__file__).resolve().parents[1]
# About 200 KB today (code, SQL and docs); the recorded corpus alone is ~2.8 MB.
MAX_WHEEL_BYTES = 400_000
DATA_SUFFIXES = (".gz", ".jsonl", ".csv", ".parquet", ".tiktoken")


@pytest.fixture(scope="module")
def core_wheel(tmp_path_factory) -> Path:
    """Build the core wheel from a copy of the checkout (the build writes build/ and egg-info)."""
    src = tmp_path_factory.mktemp("src") / "tokenproof"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "reports", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".tokenproof"))
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(out), str(src)], capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    (wheel,) = out.glob("tokenproof-*.whl")
    return wheel


def test_core_wheel_holds_the_product_and_no_dev_kit(core_wheel):
    names = zipfile.ZipFile(core_wheel).namelist()
    assert not [n for n in names if "provider/" in n or n.startswith("tokenproof_devkit") or "demo" in n]
    assert not [n for n in names if n.endswith(DATA_SUFFIXES) or n.endswith("NOTICE")]
    # the product is all there, its SQL migrations included
    for module in ("tokenproof/cli.py", "tokenproof/instrumentation/__init__.py", "tokenproof/collector/store.py",
                   "tokenproof/analytics/proof/prove.py", "tokenproof/data/price_overrides.example.toml"):
        assert module in names
    assert any(n.startswith("tokenproof/collector/migrations/") and n.endswith(".sql") for n in names)
    assert core_wheel.stat().st_size < MAX_WHEEL_BYTES


def test_core_metadata_needs_no_dev_kit(core_wheel):
    """The dev kit is not on PyPI: no extra of the core may require it, and none is called `provider`."""
    with zipfile.ZipFile(core_wheel) as wheel:
        (meta,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = wheel.read(meta).decode()
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and not [line for line in requires if "devkit" in line]
    assert "Provides-Extra: provider" not in metadata


def test_dev_kit_commands_come_through_the_entry_point_group(capsys):
    assert "provider" not in cli.COMMANDS and "demo" not in cli.COMMANDS
    assert cli.main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert "provider" in listed and "demo" in listed


def test_a_missing_dev_kit_is_explained_not_a_traceback(monkeypatch, capsys):
    # the installed distributions' metadata, as on a machine without tokenproof-devkit
    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    for command in ("provider", "demo"):
        assert cli.main([command, "--port", "0"]) == 2
        err = capsys.readouterr().err
        assert f"tokenproof {command}: this command comes with the tokenproof dev kit" in err
        assert "Traceback" not in err
