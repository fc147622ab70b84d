"""Tables created first by otelcol-contrib's ClickHouse exporter, exactly as its DDL does, then tokenproof.

The fixtures (``exporter_ddl/``) are the exporter's current templates rendered with its defaults, in
both of its modes. Each scenario runs in a subprocess with a fresh data directory (one chDB engine per
process), runs tokenproof's migrations and views over those tables, writes through tokenproof's path
(a retried batch included) and as otelcol-contrib does (no tokenproof cost), and reads attribution.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tokenproof.collector.store import _TTL_SQL

_spec = importlib.util.spec_from_file_location("_upgrade", Path(__file__).with_name("test_store_upgrade.py"))
assert _spec and _spec.loader
_upgrade = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_upgrade)


@pytest.fixture(scope="module")
def map_mode(tmp_path_factory):
    return _upgrade.run_scenario("exporter-map", tmp_path_factory.mktemp("exporter-map"),
                                 env={"TOKENPROOF_STORE_TTL_DAYS": "30"})


def test_retried_batch_is_stored_once_on_an_exporter_created_table(map_mode):
    assert "non_replicated_deduplication_window = 10000" in map_mode["traces_ddl"]
    assert "non_replicated_deduplication_window = 10000" in map_mode["trace_id_ddl"]
    assert map_mode["spans"] == 7  # 5 tokenproof spans (sent twice) + 2 from otelcol-contrib
    assert map_mode["calls"] == 7
    assert map_mode["totals"]["calls"] == 7


def test_newest_layout_alias_columns_and_span_name_index_exist(map_mode):
    assert "gen_ai.operation.name=chat" in map_mode["items"]
    assert map_mode["resource_items"] == ["service.name=test-service"]
    assert "INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8" in map_mode["traces_ddl"]


def test_store_ttl_reaches_the_trace_id_table(map_mode):
    assert "TTL toDateTime(Start) + toIntervalDay(30)" in map_mode["trace_id_ddl"]
    assert "TTL toDateTime(Timestamp) + toIntervalDay(30)" in map_mode["traces_ddl"]
    assert set(_TTL_SQL) == {"otel_traces", "otel_traces_trace_id_ts"}


def test_errors_count_both_status_spellings(map_mode):
    # one tokenproof span with Error, one otelcol-contrib span with the old STATUS_CODE_ERROR
    assert map_mode["totals"]["errors"] == 2


def test_attribution_shows_correct_deduplicated_priced_rows(map_mode):
    totals = map_mode["totals"]
    assert map_mode["unpriced_before"] == 2  # the two otelcol-contrib spans arrived without a cost
    assert map_mode["arrivals"]["newly_priced"] == 2
    assert totals["priced_calls"] == 7 and totals["unpriced_calls"] == 0
    assert totals["cost_usd"] == pytest.approx(map_mode["expected_cost"], rel=1e-9)
    assert totals["input_tokens"] == 5 * 1000 + 2 * 2000


def test_json_mode_table_is_refused_at_start_with_the_setting_to_change(tmp_path):
    result = _upgrade.run_scenario("exporter-json", tmp_path)
    assert "clickhouse.json" in result["error"] and "SpanAttributes" in result["error"]
    assert result["tables"] == ["otel_traces"]  # nothing created or changed before the refusal


def test_tables_tokenproof_created_have_the_newest_layouts_columns_and_index(store):
    from tokenproof.collector.testing import insert_spans

    insert_spans(store, [{"attributes": {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"}}])
    items = store.query_rows("SELECT SpanAttributeItems, ResourceAttributeItems FROM otel_traces "
                             "WHERE has(SpanAttributeItems, 'gen_ai.request.model=gpt-4o')")
    assert items and "service.name=test-service" in items[0][1]
    ddl = store.query_rows("SHOW CREATE TABLE otel_traces")[0][0]
    assert "INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8" in ddl
    # a query written for the exporter's newest layout: span-name search through the token index
    assert store.query_rows("SELECT count() FROM otel_traces WHERE hasToken(lower(SpanName), 'chat')")[0][0] == 1
