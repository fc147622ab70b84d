"""Core-area fixtures: every test starts from fresh pricing and settings state."""

from __future__ import annotations

import pytest

from tokenproof import pricing, settings


@pytest.fixture(autouse=True)
def fresh_pricing(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.delenv("TOKENPROOF_PRICE_OVERRIDES", raising=False)
    monkeypatch.setenv("TOKENPROOF_CONFIG", str(tmp_path / "no-such-tokenproof.toml"))
    settings.reset_cache()
    pricing.reset()
    yield
    pricing.reset()
    settings.reset_cache()
