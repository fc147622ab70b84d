"""The user's price overrides file: negotiated discounts, aliases and explicit prices.

A TOML or JSON file holding a list of entries under ``overrides``::

    [[overrides]]                      # a negotiated discount on everything from a provider
    provider = "openai"
    discount = 0.2                     # pay 80% of list price

    [[overrides]]                      # fine-tuned / private deployment names priced as a base model
    match = "^ft:gpt-4o-mini:"         # a regular expression (re.search), or `model = "exact-name"`
    alias = "gpt-4o-mini"              # a model genai-prices knows (optionally `alias_provider`)

    [[overrides]]                      # a model genai-prices does not know, priced explicitly
    provider = "openai"
    model = "acme-private-llm"
    input_mtok = 0.5                   # USD per million tokens
    output_mtok = 1.5
    cache_read_mtok = 0.05             # optional; cache_write_mtok too

Rules: an entry that names ``model`` or ``match`` applies to those models (optionally only under
``provider``, given as the semconv name such as ``azure.ai.openai`` or the genai-prices id such as
``azure``); an entry with only ``provider`` applies to every model of that provider. For the
base price, the first matching model entry with ``alias`` or explicit prices wins, otherwise
genai-prices' price is used. The discount is the one of the first matching model entry that sets
``discount``, otherwise the first matching provider entry's; explicit prices are taken as final and
only get a discount set in their own entry. ``name`` labels an entry in error messages.

Everything is validated at load; any problem raises ``PricingError("overrides file X, entry 'Y':
...")`` and nothing is changed.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["OverrideEntry", "Overrides", "PricingError", "parse_overrides", "read_overrides"]

PRICE_KEYS = ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
_ENTRY_KEYS = frozenset({"name", "provider", "model", "match", "alias", "alias_provider", "discount", *PRICE_KEYS})
_TOP_KEYS = frozenset({"overrides"})


class PricingError(ValueError):
    """A price lookup or overrides file problem, with a message naming the culprit."""


@dataclass(frozen=True)
class OverrideEntry:
    label: str
    provider: str | None
    model: str | None  # exact, case-insensitive
    pattern: re.Pattern[str] | None
    alias: str | None
    alias_provider: str | None
    discount: Decimal | None  # fraction off list price, 0 <= d <= 1
    prices: dict[str, Decimal] | None  # explicit USD per million tokens

    @property
    def model_level(self) -> bool:
        return self.model is not None or self.pattern is not None

    def matches(self, providers: frozenset[str], model: str) -> bool:
        """``providers``: the names the call's provider goes by (semconv name, price-table id)."""
        if self.provider is not None and self.provider not in providers:
            return False
        if self.model is not None:
            return self.model == model.lower()
        if self.pattern is not None:
            return self.pattern.search(model) is not None
        return True


@dataclass(frozen=True)
class Overrides:
    """A validated overrides file."""

    path: str
    entries: tuple[OverrideEntry, ...]
    sha8: str  # short hash of the file content, part of the price version

    def base_entry(self, providers: frozenset[str], model: str) -> OverrideEntry | None:
        for entry in self.entries:
            if entry.model_level and (entry.alias or entry.prices) and entry.matches(providers, model):
                return entry
        return None

    def discount(self, providers: frozenset[str], model: str) -> tuple[Decimal | None, OverrideEntry | None]:
        for model_level in (True, False):
            for entry in self.entries:
                if entry.model_level is model_level and entry.discount is not None and entry.matches(providers, model):
                    return entry.discount, entry
        return None, None


def read_overrides(path: str | Path, alias_known: Callable[[str | None, str], bool]) -> Overrides:
    """Read and validate an overrides file (``.json`` is JSON, anything else TOML)."""
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise PricingError(f"overrides file {path}: cannot read it ({exc.strerror or exc})") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(content.decode("utf-8"))
        else:
            data = tomllib.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PricingError(f"overrides file {path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}") from None
    return parse_overrides(data, str(path), hashlib.sha256(content).hexdigest()[:8], alias_known)


def parse_overrides(data: Any, path: str, sha8: str, alias_known: Callable[[str | None, str], bool]) -> Overrides:
    if not isinstance(data, dict):
        raise PricingError(f"overrides file {path}: expected a table/object with an 'overrides' list")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise PricingError(f"overrides file {path}: unknown top-level key(s) {', '.join(map(repr, unknown))} "
                           "(expected 'overrides')")
    raw_entries = data.get("overrides", [])
    if not isinstance(raw_entries, list):
        raise PricingError(f"overrides file {path}: 'overrides' must be a list of entries")
    entries = tuple(_parse_entry(raw, index, path, alias_known) for index, raw in enumerate(raw_entries, 1))
    return Overrides(path=path, entries=entries, sha8=sha8)


def _label(raw: Any, index: int) -> str:
    if isinstance(raw, dict):
        for key in ("name", "model", "match", "provider"):
            value = raw.get(key)
            if isinstance(value, str) and value:
                return value
    return f"#{index}"


def _parse_entry(raw: Any, index: int, path: str, alias_known: Callable[[str | None, str], bool]) -> OverrideEntry:
    label = _label(raw, index)

    def fail(problem: str) -> PricingError:
        return PricingError(f"overrides file {path}, entry {label!r}: {problem}")

    if not isinstance(raw, dict):
        raise fail(f"expected a table/object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(_ENTRY_KEYS))})")

    def text(key: str) -> str | None:
        value = raw.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise fail(f"{key!r} must be a non-empty string")
        return value.strip()

    provider = text("provider")
    model = text("model")
    match = text("match")
    alias = text("alias")
    alias_provider = text("alias_provider")
    text("name")
    if model is not None and match is not None:
        raise fail("give either 'model' (exact name) or 'match' (regular expression), not both")
    pattern = None
    if match is not None:
        try:
            pattern = re.compile(match)
        except re.error as exc:
            raise fail(f"'match' is not a valid regular expression ({exc})") from None
    if provider is None and model is None and match is None:
        raise fail("needs 'provider', 'model' or 'match' to say what it applies to")

    discount = None
    if "discount" in raw:
        discount = _number(raw["discount"], "discount", fail)
        if discount > 1:
            raise fail(f"'discount' is a fraction between 0 and 1 (0.2 = 20% off), got {raw['discount']!r}")

    prices = {key: _number(raw[key], key, fail) for key in PRICE_KEYS if key in raw} or None
    if prices is not None:
        if "input_mtok" not in prices or "output_mtok" not in prices:
            raise fail("explicit prices need both 'input_mtok' and 'output_mtok' (USD per million tokens)")
        if alias is not None:
            raise fail("give either 'alias' or explicit prices, not both")
    if alias_provider is not None and alias is None:
        raise fail("'alias_provider' only makes sense with 'alias'")
    if (alias is not None or prices is not None) and model is None and pattern is None:
        raise fail("'alias' and explicit prices need 'model' or 'match' to say which models they price")
    if alias is None and prices is None and discount is None:
        raise fail("does nothing: set 'discount', 'alias' or explicit prices ('input_mtok', 'output_mtok')")
    if alias is not None and not alias_known(alias_provider or provider, alias):
        where = f" for provider {(alias_provider or provider)!r}" if (alias_provider or provider) else ""
        raise fail(f"'alias' names model {alias!r}, which genai-prices does not know{where}")
    return OverrideEntry(
        label=label,
        provider=provider.lower() if provider else None,
        model=model.lower() if model else None,
        pattern=pattern,
        alias=alias,
        alias_provider=alias_provider,
        discount=discount,
        prices=prices,
    )


def _number(value: Any, key: str, fail: Callable[[str], PricingError]) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise fail(f"{key!r} must be a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise fail(f"{key!r} must be a number, got {value!r}") from None
    if not number.is_finite() or (isinstance(value, float) and not math.isfinite(value)):
        raise fail(f"{key!r} must be a finite number, got {value!r}")
    if number < 0:
        raise fail(f"{key!r} must not be negative, got {value!r}")
    return number
