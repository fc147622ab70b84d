"""Attribution over a real store: numbers checked against the spans inserted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokenproof.analytics import attribution as A
from tokenproof.collector.testing import insert_spans

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)


def _q(by, granularity="total", since=timedelta(days=2), filters=None):
    return A.Query(NOW - since, NOW + timedelta(hours=1), A.parse_dimensions(by), granularity, filters or {})


@pytest.fixture()
def traffic(store, span):
    spans = [
        span(feature="summarize", model="gpt-4o", cost=0.50, when=NOW - timedelta(hours=3), extra={"app.region": "eu"}),
        span(feature="summarize", model="gpt-4o", cost=0.25, when=NOW - timedelta(hours=2), extra={"app.region": "us"}),
        span(feature="summarize", model="gpt-4o-mini", cost=0.01, when=NOW - timedelta(hours=2), tier="free",
             extra={"app.region": "eu"}),
        span(feature="chat", model="gpt-4o", cost=1.00, when=NOW - timedelta(hours=1), customer="globex"),
        span(feature="chat", model="mystery-model", cost=None, when=NOW - timedelta(hours=1), input_tokens=400,
             output_tokens=100),
        # experiment traffic (proof loop): never in product attribution
        span(feature="chat", model="gpt-4o-mini", cost=0.30, when=NOW - timedelta(hours=1), traffic="shadow"),
        span(feature="chat", model="gpt-4o", cost=0.20, when=NOW - timedelta(hours=1), traffic="judge"),
    ]
    insert_spans(store, spans)
    return store


def _by(rows, *dims):
    return {tuple(r[d] for d in dims): r for r in rows}


def test_cost_by_feature_and_model_matches_inserted_spans(traffic):
    result = A.cost(traffic, _q("feature,model"))
    rows = _by(result["rows"], "feature", "model")
    assert result["source"] in {"llm_calls_hourly", "analytics_cost_daily+llm_calls_hourly"}
    assert rows[("summarize", "gpt-4o")]["cost_usd"] == pytest.approx(0.75)
    assert rows[("summarize", "gpt-4o")]["calls"] == 2
    assert rows[("summarize", "gpt-4o")]["cost_per_call"] == pytest.approx(0.375)
    assert rows[("summarize", "gpt-4o")]["cost_per_1k_calls"] == pytest.approx(375.0)
    assert rows[("chat", "gpt-4o")]["cost_usd"] == pytest.approx(1.00)
    # the unpriced call is counted, never shown as $0 per call
    assert rows[("chat", "mystery-model")]["unpriced_calls"] == 1
    assert rows[("chat", "mystery-model")]["cost_per_call"] is None
    assert result["totals"]["calls"] == 5
    assert result["totals"]["cost_usd"] == pytest.approx(1.76)


def test_experiment_cost_is_reported_apart(traffic):
    result = A.cost(traffic, _q("feature"))
    assert _by(result["rows"], "feature")[("chat",)]["cost_usd"] == pytest.approx(1.00)
    exp = _by(result["experiment"]["rows"], "feature", "traffic_class")
    assert exp[("chat", "shadow")]["cost_usd"] == pytest.approx(0.30)
    assert exp[("chat", "judge")]["cost_usd"] == pytest.approx(0.20)
    assert result["experiment"]["totals"]["cost_usd"] == pytest.approx(0.50)


def test_tier_customer_and_filters(traffic):
    rows = _by(A.cost(traffic, _q("tier,customer"))["rows"], "tier", "customer")
    assert rows[("free", "acme")]["cost_usd"] == pytest.approx(0.01)
    assert rows[("pro", "globex")]["cost_usd"] == pytest.approx(1.00)
    filtered = A.cost(traffic, _q("model", filters={"feature": "summarize"}))
    assert {r["model"] for r in filtered["rows"]} == {"gpt-4o", "gpt-4o-mini"}
    assert filtered["totals"]["cost_usd"] == pytest.approx(0.76)


def test_group_by_any_span_attribute_key(traffic):
    result = A.cost(traffic, _q("attr.app.region,feature"))
    assert result["source"] == "llm_calls"
    rows = _by(result["rows"], "attr.app.region", "feature")
    assert rows[("eu", "summarize")]["cost_usd"] == pytest.approx(0.51)
    assert rows[("us", "summarize")]["cost_usd"] == pytest.approx(0.25)
    assert rows[("", "chat")]["calls"] == 2  # spans without the attribute form their own group


def test_hourly_granularity_buckets(traffic):
    result = A.cost(traffic, _q("feature", granularity="hour"))
    buckets = {(r["bucket"], r["feature"]): r["cost_usd"] for r in result["rows"]}
    hour = (NOW - timedelta(hours=2)).replace(minute=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert buckets[(hour, "summarize")] == pytest.approx(0.26)


def test_unknown_dimension_names_the_allowed_ones():
    with pytest.raises(A.QueryError) as err:
        A.parse_dimensions("feature,colour")
    assert "colour" in str(err.value) and "feature" in str(err.value) and "attr." in str(err.value)


def test_coverage_reports_unpriced_share_and_models(traffic):
    report = A.coverage(traffic, NOW - timedelta(days=1), NOW + timedelta(hours=1))
    assert report["calls"] == 7 and report["unpriced_calls"] == 1
    assert report["unpriced_call_share"] == pytest.approx(1 / 7)
    assert report["unpriced_tokens"] == 500
    assert report["top_unpriced_models"][0]["response_model"] == "mystery-model"


def test_movers_against_previous_period(store, span):
    insert_spans(store, [span(feature="a", cost=1.0, when=NOW - timedelta(days=1, hours=2)),
                         span(feature="a", cost=5.0, when=NOW - timedelta(hours=2)),
                         span(feature="b", cost=2.0, when=NOW - timedelta(days=1, hours=2)),
                         span(feature="b", cost=1.5, when=NOW - timedelta(hours=2))])
    result = A.movers(store, A.Query(NOW - timedelta(days=1), NOW + timedelta(minutes=1), ["feature"], limit=10))
    assert [r["feature"] for r in result["rows"]] == ["a", "b"]
    assert result["rows"][0]["delta_usd"] == pytest.approx(4.0)
    assert result["rows"][0]["change_pct"] == pytest.approx(400.0)
    assert result["rows"][1]["delta_usd"] == pytest.approx(-0.5)


def test_trace_rollup_sums_only_inference_spans(store, span):
    trace = "ab" * 16
    agent = {"timestamp": NOW - timedelta(minutes=5), "trace_id": trace, "span_id": "11" * 8,
             "attributes": {"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 300,
                            "gen_ai.usage.cost": 0.9, "tokenproof.cost.status": "priced"}}
    tool = {"timestamp": NOW - timedelta(minutes=4), "trace_id": trace, "parent_span_id": "11" * 8,
            "attributes": {"gen_ai.operation.name": "execute_tool"}}
    calls = [span(trace_id=trace, parent="11" * 8, cost=0.4, model="gpt-4o", input_tokens=100),
             span(trace_id=trace, parent="11" * 8, cost=0.5, model="gpt-4o", input_tokens=200),
             span(trace_id=trace, parent="11" * 8, cost=0.05, model="gpt-4o-mini", traffic="judge")]
    insert_spans(store, [agent, tool, *calls])
    rollup = A.trace_rollup(store, trace)
    assert rollup["spans"] == 5 and rollup["inference_spans"] == 3
    assert rollup["other_spans_not_summed"] == 2
    assert rollup["totals"]["cost_usd"] == pytest.approx(0.9)  # not 1.8: the agent span's sum is not added
    assert rollup["totals"]["input_tokens"] == 300
    assert rollup["experiment"]["cost_usd"] == pytest.approx(0.05)
    assert A.trace_rollup(store, "cd" * 16) is None


def test_long_windows_read_whole_days_from_the_daily_rollup(store, span):
    """Whole days come from analytics_cost_daily, the edges from the hourly rollup: same numbers."""
    base = datetime(2026, 10, 10, tzinfo=UTC)
    spans = [span(feature=f"f{i % 3}", model=("gpt-4o", "gpt-4o-mini")[i % 2], cost=0.01 * (i + 1),
                  when=base + timedelta(hours=5 * i, minutes=7)) for i in range(60)]  # 12.5 days
    insert_spans(store, spans)
    since, until = base + timedelta(hours=13), base + timedelta(days=11, hours=4)
    hybrid = A.cost(store, A.Query(since, until, ["feature", "model"], "total", {}, 100))
    hourly = A.cost(store, A.Query(since, until, ["feature", "model"], "hour", {}, 100_000))
    assert hybrid["source"] == "analytics_cost_daily+llm_calls_hourly"
    assert hourly["source"] == "llm_calls_hourly"
    expected = {}
    for r in hourly["rows"]:
        key = (r["feature"], r["model"])
        expected[key] = expected.get(key, 0) + r["cost_usd"]
    assert {(r["feature"], r["model"]): pytest.approx(r["cost_usd"]) for r in hybrid["rows"]} == {
        k: pytest.approx(v) for k, v in expected.items()}
    inside = [s_ for s_ in spans if since <= s_["timestamp"] < until.replace(minute=0)]
    assert hybrid["totals"]["calls"] == len(inside)
    assert hybrid["totals"]["cost_usd"] == pytest.approx(sum(s_["attributes"]["gen_ai.usage.cost"] for s_ in inside))
    by_day = A.cost(store, A.Query(since, until, ["feature"], "day", {}, 1000))
    assert sum(r["calls"] for r in by_day["rows"]) == len(inside)
    # a re-pricing correction written to the hourly rollup reaches the daily one too
    store.insert("llm_calls_hourly", [[base + timedelta(days=3), "app", "f0", "pro", "acme", "openai", "gpt-4o",
                                       "gpt-4o", "product", "", 0, 0, 0, 0, 0, 0, 5.0, 0, 0, 0, 0, 0]],
                 ["Hour", "ServiceName", "Feature", "Tier", "Customer", "Provider", "RequestModel", "ResponseModel",
                  "TrafficClass", "PromptFingerprint", "Calls", "InputTokens", "OutputTokens", "CacheReadTokens",
                  "CacheCreationTokens", "ReasoningTokens", "CostUSD", "PricedCalls", "UnpricedCalls",
                  "EstimatedCalls", "Errors", "DurationNs"])
    again = A.cost(store, A.Query(since, until, ["feature", "model"], "total", {}, 100))
    assert again["totals"]["cost_usd"] == pytest.approx(hybrid["totals"]["cost_usd"] + 5.0)
