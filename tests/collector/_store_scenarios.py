"""Store scenarios that need a data directory of their own, run in a subprocess by the tests.

chDB hosts one engine directory per process, so a test that builds a store from a particular
starting point (today's migration set, tables created by otelcol-contrib's exporter) runs one of
these in a fresh interpreter: ``python _store_scenarios.py NAME DIR`` prints one JSON object of
facts the tests assert on.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tokenproof import semconv as sc
from tokenproof.collector.migrate import Migration, apply_migrations, area_versions, load_migrations
from tokenproof.collector.reprice import price_arrivals
from tokenproof.collector.store import Store, StoreError
from tokenproof.collector.testing import insert_spans

HERE = Path(__file__).parent
# The migration set released before migrations moved to their areas (files never edited since).
TODAY_VERSIONS = {1, 2, 3, 4, 100, 101, 102, 103, 200}
TABLES = ("otel_traces", "otel_traces_trace_id_ts", "llm_calls", "llm_calls_hourly", "analytics_alerts",
          "analytics_budgets", "analytics_webhook_deliveries", "analytics_cost_daily", "proof_routes",
          "proof_comparisons")
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _counts(store: Store) -> dict[str, int]:
    present = {row[0] for row in store.query_rows("SHOW TABLES")}
    return {t: int(store.query_rows(f"SELECT count() FROM {t}")[0][0]) for t in TABLES if t in present}


def _tokenproof_span(i: int, **extra) -> dict:
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
             sc.GEN_AI_RESPONSE_MODEL: "gpt-4o", sc.GEN_AI_USAGE_INPUT_TOKENS: 1000, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 100,
             sc.GEN_AI_USAGE_COST: 0.0035, sc.TP_COST_STATUS: sc.COST_PRICED, sc.TP_FEATURE: "search"}
    return {"timestamp": NOW + timedelta(seconds=i), "attributes": attrs, "trace_id": f"{i + 1:032x}",
            "span_id": f"{i + 1:016x}", **extra}


def _contrib_span(i: int, status: str = "Ok") -> dict:
    """A span as otelcol-contrib stores it from another instrumentation: tokens, no tokenproof cost."""
    attrs = {sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
             sc.GEN_AI_RESPONSE_MODEL: "gpt-4o", sc.GEN_AI_USAGE_INPUT_TOKENS: 2000, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 500}
    return {"timestamp": NOW + timedelta(seconds=100 + i), "attributes": attrs, "status": status,
            "trace_id": f"{1000 + i:032x}", "span_id": f"{1000 + i:016x}", "scope_name": "opentelemetry.instrumentation.openai_v2"}


def upgrade(directory: Path) -> dict:
    """A store built by today's migration set with data in it, then opened by the new code."""
    folder = directory / "today-migrations"
    folder.mkdir()
    for m in load_migrations():
        if m.version in TODAY_VERSIONS:
            (folder / f"{m.version:04d}_{m.name}.sql").write_text(m.sql, encoding="utf-8")
    store = Store.open(data_dir=directory / "data", migrate=False)
    try:
        today = load_migrations(str(folder))
        apply_migrations(store, today)
        insert_spans(store, [_tokenproof_span(i) for i in range(5)])
        insert_spans(store, [_tokenproof_span(10, status="STATUS_CODE_ERROR")])
        store.command("INSERT INTO analytics_budgets (Scope, Value, MonthlyUSD, Deleted, UpdatedAt) "
                      "VALUES ('feature', 'search', 100, 0, now64(6))")
        store.command("INSERT INTO analytics_alerts (AlertId, DedupKey, Kind, Status, UpdatedAt) "
                      "VALUES ('a1', 'k1', 'spend_spike', 'open', now64(6))")
        store.command("INSERT INTO proof_routes (RouteId, Status, UpdatedAt) VALUES ('r1', 'testing', now64(6))")
        before = {"counts": _counts(store), "versions": area_versions(store, today),
                  "schema_version": store.schema_version(),
                  "errors": int(store.query_rows("SELECT sum(Errors) FROM llm_calls_hourly")[0][0]),
                  "checksums": dict(store.query_rows("SELECT Version, Checksum FROM schema_migrations"))}
    finally:
        store.close()
    store = Store.open(data_dir=directory / "data")
    try:
        after = {"counts": _counts(store), "versions": area_versions(store), "schema_version": store.schema_version(),
                 "errors": int(store.query_rows("SELECT sum(Errors) FROM llm_calls_hourly")[0][0]),
                 "checksums": dict(store.query_rows("SELECT Version, Checksum FROM schema_migrations")),
                 "latest": [m.version for m in load_migrations()]}
    finally:
        store.close()
    return {"before": before, "after": after}


def exporter(directory: Path, mode: str) -> dict:
    """Tables created by the exporter's DDL first, then tokenproof's migrations, views and writes."""
    from tokenproof import pricing
    from tokenproof.analytics import attribution

    store = Store.open(data_dir=directory / "data", migrate=False)
    try:
        for statement in Migration(0, "exporter", (HERE / "exporter_ddl" / f"traces_{mode}.sql").read_text()).statements():
            store.command(statement)
        try:
            store.migrate()
        except StoreError as exc:
            tables = sorted(row[0] for row in store.query_rows("SHOW TABLES"))
            return {"error": str(exc), "tables": tables}
        batch = [_tokenproof_span(i) for i in range(4)] + [_tokenproof_span(9, status="Error")]
        insert_spans(store, batch, token="batch-1")
        insert_spans(store, batch, token="batch-1")  # the OTLP client's retry of the same batch
        insert_spans(store, [_contrib_span(0), _contrib_span(1, status="STATUS_CODE_ERROR")])
        unpriced_before = int(store.query_rows("SELECT countIf(Priced = 0) FROM llm_calls FINAL")[0][0])
        arrivals = price_arrivals(store)
        q = attribution.Query(NOW - timedelta(hours=1), NOW + timedelta(hours=1), ["model"])
        totals = attribution.cost(store, q)["totals"]
        contrib_cost = pricing.price("openai", "gpt-4o", pricing.Usage(2000, 500, 0, 0, 0)).usd
        return {
            "spans": int(store.query_rows("SELECT count() FROM otel_traces")[0][0]),
            "calls": int(store.query_rows("SELECT count() FROM llm_calls FINAL")[0][0]),
            "unpriced_before": unpriced_before, "arrivals": arrivals, "totals": totals,
            "expected_cost": 5 * 0.0035 + 2 * float(contrib_cost),
            "trace_id_ddl": store.query_rows("SHOW CREATE TABLE otel_traces_trace_id_ts")[0][0],
            "traces_ddl": store.query_rows("SHOW CREATE TABLE otel_traces")[0][0],
            "items": store.query_rows("SELECT SpanAttributeItems FROM otel_traces LIMIT 1")[0][0],
            "resource_items": store.query_rows("SELECT ResourceAttributeItems FROM otel_traces LIMIT 1")[0][0],
        }
    finally:
        store.close()


if __name__ == "__main__":
    name, where = sys.argv[1], Path(sys.argv[2])
    result = upgrade(where) if name == "upgrade" else exporter(where, name.removeprefix("exporter-"))
    print(json.dumps(result, default=str))
