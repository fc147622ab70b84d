"""Weeks of backdated LLM traffic for the demo, sent through the real OTLP exporter to the service.

The demo's live run lasts a minute, which gives the charts and the seasonal anomaly detector nothing
to work with. This module takes the request groups the live run produced (feature, provider, model,
prompt fingerprint, token sizes, read back through the service API) and replays their *shape* over
the past weeks: a daily and weekly rhythm, tiers and customers, prices from genai-prices at list
price, and one injected spend anomaly in the last hours. The spans are built with the OpenTelemetry
SDK, carry the same attributes the instrumentation writes, and travel the same OTLP/HTTP path to the
service; they are marked ``tokenproof.devkit.synthetic = true`` so nobody mistakes them for
recorded traffic.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from tokenproof import pricing, semconv

__all__ = ["Anomaly", "Group", "Summary", "backfill", "groups_from_calls"]

SYNTHETIC = "tokenproof.devkit.synthetic"
SCOPE = "tokenproof.devkit.history"
HOUR_NS = 3600 * 1_000_000_000


@dataclass(frozen=True)
class Group:
    """One request group's shape: who calls which model with how many tokens, how often."""

    feature: str
    provider: str
    model: str
    operation: str
    fingerprint: str
    input_tokens: float  # mean per call
    output_tokens: float
    calls_per_hour: float  # at the daily peak on a weekday
    tiers: dict[str, list[str]] = field(default_factory=dict)  # tier -> customers


@dataclass(frozen=True)
class Anomaly:
    """Extra spend in the last hours: `factor` times the usual calls, each `output_factor` longer."""

    feature: str
    hours: int = 3
    factor: float = 4.0
    output_factor: float = 3.0


@dataclass
class Summary:
    spans: int = 0
    usd: float = 0.0
    unpriced: int = 0
    by_feature: dict[str, float] = field(default_factory=dict)


DEFAULT_RATES = {"math-tutor": 60.0, "marketing-quiz": 40.0, "writing-assistant": 40.0, "doc-search": 50.0}
DEFAULT_TIERS = {"pro": ["acme", "globex", "initech"], "free": ["u-1001", "u-1002", "u-1003", "u-1004"]}


def groups_from_calls(calls: Iterable[dict[str, Any]], rates: dict[str, float] | None = None) -> list[Group]:
    """Request groups of the live run (rows of ``/api/v1/calls``), with mean token sizes."""
    rates = rates or DEFAULT_RATES
    acc: dict[tuple[str, str, str, str, str], list[tuple[int, int]]] = {}
    for row in calls:
        if row.get("TrafficClass", "product") != "product" or not row.get("Feature"):
            continue
        key = (row["Feature"], row["Provider"], row["RequestModel"], row["Operation"], row["PromptFingerprint"])
        acc.setdefault(key, []).append((int(row["InputTokens"]), int(row["OutputTokens"])))
    groups = []
    for (feature, provider, model, operation, fp), sizes in sorted(acc.items()):
        groups.append(Group(feature, provider, model, operation, fp,
                            input_tokens=sum(s[0] for s in sizes) / len(sizes),
                            output_tokens=sum(s[1] for s in sizes) / len(sizes),
                            calls_per_hour=rates.get(feature, 20.0), tiers=DEFAULT_TIERS))
    return groups


def _rhythm(hour_utc: int, weekday: int) -> float:
    """Relative traffic: a working-day peak around 14:00 UTC and quieter weekends."""
    phase = (hour_utc - 6) % 24
    daily = 0.25 + 0.75 * math.sin(math.pi * phase / 16) if phase < 16 else 0.2
    return daily * (0.45 if weekday >= 5 else 1.0)


def backfill(endpoint: str, groups: list[Group], *, days: int = 28, seed: int = 7, service: str = "support-app",
             anomaly: Anomaly | None = None, now_ns: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> Summary:
    """Send `days` of hourly traffic for `groups`, ending at the current hour, to the OTLP `endpoint`."""
    rng = random.Random(seed)
    now_ns = now_ns or time.time_ns()
    current_hour = now_ns // HOUR_NS
    first_hour = current_hour - days * 24
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces"),
                                   max_queue_size=65536, max_export_batch_size=2048, schedule_delay_millis=200)
    provider.add_span_processor(processor)
    tracer = provider.get_tracer(SCOPE)
    summary = Summary()
    total_hours = current_hour - first_hour
    try:
        for index, hour in enumerate(range(first_hour, current_hour)):
            seconds = hour * 3600
            tm = time.gmtime(seconds)
            weight = _rhythm(tm.tm_hour, tm.tm_wday)
            for group in groups:
                expected = group.calls_per_hour * weight
                out_scale = 1.0
                if anomaly and group.feature == anomaly.feature and hour >= current_hour - anomaly.hours:
                    expected *= anomaly.factor
                    out_scale = anomaly.output_factor
                for _ in range(_poisson(rng, expected)):
                    _emit(tracer, rng, group, hour * HOUR_NS + rng.randrange(HOUR_NS), out_scale, summary)
            if progress is not None:
                progress(index + 1, total_hours)
    finally:
        provider.force_flush(timeout_millis=120_000)
        provider.shutdown()
    return summary


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:  # normal approximation, fine for traffic counts
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def _emit(tracer: Any, rng: random.Random, group: Group, start_ns: int, out_scale: float, summary: Summary) -> None:
    tier = rng.choice(sorted(group.tiers)) if group.tiers else ""
    customer = rng.choice(group.tiers[tier]) if tier else ""
    input_tokens = max(1, round(rng.lognormvariate(math.log(max(group.input_tokens, 1.0)), 0.25)))
    output_tokens = 0
    if group.operation != semconv.OPERATION_EMBEDDINGS:
        output_tokens = max(1, round(rng.lognormvariate(math.log(max(group.output_tokens, 1.0)), 0.35) * out_scale))
    cost = pricing.price(group.provider, group.model, pricing.Usage(input_tokens, output_tokens))
    duration_ns = int((0.25 + output_tokens / 60.0) * 1e9 * rng.uniform(0.7, 1.3))
    attributes: dict[str, Any] = {
        semconv.GEN_AI_OPERATION_NAME: group.operation,
        semconv.GEN_AI_PROVIDER_NAME: group.provider,
        semconv.GEN_AI_REQUEST_MODEL: group.model,
        semconv.GEN_AI_RESPONSE_MODEL: group.model,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        semconv.TP_USAGE_SOURCE: semconv.USAGE_PROVIDER,
        semconv.TP_COST_STATUS: cost.status,
        semconv.TP_PRICE_VERSION: cost.price_version,
        semconv.TP_FEATURE: group.feature,
        semconv.TP_PROMPT_FINGERPRINT: group.fingerprint,
        semconv.TP_OUTPUT_FORMAT: semconv.OUTPUT_TEXT,
        SYNTHETIC: True,
    }
    if tier:
        attributes[semconv.TP_TIER] = tier
        attributes[semconv.TP_CUSTOMER] = customer
    if cost.usd is not None:
        attributes[semconv.GEN_AI_USAGE_COST] = cost.usd
        attributes[semconv.TP_COST_CURRENCY] = "USD"
        attributes[semconv.TP_PRICE_SOURCE] = cost.price_source
        summary.usd += cost.usd
        summary.by_feature[group.feature] = summary.by_feature.get(group.feature, 0.0) + cost.usd
    else:
        summary.unpriced += 1
    span = tracer.start_span(f"{group.operation} {group.model}", kind=SpanKind.CLIENT, start_time=start_ns,
                             attributes=attributes)
    span.end(end_time=start_ns + duration_ns)
    summary.spans += 1
