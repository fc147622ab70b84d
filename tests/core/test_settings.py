"""Settings: argument > environment > config file > default; bad values name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenproof import settings
from tokenproof.settings import SettingsError


def _positive(value: int) -> None:
    if value <= 0:
        raise ValueError("must be positive")


settings.declare("core_test_batch", int, 10, "test: a batch size", validate=_positive)
settings.declare("core_test_flag", bool, False, "test: a flag")
settings.declare("core_test_names", list, [], "test: a list", env="CORE_TEST_NAMES")
settings.declare("core_test_ratio", float, 0.5, "test: a ratio")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def write(text: str) -> Path:
        path = tmp_path / "tokenproof.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("TOKENPROOF_CONFIG", str(path))
        settings.reset_cache()
        return path

    return write


def test_precedence_argument_env_file_default(config, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.get("core_test_batch") == 10
    config("core_test_batch = 20\n")
    assert settings.get("core_test_batch") == 20
    monkeypatch.setenv("TOKENPROOF_CORE_TEST_BATCH", "30")
    assert settings.get("core_test_batch") == 30
    assert settings.get("core_test_batch", 40) == 40
    assert settings.get("core_test_batch", "50") == 50


def test_file_values_under_a_tokenproof_table(config) -> None:
    config("[tokenproof]\ncore_test_flag = true\ncore_test_names = ['a', 'b']\ncore_test_ratio = 2\n")
    assert settings.get("core_test_flag") is True
    assert settings.get("core_test_names") == ["a", "b"]
    assert settings.get("core_test_ratio") == 2.0


def test_env_parsing_of_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENPROOF_CORE_TEST_FLAG", "yes")
    monkeypatch.setenv("CORE_TEST_NAMES", " x, y ,,z ")
    monkeypatch.setenv("TOKENPROOF_CORE_TEST_RATIO", "0.25")
    assert settings.get("core_test_flag") is True
    assert settings.get("core_test_names") == ["x", "y", "z"]
    assert settings.get("core_test_ratio") == 0.25


def test_bad_values_name_the_setting_and_source(config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKENPROOF_CORE_TEST_FLAG", "maybe")
    with pytest.raises(SettingsError, match=r"setting 'core_test_flag' from environment variable "
                                            r"TOKENPROOF_CORE_TEST_FLAG: expected true/false"):
        settings.get("core_test_flag")
    config("core_test_batch = 'many'\n")
    with pytest.raises(SettingsError, match="setting 'core_test_batch' from config file"):
        settings.get("core_test_batch")
    config("core_test_batch = -3\n")
    with pytest.raises(SettingsError, match="setting 'core_test_batch' from config file: must be positive"):
        settings.get("core_test_batch")
    with pytest.raises(SettingsError, match="setting 'core_test_batch' from argument"):
        settings.get("core_test_batch", True)


def test_unknown_setting_and_broken_file(config) -> None:
    with pytest.raises(SettingsError, match="unknown setting 'no_such_setting'"):
        settings.get("no_such_setting")
    path = config("core_test_batch = = 3\n")
    with pytest.raises(SettingsError, match=f"config file {path}"):
        settings.get("core_test_batch")


def test_redeclaring_with_another_env_var_is_refused() -> None:
    settings.declare("core_test_batch", int, 10, "again, same env: fine", validate=_positive)
    with pytest.raises(SettingsError, match="declared twice"):
        settings.declare("core_test_batch", int, 10, "other env", env="SOMETHING_ELSE")


def test_price_overrides_setting_is_declared() -> None:
    import tokenproof.pricing  # noqa: F401  (declares it)

    described = {s.name: s for s in settings.describe()}
    assert described["price_overrides"].env == "TOKENPROOF_PRICE_OVERRIDES"
