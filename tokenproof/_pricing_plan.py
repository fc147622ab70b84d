"""Compiled price plans: genai-prices' arithmetic, done fast for one resolved model.

genai-prices' ``calc_price`` matches the model, walks its unit registry and validates the price
set on every call (about 200 us). A :class:`PricePlan` does that work once for one genai-prices
``ModelPrice`` and keeps only what a call needs: the priced units in the order genai-prices sums
them, how to derive each unit's "leaf" count from our usage (a unit's own count minus the counts of
its more specific priced units, e.g. plain input = input - cache reads - cache writes), and the
tier thresholds. The per-call arithmetic is the same ``Decimal`` arithmetic in the same order, so
results agree with ``calc_price`` exactly.

Our :class:`~tokenproof.pricing.Usage` fields map onto genai-prices usage keys with the same
meaning: ``input_tokens`` includes cached tokens in both, ``output_tokens`` includes reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

from genai_prices import types as gp_types
from genai_prices.units import _get_registry  # the bundled unit registry (same one calc_price uses)
from genai_prices.validation import validate_priced_units

__all__ = ["USAGE_KEYS", "InvalidUsage", "ModelPlans", "PricePlan"]

# genai-prices usage key -> index into the usage tuple (input, output, cache_read, cache_write, reasoning)
USAGE_KEYS: dict[str, int] = {
    "input_tokens": 0,
    "output_tokens": 1,
    "cache_read_tokens": 2,
    "cache_write_tokens": 3,
    "output_reasoning_tokens": 4,
}
_REQUESTS = "requests"
_ZERO = Decimal(0)
# Decimal's default context, fixed here so an application changing its thread's decimal context
# (precision, traps) cannot change our costs; calc_price runs under the default one.
_CTX = Context()
_mul, _div, _add = _CTX.multiply, _CTX.divide, _CTX.add


class InvalidUsage(ValueError):
    """Usage that cannot be priced (e.g. more cached tokens than input tokens)."""


@dataclass(frozen=True)
class _Term:
    """One priced unit: its count source, price (flat or tiered) and divisor."""

    usage_key: str
    source: int  # index into the usage tuple, -1 = always 0, -2 = one request
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
        source = -2 if unit.usage_key == _REQUESTS else USAGE_KEYS.get(unit.usage_key, -1)
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

    def total(self, usage: tuple[int, int, int, int, int]) -> Decimal:
        """Total USD for ``usage`` (input, output, cache_read, cache_write, reasoning) as Decimal."""
        leaves: list[int] = []
        for term in self._leaf_order:
            source = term.source
            value = usage[source] if source >= 0 else 0
            for index in term.descendants:
                value -= leaves[index]
            if value < 0:
                raise InvalidUsage(
                    f"more specific token counts exceed {term.usage_key} "
                    f"(input={usage[0]}, output={usage[1]}, cache_read={usage[2]}, "
                    f"cache_write={usage[3]}, reasoning={usage[4]})"
                )
            leaves.append(value)
        total_input = usage[0]
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
    """A genai-prices model's price plans, one per (date/time-conditional) price set."""

    __slots__ = ("_conditional", "_single", "model")

    def __init__(self, model: gp_types.ModelInfo) -> None:
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

    @property
    def conditional(self) -> bool:
        return self._single is None

    def plan(self, when: datetime | None) -> PricePlan:
        if self._single is not None:
            return self._single
        timestamp = when or datetime.now(tz=UTC)
        for constraint, plan in reversed(self._conditional):
            if constraint is None or constraint.active(timestamp):
                return plan
        return self._conditional[0][1]
