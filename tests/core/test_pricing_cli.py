"""`tokenproof prices`: output and exit codes, through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tokenproof import cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["prices", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_price_a_call_readable(capsys) -> None:
    code, out, _ = run(capsys, "gpt-4o-2024-08-06", "--provider", "openai", "--input", "1000", "--output", "200",
                       "--cache-read", "500")
    assert code == 0
    assert "-> gpt-4o [genai-prices]" in out
    # 500 * 2.5 + 500 * 1.25 + 200 * 10 per million
    assert "cost: $0.003875" in out
    assert "price version genai-prices-" in out


def test_price_a_call_json(capsys) -> None:
    code, out, _ = run(capsys, "claude-3-5-haiku-latest", "--provider", "anthropic", "--input", "10000",
                       "--output", "1000", "--cache-read", "6000", "--cache-write", "3000", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "priced" and data["model_ref"] == "claude-3-5-haiku-latest"
    assert data["usd"] == pytest.approx((1_000 * 0.8 + 6_000 * 0.08 + 3_000 * 1.0 + 1_000 * 4.0) / 1e6)
    assert data["rates_per_million"]["input_mtok"] == 0.8


def test_price_a_call_at_a_service_tier_batch_or_base_url(capsys) -> None:
    args = ("gpt-5", "--provider", "openai", "--input", "1000000", "--output", "100000", "--json")
    for extra, usd in (((), 2.25), (("--service-tier", "flex"), 1.125), (("--service-tier", "priority"), 4.5),
                       (("--batch",), 1.125)):
        code, out, _ = run(capsys, *args, *extra)
        assert code == 0 and json.loads(out)["usd"] == pytest.approx(usd), extra
    code, out, _ = run(capsys, "deepseek-chat", "--base-url", "https://api.deepseek.com/v1", "--input", "1000",
                       "--json")
    assert code == 0 and json.loads(out)["model_ref"] == "deepseek-chat"


def test_unknown_model_exits_1_and_says_unpriced(capsys) -> None:
    code, out, _ = run(capsys, "acme-llm", "--provider", "openai", "--input", "10")
    assert code == 1
    assert "UNPRICED" in out and "overrides" in out
    code, out, _ = run(capsys, "acme-llm", "--provider", "openai", "--json")
    assert code == 1 and json.loads(out)["usd"] is None


def test_list_a_provider(capsys) -> None:
    code, out, _ = run(capsys, "--list", "--provider", "anthropic")
    assert code == 0
    assert "claude-3-5-haiku" in out and "tiered" in out
    code, out, _ = run(capsys, "--list", "--provider", "anthropic", "--json")
    models = json.loads(out)["models"]
    assert {m["provider"] for m in models} == {"anthropic"}
    assert all(m["input_mtok"] is not None for m in models)


def test_check_overrides_ok_and_bad(capsys, tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[[overrides]]\nmatch = "^ft:gpt-4o-mini:"\nalias = "gpt-4o-mini"\n')
    code, out, _ = run(capsys, "--check-overrides", str(good))
    assert code == 0 and "OK, 1 entry" in out and "+overrides-" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('[[overrides]]\nname = "acme deal"\nprovider = "openai"\ndiscount = -0.2\n')
    code, out, err = run(capsys, "--check-overrides", str(bad))
    assert code == 2 and out == ""
    assert f"overrides file {bad}, entry 'acme deal': 'discount' must not be negative" in err


def test_pricing_with_an_overrides_file(capsys, tmp_path: Path) -> None:
    path = tmp_path / "o.json"
    path.write_text(json.dumps({"overrides": [{"match": "^ft:gpt-4o-mini:", "alias": "gpt-4o-mini",
                                               "discount": 0.5}]}))
    code, out, _ = run(capsys, "ft:gpt-4o-mini:acme::abc", "--provider", "openai", "--input", "1000000",
                       "--overrides", str(path), "--json")
    data = json.loads(out)
    assert code == 0 and data["price_source"] == "override" and data["model_ref"] == "gpt-4o-mini"
    assert data["usd"] == pytest.approx(0.15 * 0.5)


def test_bad_arguments_exit_2(capsys) -> None:
    code, _, err = run(capsys)
    assert code == 2 and "give a MODEL" in err
    code, _, err = run(capsys, "gpt-4o", "--input", "-5")
    assert code == 2 and "--input must not be negative" in err
    code, _, err = run(capsys, "--list", "--provider", "nonsense")
    assert code == 2 and "unknown provider 'nonsense'" in err


def test_installed_command_runs(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tokenproof.cli", "prices", "gpt-4o", "--provider", "openai",
                             "--input", "1000", "--output", "100", "--json"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["usd"] == pytest.approx((1000 * 2.5 + 100 * 10) / 1e6)
