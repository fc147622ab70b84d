"""Per-span checks at ingest: what one span may carry so that one bad span never costs a batch.

The rules (docs/ingest.md, "Per-span validation"):

- **Timestamps** (span start, span end, event times) must lie inside the range ClickHouse's
  ``DateTime64(9)`` stores, narrowed to what a real span can carry: from 2000-01-01 to 2262-04-11.
  A span outside it is *rejected* (counted in OTLP ``partial_success.rejected_spans``) and the
  rest of the batch is stored.
- **Token counts** (``gen_ai.usage.*_tokens``) must be whole numbers from 0 to ``MAX_TOKENS``; a
  negative, fractional, non-numeric or absurd count rejects the span (its numbers cannot be trusted).
- **Cost** (``gen_ai.usage.cost``) must be a finite number from 0 to ``MAX_COST_USD``. A bad cost is
  *clamped and flagged*: the span is stored, its cost attribute removed, ``tokenproof.cost.status``
  set to ``invalid`` (so ``llm_calls`` counts the call as unpriced, never as $0 or NaN) and the
  original text kept in ``tokenproof.cost.rejected``. The response's ``partial_success`` message
  says so (``rejected_spans`` stays 0: the span is stored).
"""

from __future__ import annotations

import math

from tokenproof import semconv

__all__ = [
    "COST_INVALID",
    "COST_REJECTED_ATTR",
    "MAX_COST_USD",
    "MAX_NS",
    "MAX_TOKENS",
    "MIN_NS",
    "check_cost",
    "check_span",
    "check_times",
    "check_tokens",
]

MIN_NS = 946_684_800 * 1_000_000_000  # 2000-01-01T00:00:00Z
MAX_NS = 9_223_372_036 * 1_000_000_000  # 2262-04-11T23:47:16Z, the end of DateTime64(9)
MAX_TOKENS = 1_000_000_000  # a billion tokens in one call is not a real call
MAX_COST_USD = 100_000.0  # nor is a single call costing more than this

COST_INVALID = "invalid"
COST_REJECTED_ATTR = "tokenproof.cost.rejected"

TOKEN_ATTRS = (
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)
_MAX_TOKEN_DIGITS = len(str(MAX_TOKENS))


def _time_ok(ns: int) -> bool:
    return MIN_NS <= ns <= MAX_NS


def check_times(start: int, end: int, event_times: list[int]) -> str | None:
    """Why the span's times cannot be stored, or None."""
    if not _time_ok(start):
        return f"start_time_unix_nano {start} is outside 2000-01-01..2262-04-11"
    if end and not _time_ok(end):
        return f"end_time_unix_nano {end} is outside 2000-01-01..2262-04-11"
    for ts in event_times:
        if not _time_ok(ts):
            return f"an event's time_unix_nano {ts} is outside 2000-01-01..2262-04-11"
    return None


def check_tokens(attrs: dict[str, str]) -> str | None:
    """Why a token count of the span is impossible, or None (attribute values as rendered text)."""
    for key in TOKEN_ATTRS:
        text = attrs.get(key)
        if text is None:
            continue
        if not (text.isascii() and text.isdigit()) or len(text) > _MAX_TOKEN_DIGITS or int(text) > MAX_TOKENS:
            return f"{key} = {text[:40]!r} is not a whole number from 0 to {MAX_TOKENS}"
    return None


def check_cost(attrs: dict[str, str]) -> str | None:
    """Clamp and flag a bad cost in place; return what was wrong, or None."""
    text = attrs.get(semconv.GEN_AI_USAGE_COST)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and 0.0 <= value <= MAX_COST_USD:
        return None
    del attrs[semconv.GEN_AI_USAGE_COST]
    attrs[COST_REJECTED_ATTR] = text[:64]
    attrs[semconv.TP_COST_STATUS] = COST_INVALID
    return f"{semconv.GEN_AI_USAGE_COST} = {text[:40]!r} is not a cost from 0 to {MAX_COST_USD:g} USD"


def check_span(start: int, end: int, event_times: list[int], attrs: dict[str, str]) -> tuple[str | None, str | None]:
    """(reason to reject the span, note about a clamped value); each None when fine."""
    reason = check_times(start, end, event_times) or check_tokens(attrs)
    if reason is not None:
        return reason, None
    return None, check_cost(attrs)
