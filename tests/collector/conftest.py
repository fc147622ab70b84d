"""Fixtures for collector tests: a real embedded chDB store in tmp_path.

chDB hosts one engine path per process, so the in-process store is session-scoped and each test
that needs a clean slate truncates the tables (``clean_store``); tests that need their own data
directory run the service in a subprocess.
"""

from __future__ import annotations

import pytest

from tokenproof.collector.store import Store

_TABLES = ("otel_traces", "otel_traces_trace_id_ts", "llm_calls", "llm_calls_hourly")


@pytest.fixture(scope="session")
def session_store(tmp_path_factory):
    store = Store.open(data_dir=tmp_path_factory.mktemp("chdb"))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture()
def store(session_store):
    for table in _TABLES:
        session_store.command(f"TRUNCATE TABLE {table}")
    return session_store
