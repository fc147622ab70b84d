"""One LLM call in flight: its span, what we learned about it, and how it is finished.

:class:`Call` is created by the wrappers before the SDK call, fed by the adapter (response or
stream chunks) and finished exactly once: usage (provider-reported or estimated), cost, tags,
fingerprint, content and metrics land on the span, which then ends. When another GenAI
instrumentation's span is the current span (it wrapped the same method outside us), the call
*enriches that span* instead of starting a second one, so no call is ever counted twice.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from tokenproof import semconv
from tokenproof._tags import current_tags
from tokenproof.usage import Usage

from . import _content
from ._adapter import Adapter
from ._estimate import count_text
from ._safety import internal_error
from ._sdk import FOREIGN_INSTRUMENTATIONS

__all__ = ["Call", "foreign_genai_span", "span_context"]

_CLIENT = SpanKind.CLIENT
_pricing: Any = None


def _pricing_module() -> Any:
    global _pricing
    if _pricing is None:
        from tokenproof import pricing

        _pricing = pricing
    return _pricing


def span_context(span: Any) -> Any:
    """Context with our span current (HTTP client spans nest under it)."""
    return trace.set_span_in_context(span)


def foreign_genai_span() -> Any:
    """The current span when it is another GenAI instrumentation's LLM span, else None."""
    span = trace.get_current_span()
    if not span.is_recording():
        return None
    scope = getattr(span, "instrumentation_scope", None)
    name = getattr(scope, "name", "") or ""
    if name.startswith(FOREIGN_INSTRUMENTATIONS):
        return span
    return None


class Call:
    """State of one instrumented call from request to the end of its span."""

    __slots__ = (
        "adapter",
        "api_url",
        "capture",
        "closed_early",
        "content",
        "context",
        "cost_usd",
        "done",
        "error_type",
        "finish_reasons",
        "foreign",
        "hide_usage",
        "kwargs",
        "output_format",
        "provider",
        "provider_cost",
        "request_model",
        "response",
        "response_id",
        "response_model",
        "response_service_tier",
        "runtime",
        "server",
        "service_tier",
        "span",
        "start",
        "streaming",
        "tags",
        "text_parts",
        "usage",
        "usage_source",
    )

    def __init__(self, runtime: Any, adapter: Adapter, kwargs: dict[str, Any], client: Any, raw: bool = False,
                 known: Any = None, route_attrs: dict[str, Any] | None = None) -> None:
        """``known``: (tags, fingerprint) already computed by the router; ``route_attrs``: the route
        applied to this attempt (docs/routing.md)."""
        self.runtime = runtime
        self.adapter = adapter
        self.start = time.perf_counter()
        self.usage: Usage | None = None
        self.usage_source = semconv.USAGE_PROVIDER
        self.response_model: str | None = None
        self.response_id: str | None = None
        self.finish_reasons: list[str] = []
        self.output_format: str | None = None
        self.text_parts: list[str] = []
        self.response: Any = None
        self.cost_usd: float | None = None
        self.error_type: str | None = None
        self.done = False
        self.closed_early = False
        self.hide_usage = False
        self.context: Any = None
        self.provider_cost: float | None = None  # what the provider says it charged (OpenRouter)
        self.response_service_tier: str | None = None  # the OpenAI service tier that served the call

        self.provider = provider = adapter.provider_for(client)
        attrs: dict[str, Any] = {
            semconv.GEN_AI_OPERATION_NAME: adapter.operation,
            semconv.GEN_AI_PROVIDER_NAME: provider,
        }
        adapter.prepare_client(client)
        if route_attrs:
            attrs.update(route_attrs)
        model = adapter.request_attributes(kwargs, attrs)
        self.request_model = model
        host, port, self.api_url, host_provider = adapter.server(client)
        self.server = host, port  # (for the metrics' attributes)
        if host_provider is not None and provider == adapter.provider and host_provider != provider:
            # an SDK client pointed at another service's OpenAI-compatible endpoint
            self.provider = provider = host_provider
            attrs[semconv.GEN_AI_PROVIDER_NAME] = provider
        self.service_tier: str | None = attrs.get(semconv.OPENAI_REQUEST_SERVICE_TIER)
        if host is not None:
            attrs[semconv.SERVER_ADDRESS] = host
        if port is not None:
            attrs[semconv.SERVER_PORT] = port
        self.streaming = adapter.is_streaming(kwargs)
        if self.streaming:
            attrs[semconv.GEN_AI_REQUEST_STREAM] = True
            if not raw:  # a stream inside a raw-response wrapper may be read as bytes, past us:
                # never ask it for a usage chunk the app could then see
                kwargs, self.hide_usage = adapter.prepare_stream(kwargs, runtime)
        self.kwargs = kwargs
        self.output_format = adapter.output_format(kwargs)

        span_attrs = attrs
        if known is None:
            tags, fingerprint = current_tags(), adapter.fingerprint(kwargs)
        else:  # the router computed both on the request as the app wrote it
            tags, fingerprint = known
        self.tags = tags
        if tags.feature:
            span_attrs[semconv.TP_FEATURE] = tags.feature
        if tags.tier:
            span_attrs[semconv.TP_TIER] = tags.tier
        if tags.customer:
            span_attrs[semconv.TP_CUSTOMER] = tags.customer
        if tags.traffic_class:
            span_attrs[semconv.TP_TRAFFIC_CLASS] = tags.traffic_class
        if fingerprint:
            span_attrs[semconv.TP_PROMPT_FINGERPRINT] = fingerprint
        self.capture = runtime.capture
        self.content: dict[str, Any] | None = None  # captured content bound for the event
        if self.capture or runtime.capture_event:
            content: dict[str, Any] = {}
            _content.capture_request(adapter, kwargs, content)
            if self.capture:
                span_attrs.update(content)
            if runtime.capture_event:
                self.content = content

        name = f"{adapter.operation} {model}" if model else adapter.operation
        foreign = foreign_genai_span()
        self.foreign = foreign is not None
        if foreign is not None:
            self.span = foreign
            foreign.update_name(name)
            foreign.set_attributes(span_attrs)
        else:
            self.span = runtime.tracer.start_span(name, kind=_CLIENT, attributes=span_attrs)
            self.context = span_context(self.span)

    # --- results -------------------------------------------------------------------------------
    def finish_response(self, response: Any) -> None:
        """A non-streamed call returned ``response``."""
        try:
            self.response = response
            self.adapter.read_response(self, response)
        except Exception as exc:
            self._end()
            internal_error("read_response", exc)
            return
        self._end()

    def fail(self, exc: BaseException) -> None:
        """The SDK call (or reading its stream) raised ``exc``; it is re-raised by the caller."""
        if self.done:
            return
        try:
            self.error_type = type(exc).__qualname__
            span = self.span
            span.set_attribute(semconv.ERROR_TYPE, self.error_type)
            span.set_status(Status(StatusCode.ERROR, str(exc)[:500] or self.error_type))
            if not self.foreign:
                span.record_exception(exc)
        except Exception as inner:
            self._end()
            internal_error("fail", inner)
            return
        self._end()

    def close_early(self) -> None:
        """The app stopped reading the stream before its end (close(), context exit, garbage)."""
        if not self.done:
            self.closed_early = True
            self._end()

    # --- finishing -----------------------------------------------------------------------------
    def _end(self) -> None:
        if self.done:
            return
        self.done = True
        span = self.span
        try:
            self._complete(span)
        except Exception as exc:
            if not self.foreign:
                span.end()
            internal_error("finish", exc)
            return
        if not self.foreign:
            span.end()

    def _complete(self, span: Any) -> None:
        attrs: dict[str, Any] = {}
        if self.response_model:
            attrs[semconv.GEN_AI_RESPONSE_MODEL] = self.response_model
        if self.response_id:
            attrs[semconv.GEN_AI_RESPONSE_ID] = self.response_id
        if self.finish_reasons:
            attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(self.finish_reasons)
        if self.output_format:
            attrs[semconv.TP_OUTPUT_FORMAT] = self.output_format
        if self.closed_early:
            attrs[semconv.TP_STREAM_CLOSED_EARLY] = True
        if self.response_service_tier:
            attrs[semconv.OPENAI_RESPONSE_SERVICE_TIER] = self.response_service_tier
            self.service_tier = self.response_service_tier
        if self.usage is None and (self.error_type is None or self.text_parts):
            self._estimate()
        usage = self.usage
        if usage is not None:
            attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
            if self.adapter.operation != semconv.OPERATION_EMBEDDINGS:
                attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
            if usage.cache_read_tokens:
                attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
            if usage.cache_creation_tokens:
                attrs[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_creation_tokens
            if usage.reasoning_tokens:
                attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
            for name in semconv.USAGE_EXTRA_FIELDS:
                extra = getattr(usage, name)
                if extra:
                    attrs[semconv.TP_USAGE_EXTRA_PREFIX + name] = extra
            attrs[semconv.TP_USAGE_SOURCE] = self.usage_source
            self._price(attrs, usage)
        content = self.content
        if (self.capture or content is not None) and self.error_type is None:
            output: dict[str, Any] = {}
            _content.capture_response(self, output)
            if self.capture:
                attrs.update(output)
            if content is not None:
                content.update(output)
        span.set_attributes(attrs)
        if content is not None:
            _content.emit_event(self, {**(getattr(span, "attributes", None) or {}), **attrs}, content)
        self.runtime.instruments.record(self, time.perf_counter() - self.start, self.foreign)

    def _estimate(self) -> None:
        """Count tokens locally when the provider reported no usage (marked estimated)."""
        model = self.response_model or self.request_model or ""
        input_tokens = self.adapter.estimate_input_tokens(self.kwargs, model)
        if not self.text_parts and self.response is not None:
            text = self.adapter.response_text(self.response)
            if text:
                self.text_parts.append(text)
        output_tokens = count_text(model, "".join(self.text_parts)) if self.text_parts else 0
        self.usage = Usage(input_tokens, output_tokens)
        self.usage_source = semconv.USAGE_ESTIMATED

    def _price(self, attrs: dict[str, Any], usage: Usage) -> None:
        pricing = _pricing_module()
        model = self.response_model or self.request_model or ""
        source = semconv.COST_SOURCE_LOCAL
        try:
            if self.provider_cost is not None:
                cost = pricing.provider_cost(self.provider_cost)
                source = semconv.COST_SOURCE_PROVIDER
            else:
                tier = self.service_tier
                context = pricing.price_context(tier) if tier else ()
                cost = pricing.price_counts(self.provider, model, usage, self.api_url, context)
            mode = pricing.cost_attribute_mode()
        except Exception as exc:  # e.g. a broken overrides file: unpriced (never $0), tokens still recorded
            attrs[semconv.TP_COST_STATUS] = semconv.COST_UNPRICED
            internal_error("pricing", exc)
            return
        if cost.status == semconv.COST_PRICED and cost.usd is not None:
            self.cost_usd = cost.usd
            if mode != "proposed":
                attrs[semconv.GEN_AI_USAGE_COST] = cost.usd
            if mode != "legacy":
                attrs[semconv.GEN_AI_USAGE_COST_AMOUNT] = cost.usd
                attrs[semconv.GEN_AI_USAGE_COST_CURRENCY] = "USD"
                attrs[semconv.GEN_AI_USAGE_COST_SOURCE] = source
            attrs[semconv.TP_COST_CURRENCY] = "USD"
            attrs[semconv.TP_COST_STATUS] = semconv.COST_PRICED
            attrs[semconv.TP_COST_SOURCE] = source
        else:
            attrs[semconv.TP_COST_STATUS] = semconv.COST_UNPRICED
        if cost.price_version:
            attrs[semconv.TP_PRICE_VERSION] = cost.price_version
        if cost.price_source:
            attrs[semconv.TP_PRICE_SOURCE] = cost.price_source
