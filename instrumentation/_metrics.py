"""The metric instruments tokenproof records per LLM call.

The two GenAI client histograms of the semantic conventions (with the bucket boundaries the spec
fixes) plus our cost, unpriced-calls and instrumentation-errors counters.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import Meter

from tokenproof import semconv

__all__ = ["Instruments"]


class Instruments:
    """Histograms and counters created once per instrumentor from one meter."""

    __slots__ = ("cost", "duration", "errors", "token_usage", "unpriced")

    def __init__(self, meter: Meter) -> None:
        self.token_usage = meter.create_histogram(
            semconv.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=list(semconv.TOKEN_USAGE_BUCKETS),
        )
        self.duration = meter.create_histogram(
            semconv.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=list(semconv.OPERATION_DURATION_BUCKETS),
        )
        self.cost = meter.create_counter(
            semconv.METRIC_COST, unit="USD", description="Cost of priced LLM calls in US dollars."
        )
        self.unpriced = meter.create_counter(
            semconv.METRIC_UNPRICED_CALLS,
            unit="{call}",
            description="LLM calls whose model has no known price (never counted as $0).",
        )
        self.errors = meter.create_counter(
            semconv.METRIC_INSTRUMENTATION_ERRORS,
            unit="{error}",
            description="Internal tokenproof instrumentation errors (the user's call proceeded).",
        )

    def record(self, call: Any, duration_s: float, foreign_span: bool) -> None:
        """Record one finished call (``call`` is a :class:`~._call.Call`)."""
        base, input_attrs, output_attrs, cost_attrs = _attribute_sets(call)
        usage = call.usage
        if not foreign_span:  # the other instrumentation records its own GenAI histograms
            self.duration.record(duration_s, base)
            if usage is not None and call.error_type is None:
                self.token_usage.record(usage.input_tokens, input_attrs)
                if output_attrs is not None:
                    self.token_usage.record(usage.output_tokens, output_attrs)
        if usage is None:
            return
        if call.cost_usd is not None:
            self.cost.add(call.cost_usd, cost_attrs)
        else:
            self.unpriced.add(1, cost_attrs)


_AttrSets = tuple[dict[str, Any], dict[str, Any], "dict[str, Any] | None", dict[str, Any]]
_SETS: dict[tuple[Any, ...], _AttrSets] = {}


def _attribute_sets(call: Any) -> _AttrSets:
    """(duration, input tokens, output tokens, cost) attribute dicts, built once per distinct key."""
    tags = call.tags
    host, port = call.server
    key = (call.adapter, call.provider, call.request_model, call.response_model, host, port, call.error_type,
           tags.feature, tags.tier, tags.traffic_class)
    found = _SETS.get(key)
    if found is not None:
        return found
    adapter, provider, request_model, response_model, host, port, error_type, feature, tier, traffic = key
    base: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: adapter.operation,
        semconv.GEN_AI_PROVIDER_NAME: provider,
    }
    if request_model:
        base[semconv.GEN_AI_REQUEST_MODEL] = request_model
    if response_model:
        base[semconv.GEN_AI_RESPONSE_MODEL] = response_model
    cost = dict(base)
    if host is not None:
        base[semconv.SERVER_ADDRESS] = host
        if port is not None:
            base[semconv.SERVER_PORT] = port
    if error_type is not None:
        base[semconv.ERROR_TYPE] = error_type
    input_attrs = {**base, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_INPUT}
    output_attrs = None
    if adapter.operation != semconv.OPERATION_EMBEDDINGS:
        output_attrs = {**base, semconv.GEN_AI_TOKEN_TYPE: semconv.TOKEN_TYPE_OUTPUT}
    if feature:
        cost[semconv.TP_FEATURE] = feature
    if tier:
        cost[semconv.TP_TIER] = tier
    if traffic:
        cost[semconv.TP_TRAFFIC_CLASS] = traffic
    if len(_SETS) > 4096:
        _SETS.clear()
    built: _AttrSets = (base, input_attrs, output_attrs, cost)
    _SETS[key] = built
    return built
