"""Fixtures for analytics tests: a real embedded chDB store (migrations applied) and span builders.

chDB hosts one engine path per process, so each test module opens its own store and closes it when
the module is done; when another area's fixture still holds the engine open (a different test order),
the module shares that engine's directory instead. ``store`` empties the tables before each test. Data goes in the exporter's way
(``tokenproof.collector.testing.insert_spans``), so the collector's materialized views fill
``llm_calls`` and ``llm_calls_hourly`` exactly as for real traffic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tokenproof import semconv as sc
from tokenproof.collector.testing import open_test_store

_TABLES = ("otel_traces", "otel_traces_trace_id_ts", "llm_calls", "llm_calls_hourly", "analytics_alerts",
           "analytics_budgets", "analytics_webhook_deliveries", "analytics_cost_daily")


@pytest.fixture(scope="module")
def module_store(tmp_path_factory):
    store = open_test_store(tmp_path_factory.mktemp("analytics-chdb"))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture()
def store(module_store):
    for table in _TABLES:
        module_store.command(f"TRUNCATE TABLE {table}")
    return module_store


def llm_span(*, feature: str = "summarize", model: str = "gpt-4o", cost: float | None = 0.01,
             when: datetime | None = None, tier: str = "pro", customer: str = "acme",
             provider: str = "openai", traffic: str | None = None, input_tokens: int = 100,
             output_tokens: int = 20, cache_read: int = 0, trace_id: str | None = None,
             parent: str = "", extra: dict[str, Any] | None = None, operation: str = "chat",
             service: str = "app") -> dict[str, Any]:
    """A GenAI span dict as the instrumentation emits it; ``cost=None`` means unpriced."""
    attrs = {
        sc.GEN_AI_OPERATION_NAME: operation, sc.GEN_AI_PROVIDER_NAME: provider,
        sc.GEN_AI_REQUEST_MODEL: model, sc.GEN_AI_RESPONSE_MODEL: model,
        sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens, sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        sc.TP_FEATURE: feature, sc.TP_TIER: tier, sc.TP_CUSTOMER: customer,
        sc.TP_COST_STATUS: sc.COST_PRICED if cost is not None else sc.COST_UNPRICED,
    }
    if cache_read:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
    if cost is not None:
        attrs[sc.GEN_AI_USAGE_COST] = cost
    if traffic:
        attrs[sc.TP_TRAFFIC_CLASS] = traffic
    attrs.update(extra or {})
    span: dict[str, Any] = {"timestamp": when or datetime.now(UTC), "attributes": attrs,
                            "parent_span_id": parent, "service": service}
    if trace_id:
        span["trace_id"] = trace_id
    return span


@pytest.fixture()
def span():
    """The ``llm_span`` builder (tests import nothing from conftest under importlib mode)."""
    return llm_span
