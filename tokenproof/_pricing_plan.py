"""Compiled price plans: genai-prices' arithmetic, done fast for one resolved model.

genai-prices' ``calc_price`` matches the model, walks its unit registry and validates the price
set on every call (about 200 us). A :class:`PricePlan` does that work once for one genai-prices
``ModelPrice`` and keeps only what a call needs: the priced units in the order genai-prices sums
them, how to derive each unit's "leaf" count from our usage (a unit's own count minus the counts of
its more specific priced units, e.g. plain input = input - cache reads - cache writes), and the
tier thresholds. The per-call arithmetic is the same ``Decimal`` arithmetic in the same order, so
results agree with ``calc_price`` exactly.

Our :class:`~tokenproof.usage.Usage` fields map onto genai-prices usage keys with the same
meaning (``tokenproof.usage.USAGE_KEYS``): ``input_tokens`` includes cached tokens in both,
``output_tokens`` includes reasoning. Price variants (service tiers, batch processing) are
genai-prices' ``price_variants`` applied for a request context, as ``ModelInfo.get_prices`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from copy import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

from genai_prices import types as gp_types
from genai_prices.units import _get_registry  # the bundled unit registry (same one calc_price uses)
from genai_prices.validation import validate_priced_units

from tokenproof.usage import USAGE_KEYS, Usage

__all__ = ["NO_CONTEXT", "InvalidUsage", "ModelPlans", "PriceContext", "PricePlan", "price_context"]

# genai-prices usage key -> position of our Usage field (resolved once, when a plan is compiled)
_FIELD_INDEX: dict[str, int] = {key: Usage._fields.index(name) for key, name in USAGE_KEYS.items()}
_REQUESTS = "requests"
_ZERO = Decimal(0)
# Decimal's default context, fixed here so an application changing its thread's decimal context
# (precision, traps) cannot change our costs; calc_price runs under the default one.
_CTX = Context()
_mul, _div, _add = _CTX.multiply, _CTX.divide, _CTX.add


# A price context selects genai-prices price variants: (("service_tier", "flex"),) or
# (("processing", "batch"),). A tuple of pairs, so that it can be part of a cache key.
PriceContext = tuple[tuple[str, str], ...]
NO_CONTEXT: PriceContext = ()
# service tier values that are the standard price (OpenAI "default"/"auto", Anthropic "standard")
_STANDARD_TIERS = frozenset({"", "default", "auto", "standard"})


def price_context(service_tier: str | None = None, *, batch: bool = False) -> PriceContext:
    """The price context of a call: its service tier (as the provider reported it) and batch processing.

    OpenAI ``service_tier`` values ``flex``/``priority``/``scale`` select those variants; a batch
    (OpenAI Batch API, Anthropic Message Batches, or a ``service_tier`` of ``batch``) selects
    ``processing=batch``.
    """
    tier = (service_tier or "").strip().lower()
    pairs: list[tuple[str, str]] = []
    if tier == "batch":
        batch = True
    elif tier not in _STANDARD_TIERS:
        pairs.append(("service_tier", tier))
    if batch:
        pairs.append(("processing", "batch"))
    return tuple(pairs)


class InvalidUsage(ValueError):
    """Usage that cannot be priced (e.g. more cached tokens than input tokens)."""


@dataclass(frozen=True)
class _Term:
    """One priced unit: its count source, price (flat or tiered) and divisor."""

    usage_key: str
    source: int  # position of the Usage field counted, -1 = always 0, -2 = one request
    descendants: tuple[int, ...]  # indexes (into the leaf order) of more specific priced units
    price: Decimal | None  # flat price, or None when tiered
    tiers: tuple[tuple[int, Decimal], ...]  # (start, price), highest start first; base last
    per: int
    direction: str | None


class PricePlan:
    """One genai-prices ``ModelPrice`` compiled for fast repeated pricing."""

    __slots__ = ("_leaf_order", "_sum_order", "_tiered", "model_price", "rates")

    def __init__(self, model_price: gp_types.ModelPrice) -> None:
        registry = _get_registry()
        priced: list[tuple[Any, Decimal | gp_types.TieredPrices]] = []
        for key, value in model_price.__dict__.items():
            if key.startswith("_") or value is None:
                continue
            try:
                unit = registry.unit_for_price_key(key)
            except KeyError:  # calc_price ignores (with a warning) keys it does not know
                continue
            priced.append((unit, value))
        validate_priced_units(tuple(unit for unit, _ in priced), registry)
        self.model_price = model_price

        # Leaf counts are computed most specific unit first (as genai-prices' compute_leaf_values).
        token_units = [unit for unit, _ in priced if unit.usage_key != _REQUESTS]
        leaf_units = sorted(token_units, key=lambda u: (-len(u.dimensions), u.usage_key))
        leaf_index = {unit.usage_key: i for i, unit in enumerate(leaf_units)}
        price_of = {unit.usage_key: value for unit, value in priced}
        terms: list[_Term] = []
        for unit in leaf_units:
            descendants = tuple(
                leaf_index[other.usage_key]
                for other in leaf_units
                if other is not unit and unit.dimensions.items() <= other.dimensions.items()
            )
            terms.append(self._term(unit, price_of[unit.usage_key], descendants))
        self._leaf_order = tuple(terms)
        # The sum runs in the model price's own key order, as in ModelPrice.calc_price.
        sum_order: list[tuple[int, _Term]] = []
        for unit, value in priced:
            if unit.usage_key == _REQUESTS:
                sum_order.append((-1, self._term(unit, value, ())))
            else:
                sum_order.append((leaf_index[unit.usage_key], terms[leaf_index[unit.usage_key]]))
        self._sum_order = tuple(sum_order)
        self._tiered = any(isinstance(value, gp_types.TieredPrices) for _, value in priced)
        # Current per-unit rates (base rate when tiered), keyed by price key, for listings.
        self.rates: dict[str, Decimal] = {
            unit.price_key: (value.base if isinstance(value, gp_types.TieredPrices) else value)
            for unit, value in priced
        }

    @staticmethod
    def _term(unit: Any, value: Decimal | gp_types.TieredPrices, descendants: tuple[int, ...]) -> _Term:
        source = -2 if unit.usage_key == _REQUESTS else _FIELD_INDEX.get(unit.usage_key, -1)
        if isinstance(value, gp_types.TieredPrices):
            tiers = (*tuple((tier.start, tier.price) for tier in reversed(value.tiers)), (-1, value.base))
            price = None
        else:
            tiers = ()
            price = value
        return _Term(unit.usage_key, source, descendants, price, tiers, unit.per,
                     unit.dimensions.get("direction"))

    @property
    def tiered(self) -> bool:
        return self._tiered

    def total(self, usage: Usage) -> Decimal:
        """Total USD for ``usage`` as a Decimal (raises InvalidUsage for inconsistent counts)."""
        leaves: list[int] = []
        for term in self._leaf_order:
            source = term.source
            # the compiled position of the Usage field genai-prices calls term.usage_key
            value = usage[source] if source >= 0 else 0
            for index in term.descendants:
                value -= leaves[index]
            if value < 0:
                raise InvalidUsage(f"more specific counts exceed {term.usage_key} ({usage!r})")
            leaves.append(value)
        total_input = usage.input_tokens
        total = _ZERO
        for index, term in self._sum_order:
            count = leaves[index] if index >= 0 else 1
            if not count:
                continue
            price = term.price
            if price is None:
                for start, tier_price in term.tiers:
                    if total_input > start or start < 0:
                        price = tier_price
                        break
            if price is None:  # a tiered term always has a tier starting at -1 (see _compile)
                raise InvalidUsage(f"no tier of {term.usage_key} applies to {total_input} input tokens")
            total = _add(total, _div(_mul(price, count), term.per))
        return total


class ModelPlans:
    """A genai-prices model's price plans: one per (date/time-conditional) price set, and one per
    set of price variants a request context selects (service tier, batch processing)."""

    __slots__ = ("_conditional", "_single", "_variant_plans", "_variants", "model")

    def __init__(self, model: gp_types.ModelInfo, *, variants: bool = True) -> None:
        self.model = model
        if isinstance(model.prices, gp_types.ModelPrice):
            self._single: PricePlan | None = PricePlan(model.prices)
            self._conditional: tuple[tuple[Any, PricePlan], ...] = ()
        else:
            self._single = None
            # Last active conditional price wins; when none is active, the first one applies.
            self._conditional = tuple(
                (cond.constraint, PricePlan(cond.prices)) for cond in model.prices
            )
        # genai-prices ignores variants when the model was found through a fallback provider
        self._variants: tuple[gp_types.PriceVariant, ...] = tuple(model.price_variants or ()) if variants else ()
        self._variant_plans: dict[tuple[int, tuple[int, ...]], PricePlan] = {}

    @property
    def conditional(self) -> bool:
        return self._single is None

    def time_dependent(self, context: Mapping[str, str] | tuple[tuple[str, str], ...] | None) -> bool:
        """The plan for ``context`` may change with the request time."""
        if self._single is None:
            return True
        return bool(context) and any(v.constraint is not None for v in self._variants)

    def _standard(self, timestamp: datetime) -> tuple[int, PricePlan]:
        for index in range(len(self._conditional) - 1, -1, -1):
            constraint, plan = self._conditional[index]
            if constraint is None or constraint.active(timestamp):
                return index, plan
        return 0, self._conditional[0][1]

    def plan(self, when: datetime | None, context: Mapping[str, str] | None = None) -> PricePlan:
        if self._single is not None and not (context and self._variants):
            return self._single
        timestamp = when or datetime.now(tz=UTC)
        index, plan = (0, self._single) if self._single is not None else self._standard(timestamp)
        if not context or not self._variants:
            return plan
        active = tuple(
            i for i, variant in enumerate(self._variants)
            if (variant.constraint is None or variant.constraint.active(timestamp))
            and all(context.get(key) == value for key, value in variant.when.items())
        )
        if not active:
            return plan
        key = (index, active)
        found = self._variant_plans.get(key)
        if found is None:
            overrides: dict[str, Any] = {}
            for i in active:  # first variant wins per price key, as in ModelInfo.get_prices
                for price_key, price in self._variants[i].prices.__dict__.items():
                    if price is not None:
                        overrides.setdefault(price_key, price)
            resolved = copy(plan.model_price)
            resolved.__dict__.update(overrides)
            found = self._variant_plans[key] = PricePlan(resolved)
        return found
