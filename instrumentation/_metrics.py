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

    __slots__ = ("token_usage", "duration", "cost", "unpriced", "errors")

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
        attrs = call.metric_attributes()
        if not foreign_span:  # the other instrumentation records its own GenAI histograms
            self.duration.record(duration_s, attrs)
            usage = call.usage
            if usage is not None and call.error_type is None:
                input_attrs = dict(attrs)
                input_attrs[semconv.GEN_AI_TOKEN_TYPE] = semconv.TOKEN_TYPE_INPUT
                self.token_usage.record(usage[0], input_attrs)
                if call.adapter.operation != semconv.OPERATION_EMBEDDINGS:
                    output_attrs = dict(attrs)
                    output_attrs[semconv.GEN_AI_TOKEN_TYPE] = semconv.TOKEN_TYPE_OUTPUT
                    self.token_usage.record(usage[1], output_attrs)
        if call.usage is None:
            return
        cost_attrs = call.cost_attributes(attrs)
        if call.cost_usd is not None:
            self.cost.add(call.cost_usd, cost_attrs)
        else:
            self.unpriced.add(1, cost_attrs)
