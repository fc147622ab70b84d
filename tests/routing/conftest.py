"""Fixtures for routing tests: a real embedded chDB store (module-scoped, one engine per process)."""

from __future__ import annotations

import pytest

from tokenproof.collector.testing import ServiceThread, open_test_store

_TABLES = ("otel_traces", "otel_traces_trace_id_ts", "llm_calls", "llm_calls_hourly", "analytics_alerts",
           "routing_routes", "routing_audit", "routing_observations", "proof_routes", "proof_comparisons")


@pytest.fixture(scope="module")
def module_store(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENPROOF_STORE_FSYNC", "false")  # a test store need not survive a power loss
        yield from _open(tmp_path_factory)


def _open(tmp_path_factory):
    store = open_test_store(tmp_path_factory.mktemp("routing-chdb"))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture()
def store(module_store):
    for table in _TABLES:
        module_store.command(f"TRUNCATE TABLE {table}")
    return module_store


def switch_proof(store, baseline="gpt-4o", candidate="gpt-4o-mini", decision="switch", prompt_hash="",
                 route_id="r_proof1") -> str:
    """A proof route version as the proof engine stores it, decided ``decision``."""
    from tokenproof.analytics.proof import store as proof_store

    proof_store.save_route(store, {
        "RouteId": route_id, "Lineage": "l_x", "Version": 1, "ServiceName": "app", "Feature": "", "PromptFingerprint": "",
        "BaselineProvider": "openai", "BaselineModel": baseline, "CandidateModel": candidate,
        "CandidatePromptHash": prompt_hash, "JudgeModel": "claude-sonnet-4-5", "MatchJson": "{}", "ParamsJson": "{}",
        "Status": decision, "Decision": decision, "BudgetUSD": 5.0, "SpentUSD": 0.0, "MonthlySavingUSD": None})
    return route_id


@pytest.fixture()
def make_proof():
    """The ``switch_proof`` builder (tests import nothing from conftest under importlib mode)."""
    return switch_proof


Service = ServiceThread  # the shared helper (tokenproof.collector.testing)


@pytest.fixture()
def service_factory():
    started: list[Service] = []

    def start(store, **kwargs) -> Service:
        service = Service(store, **kwargs)
        started.append(service)
        return service

    yield start
    for service in started:
        if service.thread.is_alive():
            service.stop()


def eventually(check, timeout: float = 30.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.fixture()
def wait_for():
    return eventually
