"""Prices for LLM calls: genai-prices, resolved once per model, plus the user's overrides.

``price(provider, model, usage)`` returns a :class:`Cost`. The model is matched against the
genai-prices table once per (provider, model) and the result cached (thread-safe); each call then
only does the arithmetic (see ``_pricing_plan``), which agrees exactly with
``genai_prices.calc_price``. Cache reads and writes are priced at their own rates, reasoning
tokens at the output rate unless the model has a reasoning rate, and tiered prices use the tier of
the call's total input tokens.

An unknown model is *unpriced*: ``Cost(usd=None, status="unpriced")``, never $0, and counted in
``unpriced_counts()``. The overrides file (setting ``price_overrides`` /
``TOKENPROOF_PRICE_OVERRIDES``; format in ``_pricing_overrides``) adds negotiated discounts,
aliases for fine-tuned or private model names and explicit prices; its content hash is part of
``price_version()`` so re-pricing knows which table produced a cost.

Provider names are the semconv ``gen_ai.provider.name`` values, mapped to genai-prices provider
ids by :mod:`tokenproof.catalogue`; an unrecognised provider name falls back to genai-prices' own
matching by model name (e.g. gateways). The client's base URL (``api_url``), when given, picks the
genai-prices provider whose API URL pattern matches it (DeepSeek, Groq, OpenRouter...). Service
tiers and batch processing select genai-prices' price variants (``price_context``). The whole
procedure is described in ``docs/pricing.md``.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal
from pathlib import Path

import genai_prices
from genai_prices import data_snapshot
from genai_prices import types as gp_types

from tokenproof import catalogue as _catalogue
from tokenproof import semconv, settings
from tokenproof._pricing_overrides import OverrideEntry, Overrides, PricingError, read_overrides
from tokenproof._pricing_plan import NO_CONTEXT, InvalidUsage, ModelPlans, PriceContext, PricePlan, price_context
from tokenproof.usage import Usage

__all__ = [
    "TABLE_VERSION",
    "CatalogueEntry",
    "Cost",
    "ModelPrice",
    "Overrides",
    "PricingError",
    "Usage",
    "active_overrides",
    "catalogue",
    "cost_attribute_mode",
    "genai_provider_id",
    "load_overrides",
    "price",
    "price_context",
    "price_counts",
    "price_version",
    "provider_cost",
    "reset",
    "resolve",
    "unpriced_counts",
    "use_overrides",
]

log = logging.getLogger(__name__)

settings.declare(
    "price_overrides", str, "",
    "path of a TOML/JSON price overrides file (discounts, aliases for fine-tuned models, explicit prices)",
    env="TOKENPROOF_PRICE_OVERRIDES",
)

COST_ATTRIBUTE_MODES = ("both", "legacy", "proposed")


def _check_cost_mode(value: str) -> None:
    if value not in COST_ATTRIBUTE_MODES:
        raise ValueError(f"expected one of {', '.join(COST_ATTRIBUTE_MODES)}")


settings.declare(
    "cost_attributes", str, "both",
    "cost attribute names on LLM spans: 'both' (gen_ai.usage.cost and the proposed "
    "gen_ai.usage.cost.amount/.currency/.source), 'legacy' (gen_ai.usage.cost only) or 'proposed'",
    validate=_check_cost_mode,
)

_DECIMAL = Context()  # fixed default context (see _pricing_plan)
SOURCE_GENAI_PRICES = "genai-prices"
SOURCE_OVERRIDE = "override"
SOURCE_PROVIDER = "provider"  # the provider reported the cost itself
TABLE_VERSION = f"genai-prices-{genai_prices.__version__}"

@dataclass(frozen=True)
class Cost:
    usd: float | None  # None when unpriced, never 0.0 for an unknown model
    status: str  # semconv.COST_PRICED | semconv.COST_UNPRICED
    price_version: str
    price_source: str  # "genai-prices" | "override" | "" (unpriced)
    model_ref: str | None  # the price-table model id matched


@dataclass(frozen=True)
class CatalogueEntry:
    """A model's current price, USD per million tokens (after overrides)."""

    provider: str  # the provider name asked for (semconv name when one was given)
    model: str  # genai-prices model id (or the override's model name)
    name: str | None
    input_mtok: float | None
    output_mtok: float | None
    cache_read_mtok: float | None
    cache_write_mtok: float | None
    tiered: bool  # prices change above an input-size threshold (these are the base rates)
    context_window: int | None
    price_source: str
    price_provider_id: str  # genai-prices provider id ("override" for explicit override prices)


class ModelPrice:
    """A resolved price: what ``price()`` uses for one (provider, model)."""

    __slots__ = ("_factor", "_plans", "context_window", "model", "model_ref", "name", "provider", "source")

    def __init__(self, provider: str, model: str, model_ref: str, source: str,
                 plans: ModelPlans | PricePlan, discount: Decimal | None,
                 context_window: int | None = None, name: str | None = None) -> None:
        self.provider = provider
        self.model = model
        self.model_ref = model_ref
        self.source = source
        self._plans = plans
        self._factor = None if not discount else Decimal(1) - discount
        self.context_window = context_window
        self.name = name

    def plan(self, when: datetime | None = None, context: Mapping[str, str] | None = None) -> PricePlan:
        plans = self._plans
        return plans if isinstance(plans, PricePlan) else plans.plan(when, context)

    def total(self, usage: Usage, when: datetime | None = None, context: Mapping[str, str] | None = None) -> Decimal:
        """USD as a Decimal; raises InvalidUsage for inconsistent counts."""
        plans = self._plans
        plan = plans if isinstance(plans, PricePlan) else plans.plan(when, context)
        total = plan.total(usage)
        if self._factor is not None:
            total = _DECIMAL.multiply(total, self._factor)
        return total

    def rates(self, when: datetime | None = None, context: Mapping[str, str] | None = None) -> dict[str, float]:
        """Current rates by genai-prices price key (e.g. ``input_mtok``), after any discount."""
        factor = self._factor if self._factor is not None else Decimal(1)
        return {key: float(value * factor) for key, value in self.plan(when, context).rates.items()}

    @property
    def tiered(self) -> bool:
        return self.plan().tiered

    @property
    def date_dependent(self) -> bool:
        """The price depends on the request time (genai-prices conditional prices)."""
        return isinstance(self._plans, ModelPlans) and self._plans.conditional

    def time_dependent(self, context: Mapping[str, str] | PriceContext | None) -> bool:
        """The price for ``context`` depends on the request time (conditional prices or variants)."""
        return isinstance(self._plans, ModelPlans) and self._plans.time_dependent(context)

    def __repr__(self) -> str:
        return f"ModelPrice({self.provider!r}, {self.model!r} -> {self.model_ref!r}, source={self.source!r})"


# ---- state -----------------------------------------------------------------------------------

_lock = threading.Lock()
_resolved: dict[tuple[str, str, str | None], ModelPrice | None] = {}
_unpriced: Counter[tuple[str, str]] = Counter()
_overrides: Overrides | None = None
_overrides_error: PricingError | None = None
_overrides_loaded = False
_version = TABLE_VERSION
_MAX_RESOLVED = 20_000
# (provider, model, api url, usage, context) -> Cost of priced, time-independent calls: identical
# calls (the same prompt template answered at the same length) are frequent, and a hit skips the
# Decimal work.
_costs: dict[tuple[str, str, str | None, Usage, PriceContext], Cost] = {}
_MAX_COSTS = 4096
_generation = 0  # bumped whenever the overrides change, so a lookup racing the change is not kept
_cost_mode: str | None = None


def genai_provider_id(provider: str | None, api_url: str | None = None) -> str | None:
    """The genai-prices provider id for a semconv provider name (None: match by model name).

    With ``api_url``, the provider whose API URL pattern matches it wins (an ``openai`` client
    pointed at DeepSeek is priced as DeepSeek); an unknown URL (local server) leaves the name's.
    """
    if api_url:
        by_url = _catalogue.pricing_provider_for_url(api_url)
        if by_url is not None:
            return by_url
    return _catalogue.pricing_provider_id(provider)


def _find_model(provider: str | None, model: str, api_url: str | None = None
                ) -> tuple[gp_types.Provider, gp_types.ModelInfo] | None:
    provider_id = genai_provider_id(provider, api_url)
    snapshot = data_snapshot.get_snapshot()
    try:
        return snapshot.find_provider_model(model, None, provider_id, None)
    except LookupError:
        pass
    # a namespaced name (openrouter/..., Bedrock, Fireworks, Vertex "@" versions): the catalogue's
    # canonical name and provider. A fine-tune genai-prices does not price itself stays unpriced:
    # fine-tuned inference costs more than the base model (an overrides alias can set its price).
    info = _catalogue.lookup(model, provider=provider or None, base_url=api_url)
    if info is None or info.fine_tune or (info.model == model and info.pricing_provider == provider_id):
        return None
    try:
        return snapshot.find_provider_model(info.model, None, info.pricing_provider, None)
    except LookupError:
        return None


def _alias_known(provider: str | None, model: str) -> bool:
    return _find_model(provider, model) is not None


def load_overrides(path: str | Path) -> Overrides:
    """Read and validate an overrides file; raises PricingError naming the bad entry."""
    return read_overrides(path, _alias_known)


def use_overrides(overrides: Overrides | None) -> None:
    """Make ``overrides`` the active overrides (None: none), replacing what the setting gave."""
    global _overrides, _overrides_error, _overrides_loaded, _version, _generation
    with _lock:
        _generation += 1
        _overrides = overrides
        _overrides_error = None
        _overrides_loaded = True
        _version = TABLE_VERSION + (f"+overrides-{overrides.sha8}" if overrides is not None else "")
        _resolved.clear()
        _costs.clear()


def reset() -> None:
    """Forget resolved prices, unpriced counts and overrides; the settings are read again next time."""
    global _overrides, _overrides_error, _overrides_loaded, _version, _generation, _cost_mode
    with _lock:
        _cost_mode = None
        _generation += 1
        _overrides = None
        _overrides_error = None
        _overrides_loaded = False
        _version = TABLE_VERSION
        _resolved.clear()
        _costs.clear()
        _unpriced.clear()


def _ensure_overrides() -> None:
    global _overrides_error, _overrides_loaded
    if _overrides_loaded:
        if _overrides_error is not None:
            raise _overrides_error
        return
    path = settings.get("price_overrides")
    if not path:
        use_overrides(None)
        return
    try:
        overrides = load_overrides(path)
    except PricingError as exc:
        with _lock:
            _overrides_error = exc
            _overrides_loaded = True
        raise
    use_overrides(overrides)


def active_overrides() -> Overrides | None:
    """The overrides in use (loading the configured file on first use)."""
    _ensure_overrides()
    return _overrides


def price_version() -> str:
    """The price table version: ``genai-prices-X.Y.Z`` plus ``+overrides-<sha8>`` when overrides apply."""
    _ensure_overrides()
    return _version


# ---- resolution ------------------------------------------------------------------------------

def _explicit_plan(entry: OverrideEntry) -> PricePlan:
    assert entry.prices is not None
    return PricePlan(gp_types.ModelPrice(**entry.prices))


def _provider_names(provider: str) -> frozenset[str]:
    names = {provider.strip().lower()}
    provider_id = genai_provider_id(provider)
    if provider_id is not None:
        names.add(provider_id)
    return frozenset(names)


def _resolve_uncached(provider: str, model: str, overrides: Overrides | None,
                      api_url: str | None = None) -> ModelPrice | None:
    names = _provider_names(provider)
    base = overrides.base_entry(names, model) if overrides is not None else None
    discount, discount_entry = overrides.discount(names, model) if overrides is not None else (None, None)
    try:
        if base is not None and base.prices is not None:
            own = base.discount if base.discount is not None else None
            return ModelPrice(provider, model, model, SOURCE_OVERRIDE, _explicit_plan(base), own)
        if base is not None and base.alias is not None:
            found = _find_model(base.alias_provider or base.provider or provider, base.alias)
            source = SOURCE_OVERRIDE
        else:
            found = _find_model(provider, model, api_url)
            source = SOURCE_OVERRIDE if discount_entry is not None else SOURCE_GENAI_PRICES
        if found is None:
            return None
        found_provider, info = found
        own_model = any(info is candidate for candidate in found_provider.models)
        return ModelPrice(provider, model, info.id, source, ModelPlans(info, variants=own_model), discount,
                          info.context_window, info.name)
    except (ValueError, TypeError) as exc:  # a price table entry genai-prices itself cannot use
        log.warning("tokenproof: price of %s/%s unusable (%s); treating as unpriced", provider, model, exc)
        return None


def resolve(provider: str, model: str, api_url: str | None = None) -> ModelPrice | None:
    """The price for (provider, model[, api url]), or None when unknown; cached per key."""
    key = (provider, model, api_url)
    try:
        return _resolved[key]
    except KeyError:
        pass
    _ensure_overrides()
    generation = _generation
    result = _resolve_uncached(provider or "", model, _overrides, api_url)
    with _lock:
        if generation != _generation:
            return result
        if len(_resolved) >= _MAX_RESOLVED:  # model names come from callers: keep memory bounded
            _resolved.clear()
        _resolved[key] = result
    return result


def price(provider: str, model: str, usage: Usage, *, when: datetime | None = None,
          api_url: str | None = None, service_tier: str | None = None, batch: bool = False,
          context: PriceContext | None = None) -> Cost:
    """The cost of one call; unpriced (usd=None) for an unknown model or unusable usage.

    ``api_url`` is the client's base URL; ``service_tier`` (the tier the provider reported, else the
    one requested) and ``batch`` (Batch API traffic) select genai-prices' price variants, as does an
    explicit ``context`` (see :func:`price_context`).
    """
    if context is None:
        context = price_context(service_tier, batch=batch) if (service_tier or batch) else NO_CONTEXT
    key = (provider, model, api_url)
    resolved = _resolved[key] if key in _resolved else resolve(provider, model, api_url)
    if resolved is not None:
        try:
            total = resolved.total(usage, when, dict(context) if context else None)
        except (InvalidUsage, TypeError) as exc:
            log.warning("tokenproof: cannot price %s/%s: %s", provider, model, exc)
        else:
            return Cost(float(total), semconv.COST_PRICED, _version, resolved.source, resolved.model_ref)
    with _lock:
        _unpriced[(provider, model)] += 1
    return Cost(None, semconv.COST_UNPRICED, _version, "", None)


def price_counts(provider: str, model: str, usage: Usage, api_url: str | None = None,
                 context: PriceContext = NO_CONTEXT) -> Cost:
    """``price()`` of a call made now: the instrumentation's hot path.

    The Cost of a priced call whose price does not depend on the request time is cached per
    (provider, model, api url, usage, context), so a repeated call costs one dict lookup.
    Unpriced calls are never cached (each one is counted).
    """
    key = (provider, model, api_url, usage, context)
    hit = _costs.get(key)
    if hit is not None:
        return hit
    generation = _generation
    cost = price(provider, model, usage, api_url=api_url, context=context)
    if cost.usd is not None:
        resolved = _resolved.get((provider, model, api_url))
        if resolved is not None and not resolved.time_dependent(context):
            with _lock:
                if generation == _generation:
                    if len(_costs) >= _MAX_COSTS:
                        _costs.clear()
                    _costs[key] = cost
    return cost


def provider_cost(usd: float) -> Cost:
    """The Cost of a call whose provider reported what it charged (e.g. OpenRouter ``usage.cost``).

    It needs no price table, so a broken overrides file does not leave it unpriced."""
    return Cost(usd, semconv.COST_PRICED, _version, SOURCE_PROVIDER, None)


def cost_attribute_mode() -> str:
    """The ``cost_attributes`` setting (read once; again after :func:`reset`)."""
    global _cost_mode
    mode = _cost_mode
    if mode is None:
        mode = _cost_mode = settings.get("cost_attributes")
    return mode


def unpriced_counts() -> dict[tuple[str, str], int]:
    """How many price lookups found no price, per (provider, model), since start (or reset)."""
    with _lock:
        return dict(_unpriced)


# ---- catalogue -------------------------------------------------------------------------------

def _entry(provider: str, resolved: ModelPrice, provider_id: str) -> CatalogueEntry:
    rates = resolved.rates()
    return CatalogueEntry(
        provider=provider,
        model=resolved.model,
        name=resolved.name,
        input_mtok=rates.get("input_mtok"),
        output_mtok=rates.get("output_mtok"),
        cache_read_mtok=rates.get("cache_read_mtok"),
        cache_write_mtok=rates.get("cache_write_mtok"),
        tiered=resolved.tiered,
        context_window=resolved.context_window,
        price_source=resolved.source,
        price_provider_id=provider_id,
    )


def catalogue(providers: Iterable[str] | None = None) -> list[CatalogueEntry]:
    """Every model priced for ``providers`` (all genai-prices providers when None), current prices."""
    _ensure_overrides()
    snapshot = data_snapshot.get_snapshot()
    if providers is None:
        wanted = [(p.id, p.id) for p in snapshot.providers]
    else:
        wanted = []
        for name in providers:
            provider_id = genai_provider_id(name)
            if provider_id is None:
                raise PricingError(f"unknown provider {name!r}")
            wanted.append((name, provider_id))
    entries: list[CatalogueEntry] = []
    by_id = {p.id: p for p in snapshot.providers}
    for name, provider_id in wanted:
        for info in by_id[provider_id].models:
            resolved = resolve(name, info.id)
            if resolved is not None and resolved.model_ref == info.id:
                entries.append(_entry(name, resolved, provider_id))
        if _overrides is not None:
            for entry in _overrides.entries:
                if entry.prices is not None and entry.model is not None and (
                        entry.provider is None or entry.provider in _provider_names(name)):
                    resolved = resolve(name, entry.model)
                    if resolved is not None:
                        entries.append(_entry(name, resolved, SOURCE_OVERRIDE))
    return entries
