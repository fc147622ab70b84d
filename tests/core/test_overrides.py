"""The price overrides file: discounts, aliases (exact and regex), explicit prices, validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tokenproof import pricing, semconv
from tokenproof.pricing import PricingError, Usage, price

M = 1_000_000
USAGE = Usage(10_000, 1_000, cache_read_tokens=4_000)


def write(tmp_path: Path, text: str, name: str = "prices.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def activate(path: Path) -> None:
    pricing.use_overrides(pricing.load_overrides(path))


def test_provider_discount_applies_to_every_model_of_that_provider(tmp_path: Path) -> None:
    list_price = price("openai", "gpt-4o", USAGE).usd
    other = price("anthropic", "claude-3-5-haiku-latest", USAGE).usd
    activate(write(tmp_path, '[[overrides]]\nprovider = "openai"\ndiscount = 0.2\n'))
    cost = price("openai", "gpt-4o", USAGE)
    assert cost.usd == pytest.approx(list_price * 0.8, rel=1e-12)
    assert cost.price_source == "override" and cost.model_ref == "gpt-4o"
    untouched = price("anthropic", "claude-3-5-haiku-latest", USAGE)
    assert untouched.usd == other and untouched.price_source == "genai-prices"


def test_model_discount_beats_provider_discount(tmp_path: Path) -> None:
    list_price = price("openai", "gpt-4o-mini", USAGE).usd
    activate(write(tmp_path, """
[[overrides]]
provider = "openai"
discount = 0.2

[[overrides]]
provider = "openai"
model = "gpt-4o-mini"
discount = 0.5
"""))
    assert price("openai", "gpt-4o-mini", USAGE).usd == pytest.approx(list_price * 0.5, rel=1e-12)


def test_fine_tuned_names_priced_as_their_base_model_by_exact_name_and_regex(tmp_path: Path) -> None:
    base = price("openai", "gpt-4o-mini", USAGE).usd
    assert price("openai", "ft:gpt-4o-mini:acme::abc", USAGE).status == semconv.COST_UNPRICED
    activate(write(tmp_path, """
[[overrides]]
name = "acme fine-tunes"
provider = "openai"
match = "^ft:gpt-4o-mini:"
alias = "gpt-4o-mini"

[[overrides]]
model = "Acme-Deployment"
alias = "gpt-4o"
alias_provider = "openai"
"""))
    for model in ("ft:gpt-4o-mini:acme::abc", "ft:gpt-4o-mini:acme:v2:xyz"):
        cost = price("openai", model, USAGE)
        assert cost.usd == base
        assert cost.model_ref == "gpt-4o-mini" and cost.price_source == "override"
    # the regex entry is limited to provider openai
    assert price("azure.ai.openai", "ft:gpt-4o-mini:acme::abc", USAGE).status == semconv.COST_UNPRICED
    # exact names match case-insensitively, under any provider when none is given
    deployed = price("azure.ai.openai", "acme-deployment", USAGE)
    assert deployed.model_ref == "gpt-4o" and deployed.usd == price("openai", "gpt-4o", USAGE).usd


def test_explicit_prices_for_an_unknown_model(tmp_path: Path) -> None:
    activate(write(tmp_path, json.dumps({"overrides": [
        {"provider": "openai", "model": "acme-private-llm", "input_mtok": 0.5, "output_mtok": 1.5,
         "cache_read_mtok": 0.05},
    ]}), name="prices.json"))
    cost = price("openai", "acme-private-llm", USAGE)
    assert cost.usd == pytest.approx((6_000 * 0.5 + 4_000 * 0.05 + 1_000 * 1.5) / M, rel=1e-12)
    assert cost.status == semconv.COST_PRICED and cost.price_source == "override"
    assert cost.model_ref == "acme-private-llm"
    listed = [e for e in pricing.catalogue(["openai"]) if e.model == "acme-private-llm"]
    assert len(listed) == 1 and listed[0].input_mtok == 0.5 and listed[0].output_mtok == 1.5


def test_catalogue_shows_discounted_current_prices(tmp_path: Path) -> None:
    before = {e.model: e for e in pricing.catalogue(["openai"])}
    activate(write(tmp_path, '[[overrides]]\nprovider = "openai"\ndiscount = 0.25\n'))
    after = {e.model: e for e in pricing.catalogue(["openai"])}
    assert after["gpt-4o"].input_mtok == pytest.approx(before["gpt-4o"].input_mtok * 0.75)
    assert after["gpt-4o"].price_source == "override"


def test_price_version_carries_a_hash_of_the_overrides_content(tmp_path: Path) -> None:
    plain = pricing.price_version()
    assert "+overrides-" not in plain
    activate(write(tmp_path, '[[overrides]]\nprovider = "openai"\ndiscount = 0.2\n'))
    first = pricing.price_version()
    assert first.startswith(plain + "+overrides-") and len(first) == len(plain) + len("+overrides-") + 8
    assert price("openai", "gpt-4o", USAGE).price_version == first
    activate(write(tmp_path, '[[overrides]]\nprovider = "openai"\ndiscount = 0.3\n'))
    second = pricing.price_version()
    assert second != first and price("openai", "gpt-4o", USAGE).price_version == second
    pricing.use_overrides(None)
    assert pricing.price_version() == plain


def test_overrides_file_from_environment_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    list_price = price("openai", "gpt-4o", USAGE).usd
    path = write(tmp_path, '[[overrides]]\nprovider = "openai"\ndiscount = 0.5\n')
    monkeypatch.setenv("TOKENPROOF_PRICE_OVERRIDES", str(path))
    pricing.reset()
    assert price("openai", "gpt-4o", USAGE).usd == pytest.approx(list_price / 2, rel=1e-12)
    assert "+overrides-" in pricing.price_version()


def test_broken_configured_file_raises_a_clear_error_every_time(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[[overrides]]\nprovider = "openai"\ndiscount = -1\n')
    monkeypatch.setenv("TOKENPROOF_PRICE_OVERRIDES", str(path))
    pricing.reset()
    for _ in range(2):
        with pytest.raises(PricingError, match="entry 'openai': 'discount' must not be negative"):
            price("openai", "gpt-4o", USAGE)


BAD_ENTRIES = [
    ('model = "m1"\nalias = "gpt-4o"\ncolour = "red"', "m1", "unknown key(s) 'colour'"),
    ('model = "m2"\ninput_mtok = -0.5\noutput_mtok = 1', "m2", "'input_mtok' must not be negative"),
    ('model = "m3"\ninput_mtok = 1', "m3", "need both 'input_mtok' and 'output_mtok'"),
    ('model = "m4"\ninput_mtok = "cheap"\noutput_mtok = 1', "m4", "'input_mtok' must be a number"),
    ('match = "ft:(gpt"\nalias = "gpt-4o"', "ft:(gpt", "not a valid regular expression"),
    ('model = "m6"\nalias = "gpt-9-imaginary"\nprovider = "openai"', "m6",
     "'alias' names model 'gpt-9-imaginary', which genai-prices does not know for provider 'openai'"),
    ('model = "m7"\nmatch = "x"\nalias = "gpt-4o"', "m7", "either 'model'"),
    ('provider = "openai"', "openai", "does nothing"),
    ('discount = 0.1', "#1", "needs 'provider', 'model' or 'match'"),
    ('provider = "openai"\ndiscount = 1.5', "openai", "fraction between 0 and 1"),
    ('name = "deal"\nprovider = "openai"\ndiscount = true', "deal", "'discount' must be a number"),
    ('model = "m8"\nalias = "gpt-4o"\ninput_mtok = 1\noutput_mtok = 1', "m8", "either 'alias' or explicit"),
    ('provider = "openai"\nalias = "gpt-4o"', "openai", "need 'model' or 'match'"),
]


@pytest.mark.parametrize(("body", "label", "problem"), BAD_ENTRIES)
def test_every_validation_error_names_the_file_and_entry(tmp_path: Path, body: str, label: str,
                                                         problem: str) -> None:
    path = write(tmp_path, '[[overrides]]\nprovider = "anthropic"\ndiscount = 0.1\n\n[[overrides]]\n' + body + "\n")
    if label == "#1":
        label = "#2"
    with pytest.raises(PricingError) as info:
        pricing.load_overrides(path)
    message = str(info.value)
    assert message.startswith(f"overrides file {path}, entry {label!r}: "), message
    assert problem in message


def test_file_level_problems_are_clear(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match="cannot read it"):
        pricing.load_overrides(tmp_path / "missing.toml")
    with pytest.raises(PricingError, match="not valid TOML"):
        pricing.load_overrides(write(tmp_path, "[[overrides]\n"))
    with pytest.raises(PricingError, match="not valid JSON"):
        pricing.load_overrides(write(tmp_path, "{", name="p.json"))
    with pytest.raises(PricingError, match="unknown top-level key"):
        pricing.load_overrides(write(tmp_path, "[[override]]\nprovider = 'openai'\ndiscount = 0.1\n"))


def test_a_bad_file_changes_nothing(tmp_path: Path) -> None:
    activate(write(tmp_path, '[[overrides]]\nprovider = "openai"\ndiscount = 0.5\n', name="good.toml"))
    version = pricing.price_version()
    discounted = price("openai", "gpt-4o", USAGE).usd
    with pytest.raises(PricingError):
        activate(write(tmp_path, '[[overrides]]\nprovider = "openai"\ndiscount = 5\n', name="bad.toml"))
    assert pricing.price_version() == version
    assert price("openai", "gpt-4o", USAGE).usd == discounted


def test_entry_provider_may_be_the_semconv_name_or_the_price_table_id(tmp_path: Path) -> None:
    list_price = price("azure.ai.openai", "gpt-4o", USAGE).usd
    activate(write(tmp_path, '[[overrides]]\nprovider = "azure"\ndiscount = 0.1\n\n'
                             '[[overrides]]\nprovider = "aws.bedrock"\ndiscount = 0.3\n'))
    assert price("azure.ai.openai", "gpt-4o", USAGE).usd == pytest.approx(list_price * 0.9, rel=1e-12)
    assert price("openai", "gpt-4o", USAGE).price_source == "genai-prices"


def test_shipped_example_file_is_valid_and_does_what_it_says() -> None:
    example = Path(pricing.__file__).parent / "data" / "price_overrides.example.toml"
    activate(example)
    fine_tuned = price("openai", "ft:gpt-4o-mini-2024-07-18:acme::x1", USAGE)
    assert fine_tuned.model_ref == "gpt-4o-mini"
    mixtral = price("openai", "mixtral-8x7b-instruct-v0.1", Usage(1_000_000, 1_000_000))
    assert mixtral.model_ref == "mixtral-8x7b" and mixtral.usd == pytest.approx(1.4 * 0.85)
    private = price("openai", "acme-private-llm", Usage(1_000_000, 0))
    assert private.usd == pytest.approx(0.5)
