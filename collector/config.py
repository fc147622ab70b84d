"""The collector's settings, declared once (see ``tokenproof.settings`` for precedence)."""

from __future__ import annotations

from tokenproof import (
    service_client,  # noqa: F401  (declares service_url, api_token and read_token)
    settings,
)


def _non_negative(value: int) -> None:
    if value < 0:
        raise ValueError("must be >= 0")


def _positive(value: int) -> None:
    if value <= 0:
        raise ValueError("must be > 0")


settings.declare("data_dir", str, ".tokenproof/data",
                 "directory of the embedded chDB store (one owning process: the service)")
settings.declare("clickhouse_url", str, "",
                 "ClickHouse server URL http(s)://user:pass@host:8123/db; empty = embedded chDB store")
settings.declare("clickhouse_cluster", str, "",
                 "cluster name: migrations create Replicated* engines ON CLUSTER this name")
settings.declare("store_ttl_days", int, 0,
                 "drop otel_traces partitions older than this many days (0 = keep forever)",
                 validate=_non_negative)
settings.declare("store_fsync", bool, True,
                 "embedded store: fsync each inserted part before the request is acknowledged")
settings.declare("ingest_token", str, "",
                 "bearer token required on /v1/* OTLP requests (required for non-loopback binds)")
settings.declare("allowed_hosts", list, [],
                 "Host header names the service answers besides the loopback names (comma-separated; "
                 "'*' = any): a DNS-rebinding guard (docs/security.md)")
settings.declare("max_inflight_per_client", int, 16,
                 "OTLP requests one client address may have still sending their bodies; more answer 429",
                 validate=_positive)
settings.declare("body_read_timeout_seconds", float, 10.0,
                 "an OTLP request body must arrive within this many seconds (408 otherwise)",
                 validate=_positive)
settings.declare("rollup_repair_hours", float, 48.0,
                 "at start-up, re-derive missing llm_calls rows and correct the hourly rollup over this many "
                 "past hours (0 = off; docs/ingest.md)", validate=_non_negative)
settings.declare("rollup_repair_interval_minutes", float, 10.0,
                 "while running, re-check the rollup of the last completed hours this often (0 = off)",
                 validate=_non_negative)
settings.declare("max_body_bytes", int, 32 * 1024 * 1024,
                 "largest OTLP request body accepted, before and after gzip decompression (413 above)",
                 validate=_positive)
settings.declare("max_inflight_requests", int, 8,
                 "OTLP requests decoded or inserted at once; more answer 503 with Retry-After",
                 validate=_positive)
settings.declare("max_inflight_bytes", int, 64 * 1024 * 1024,
                 "OTLP request bytes (decompressed) held at once; more answer 429 with Retry-After. "
                 "Decoding needs about 6x these bytes, so this bounds the service's ingest memory",
                 validate=_positive)
settings.declare("ingest_workers", int, 0,
                 "processes decoding OTLP requests next to the service (0 = threads in the service process)",
                 validate=_non_negative)
settings.declare("max_attribute_bytes", int, 64 * 1024,
                 "attribute values longer than this are truncated (UTF-8 bytes) and the span counted",
                 validate=_positive)
settings.declare("price_arrivals_interval_seconds", float, 10.0,
                 "seconds between passes that price LLM calls stored without a tokenproof price "
                 "(otelcol-contrib, other instrumentations); 0 disables")
settings.declare("price_arrivals_lookback_hours", int, 48,
                 "how far back (span start) each pass looks for such calls", validate=_positive)


def get(name: str, override=None):
    return settings.get(name, override)
