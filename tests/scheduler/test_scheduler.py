"""The proof scheduler on a real chDB store and the replay provider: from captured traffic to decisions.

These tests drive the scheduler as a user would: its policy and switch through the service API, its
loop left to run by itself, the service restarted on the same store.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tokenproof.analytics.proof import store as proof_store
from tokenproof.collector.testing import ServiceThread

from .conftest import AUTH, CANDIDATE, JUDGE, TOKEN, demo_policy, seed_traffic


def _wait(check, timeout: float = 240.0, every: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def _get(url: str, path: str, **params) -> dict:
    response = httpx.get(f"{url}{path}", params=params, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def _post(url: str, path: str, **kw) -> httpx.Response:
    return httpx.post(f"{url}{path}", headers=AUTH, timeout=300, **kw)


def _set_policy(url: str, **fields) -> dict:
    response = httpx.put(f"{url}/api/v1/scheduler/policy", json={"set": fields, "reason": "test"}, headers=AUTH,
                         timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["policy"]


def _kinds(url: str) -> list[str]:
    return [e["Kind"] for e in _get(url, "/api/v1/scheduler/events", limit=1000)["events"]]


def test_left_alone_the_service_decides_one_switch_and_one_keep_within_budget(store, endpoints, monkeypatch):
    seed_traffic(store)
    monkeypatch.setenv("TOKENPROOF_SCHEDULER_INTERVAL_SECONDS", "0.5")
    monkeypatch.setenv("TOKENPROOF_SCHEDULER_START_PAUSED", "true")
    service = ServiceThread(store, api_token=TOKEN)
    try:
        assert _get(service.url, "/api/v1/scheduler")["paused"] is True
        _set_policy(service.url, **demo_policy())
        assert _post(service.url, "/api/v1/scheduler/resume").status_code == 200
        # nobody types a command from here on: the loop mines, plans and runs the batches
        done = _wait(lambda: (s := _get(service.url, "/api/v1/scheduler"))["decisions"]["switch"] == 1
                     and s["decisions"]["keep"] == 1 and s)
        recommendations = _get(service.url, "/api/v1/recommendations")["recommendations"]
        kinds = _kinds(service.url)
    finally:
        service.stop()
    by_feature = {r["feature"]: r for r in done["routes"]}
    assert by_feature["marketing-quiz"]["status"] == "switch" and by_feature["math-tutor"]["status"] == "keep"
    for route in by_feature.values():
        assert route["candidate"] == CANDIDATE and route["judge"] == JUDGE
        stored = proof_store.load_comparisons(store, route["route_id"])
        assert len(stored) == route["n"] >= 30  # the evidence is stored, comparison by comparison
        assert len({c["prompt_ref"] for c in stored}) == len(stored)  # no prompt compared twice
        assert 0 < route["route_spent_usd"] <= 20.0
    assert [r["match"]["feature"] for r in recommendations] == ["marketing-quiz"]
    budgets = done["budgets"]
    assert 0 < budgets["day"]["spent_usd"] <= 50.0 and budgets["month"]["spent_usd"] <= 100.0
    assert done["alpha"]["groups_admitted"] == 2 and done["alpha"]["allotted"] <= done["alpha"]["family_alpha"]
    assert kinds.count("decision") == 2 and kinds.count("admitted") == 2 and "resumed" in kinds


def test_a_budget_smaller_than_one_comparison_is_never_crossed(store, endpoints):
    seed_traffic(store, per_feature=40)
    service = ServiceThread(store, api_token=TOKEN)
    try:
        _set_policy(service.url, **demo_policy(budget_day_usd=0.001))
        result = _post(service.url, "/api/v1/scheduler/run").json()
        status = _get(service.url, "/api/v1/scheduler")
        kinds = _kinds(service.url)
    finally:
        service.stop()
    # the judge is calibrated before a route's first comparison, and even that does not fit
    assert {b["stop_reason"] for b in result["batches"]} == {"spend cap too small to calibrate the judge first"}
    assert all(b["new_comparisons"] == 0 and b["spent_usd"] == 0 for b in result["batches"])
    assert status["budgets"]["day"]["spent_usd"] == 0.0
    assert store.query_rows("SELECT count() FROM proof_comparisons")[0][0] == 0
    assert "budget_stop" in kinds


def test_a_budget_smaller_than_one_comparison_after_calibration(store, endpoints, monkeypatch):
    seed_traffic(store, per_feature=40)
    monkeypatch.setenv("TOKENPROOF_PROOF_SHADOW_CALIBRATION", "0")
    service = ServiceThread(store, api_token=TOKEN)
    try:
        _set_policy(service.url, **demo_policy(budget_day_usd=0.001))
        result = _post(service.url, "/api/v1/scheduler/run").json()
    finally:
        service.stop()
    assert {b["stop_reason"] for b in result["batches"]} == {"spend cap reached"}
    assert all(b["new_comparisons"] == 0 and b["spent_usd"] == 0 for b in result["batches"])
    assert store.query_rows("SELECT count() FROM proof_comparisons")[0][0] == 0


def test_pause_resume_and_a_restart_continue_without_spending_twice(store, endpoints):
    seed_traffic(store, per_feature=60)
    first = ServiceThread(store, api_token=TOKEN)
    try:
        _set_policy(first.url, **demo_policy(batch_size=12, features=["marketing-quiz"]))
        one = _post(first.url, "/api/v1/scheduler/run").json()
        assert [b["new_comparisons"] for b in one["batches"]] == [12]
        assert _post(first.url, "/api/v1/scheduler/pause", json={"reason": "maintenance"}).status_code == 200
        assert _post(first.url, "/api/v1/scheduler/run").json()["skipped"] == "paused"
    finally:
        first.stop()
    spent_before = _route_spent(store)

    second = ServiceThread(store, api_token=TOKEN)  # the service restarted on the same store
    try:
        status = _get(second.url, "/api/v1/scheduler")
        assert status["paused"] is True and status["reason"] == "maintenance"  # the switch survived
        assert _post(second.url, "/api/v1/scheduler/resume").status_code == 200
        two = _post(second.url, "/api/v1/scheduler/run").json()
        status = _get(second.url, "/api/v1/scheduler")
    finally:
        second.stop()
    (batch,) = two["batches"]
    assert batch["route_id"] == one["batches"][0]["route_id"]  # the same route version, continued
    stored = proof_store.load_comparisons(store, batch["route_id"])
    assert len(stored) == 24 and len({c["prompt_ref"] for c in stored}) == 24  # nothing compared twice
    route = next(r for r in status["routes"] if r["route_id"] == batch["route_id"])
    assert route["scheduler_comparisons"] == 24 and route["scheduler_batches"] == 2
    # the route's spend grew by exactly what the second batch spent (nothing re-spent on stored pairs)
    assert abs(_route_spent(store) - spent_before - batch["spent_usd"]) < 1e-6


def _route_spent(store) -> float:
    return sum(float(r["SpentUSD"]) for r in proof_store.list_routes(store))


def test_provider_rate_limits_defer_the_prompt_and_back_off(store, monkeypatch):
    from tokenproof_devkit.provider.testing import run_provider

    from .conftest import point_at

    seed_traffic(store, per_feature=40)
    with run_provider(fault_rate=1.0, fault_status=429, retry_after_s=0) as failing:
        point_at(monkeypatch, failing)
        service = ServiceThread(store, api_token=TOKEN)
        try:
            _set_policy(service.url, **demo_policy(features=["marketing-quiz"]))
            first = _post(service.url, "/api/v1/scheduler/run").json()
            again = _post(service.url, "/api/v1/scheduler/run").json()
            status = _get(service.url, "/api/v1/scheduler")
            events = _get(service.url, "/api/v1/scheduler/events", kind="deferred")["events"]
        finally:
            service.stop()
    (batch,) = first["batches"]
    # the judge is calibrated first; the failing provider stops that, and the batch, without a verdict
    assert batch["stop_reason"] == "provider failure while calibrating the judge" and batch["new_comparisons"] == 0
    assert again["batches"] == []  # backing off: the next pass does not call the provider again
    assert status["backoff"] and all(b["retry_in_s"] > 0 for b in status["backoff"].values())
    assert len(events) == 1 and "RateLimitError" in events[0]["Message"]
    # a rate limit is not evidence: nothing stored against the candidate, the route goes on testing
    assert store.query_rows("SELECT count() FROM proof_comparisons")[0][0] == 0


def test_a_prompt_that_keeps_failing_is_stored_against_the_candidate(store, monkeypatch):
    """A provider that fails on the same prompt every time cannot keep it out of the evidence."""
    from tokenproof_devkit.provider.testing import run_provider

    from .conftest import point_at

    seed_traffic(store, per_feature=40)
    monkeypatch.setenv("TOKENPROOF_PROOF_SHADOW_CALIBRATION", "0")  # straight to the comparisons
    with run_provider(fault_rate=1.0, fault_status=503, retry_after_s=0) as failing:
        point_at(monkeypatch, failing)
        for restart in range(4):  # each restart forgets the in-memory back-off; the deferrals are stored
            service = ServiceThread(store, api_token=TOKEN)
            try:
                if restart == 0:
                    _set_policy(service.url, **demo_policy(features=["marketing-quiz"], max_deferrals=3))
                (batch,) = _post(service.url, "/api/v1/scheduler/run").json()["batches"]
            finally:
                service.stop()
            assert batch["stop_reason"] == "provider failure (deferred)"
    (route,) = proof_store.list_routes(store)
    stored = proof_store.load_comparisons(store, route["RouteId"])
    assert [(c["outcome"], c["error_kind"]) for c in stored] == [("loss", "candidate_failed")]


def test_policy_writes_need_the_token_and_a_bad_value_changes_nothing(store):
    service = ServiceThread(store, api_token=TOKEN)
    try:
        url = f"{service.url}/api/v1/scheduler/policy"
        assert httpx.put(url, json={"set": {"sample_rate": 0.5}}, timeout=30).status_code == 401
        assert httpx.post(f"{service.url}/api/v1/scheduler/pause", timeout=30).status_code == 401
        for bad in ({"sample_rate": 2}, {"no_such_field": 1}, {"quiet_hours": ["25:00-01:00"]},
                    {"params": {"alpha": 0.9}}, {"endpoint": "https://attacker.example/v1"}):
            response = httpx.put(url, json={"set": bad}, headers=AUTH, timeout=30)
            assert response.status_code == 422, (bad, response.text)
        policy = _get(service.url, "/api/v1/scheduler/policy")
        assert policy["version"] == 0 and policy["overrides"] == {} and policy["policy"]["sample_rate"] == 0.1
        changed = httpx.put(url, json={"set": {"quiet_hours": ["22:00-06:00"], "params": {"alpha": 0.01}}},
                            headers={**AUTH, "x-tokenproof-actor": "alice"}, timeout=30).json()
        assert changed["version"] == 1 and changed["policy"]["params"]["alpha"] == 0.01
        assert changed["policy"]["params"]["max_loss"] == 0.15  # the other test parameters keep their values
        events = _get(service.url, "/api/v1/scheduler/events")["events"]
    finally:
        service.stop()
    kinds = [e["Kind"] for e in events]
    assert kinds.count("refused") == 7 and kinds.count("policy_changed") == 1
    assert next(e for e in events if e["Kind"] == "policy_changed")["Detail"]["actor"] == "alice"


def test_alpha_portfolio_and_quiet_hours_hold_groups_back(store, endpoints, monkeypatch):
    import datetime as dt

    seed_traffic(store, per_feature=30)
    monkeypatch.setenv("TOKENPROOF_PROOF_PORTFOLIO_ROUTES", "1")  # the whole alpha goes to the first group
    service = ServiceThread(store, api_token=TOKEN)
    try:
        now = dt.datetime.now(dt.UTC)
        window = f"{(now - dt.timedelta(hours=1)):%H}:00-{(now + dt.timedelta(hours=1)):%H}:59"
        _set_policy(service.url, **demo_policy(batch_size=5, quiet_hours=[window]))
        assert _post(service.url, "/api/v1/scheduler/run").json()["skipped"].startswith("quiet hours")
        _set_policy(service.url, quiet_hours=[])
        result = _post(service.url, "/api/v1/scheduler/run").json()
        status = _get(service.url, "/api/v1/scheduler", refresh="true")
    finally:
        service.stop()
    assert len(result["batches"]) == 1  # one group admitted; the other would overfill the family's alpha
    states = {g["feature"]: g["state"] for g in status["groups"]}
    assert sorted(states.values()) == ["portfolio full", "testing"]
    assert status["alpha"]["groups_admitted"] == 1 and status["alpha"]["allotted"] == pytest.approx(0.05)
    (route,) = proof_store.list_routes(store)
    import json

    assert json.loads(route["ParamsJson"])["alpha_spent"] == pytest.approx(0.05 * 6 / 3.141592653589793 ** 2)
