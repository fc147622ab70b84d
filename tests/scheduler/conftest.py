"""Fixtures for scheduler tests: one real embedded chDB store per module, the replay provider, traffic.

Two features' product traffic is inserted as the exporter writes it, content captured: marketing-quiz
(MMLU marketing questions, where gpt-4o-mini's recorded answers match gpt-4o's) and math-tutor (GSM8K,
where they do not). The judge (claude-opus-4-1, a third family) answers through the provider's judge
mode, which follows the recorded correctness labels.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tokenproof import semconv
from tokenproof.collector.testing import insert_spans, open_test_store
from tokenproof_devkit.provider.corpus import GPT4, get_corpus
from tokenproof_devkit.provider.testing import run_provider

TOKEN = "test-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASELINE, CANDIDATE, JUDGE = "gpt-4o", "gpt-4o-mini", "claude-opus-4-1"
FEATURES = {"marketing-quiz": "mmlu:marketing", "math-tutor": "gsm8k"}
_TABLES = ("otel_traces", "otel_traces_trace_id_ts", "llm_calls", "llm_calls_hourly", "proof_routes",
           "proof_comparisons", "scheduler_control", "scheduler_groups", "scheduler_events", "routing_routes",
           "routing_audit")


@pytest.fixture(scope="module")
def module_store(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENPROOF_STORE_FSYNC", "false")
        store = open_test_store(tmp_path_factory.mktemp("scheduler-chdb"))
        try:
            yield store
        finally:
            store.close()


@pytest.fixture()
def store(module_store):
    for table in _TABLES:
        module_store.command(f"TRUNCATE TABLE {table}")
    return module_store


@pytest.fixture(scope="module")
def provider():
    with run_provider() as handle:
        yield handle


def point_at(monkeypatch, provider) -> None:
    """The service's provider endpoints (configuration, never request fields)."""
    monkeypatch.setenv("TOKENPROOF_PROOF_BASE_URL", provider.base_url_openai)
    monkeypatch.setenv("TOKENPROOF_PROOF_ANTHROPIC_BASE_URL", provider.base_url_anthropic)


@pytest.fixture()
def endpoints(monkeypatch, provider):
    point_at(monkeypatch, provider)
    return provider


def _span(record, feature: str, when: dt.datetime) -> dict:
    prompt = record.prompt
    attrs = {
        semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.GEN_AI_REQUEST_MODEL: BASELINE, semconv.GEN_AI_RESPONSE_MODEL: BASELINE,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 300, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 120,
        semconv.GEN_AI_USAGE_COST: 0.00195, semconv.TP_COST_STATUS: semconv.COST_PRICED,
        semconv.TP_FEATURE: feature, semconv.TP_PROMPT_FINGERPRINT: f"fp-{feature}",
        semconv.TP_OUTPUT_FORMAT: "text",
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps([{"type": "text", "content": "Answer the question."}]),
        semconv.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "parts": [{"type": "text", "content": prompt}]}]),
        semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "finish_reason": "stop",
                                                     "parts": [{"type": "text", "content": record.answers[GPT4]}]}]),
        semconv.TP_REQUEST_PARAMS: json.dumps({"temperature": 0, "max_tokens": 400}),
    }
    return {"service": "support-app", "timestamp": when, "attributes": attrs, "duration_ms": 800}


def seed_traffic(store, per_feature: int = 200) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    spans = []
    for feature, source in FEATURES.items():
        records = [r for r in get_corpus().records if r.feature == source and GPT4 in r.answers][:per_feature]
        spans += [_span(r, feature, now - dt.timedelta(minutes=10 * i)) for i, r in enumerate(records)]
    insert_spans(store, spans)


def demo_policy(**extra) -> dict:
    """The policy the tests (and the demo) set: both features, one candidate, a third-family judge."""
    return {"features": list(FEATURES), "candidate_models": [CANDIDATE], "judge": JUDGE, "sample_rate": 1.0,
            "batch_size": 400, "budget_route_usd": 20.0, "budget_day_usd": 50.0, "budget_month_usd": 100.0,
            "min_calls_per_day": 1, "rate_limit_rpm": 60000, **extra}
