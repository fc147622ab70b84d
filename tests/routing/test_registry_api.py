"""The route registry through the service API: proof-gated pushes, audit, conflicts, ETags, scopes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tokenproof.collector.app import create_app

W = {"Authorization": "Bearer w-token", "X-Tokenproof-Actor": "alice"}
R = {"Authorization": "Bearer r-token"}
BASE = "/api/v1/routing"


def _client(store, monkeypatch):
    monkeypatch.setenv("TOKENPROOF_READ_TOKEN", "r-token")
    monkeypatch.setenv("TOKENPROOF_ROUTING_MONITOR_INTERVAL_SECONDS", "0")
    return TestClient(create_app(store, api_token="w-token"))


def _body(**extra):
    return {"service": "app", "feature": "summarize", "baseline": "gpt-4o", "candidate": "gpt-4o-mini", **extra}


def _routes(client):
    return client.get(f"{BASE}/routes", headers=R).json()["routes"]


def test_push_needs_a_switch_proof_or_an_audited_override(store, monkeypatch, make_proof):
    with _client(store, monkeypatch) as client:
        refused = client.post(f"{BASE}/routes", json=_body(), headers=W)
        assert refused.status_code == 409 and "not 'switch'" in refused.json()["detail"]
        keep = make_proof(store, decision="keep", route_id="r_keep")
        assert client.post(f"{BASE}/routes", json=_body(proof_route_id=keep), headers=W).status_code == 409
        assert _routes(client) == []
        no_reason = client.post(f"{BASE}/routes", json=_body(proof_route_id=keep, override=True), headers=W)
        assert no_reason.status_code == 422
        forced = client.post(f"{BASE}/routes", json=_body(proof_route_id=keep, override=True,
                                                          reason="ops decision"), headers=W)
        assert forced.status_code == 201, forced.text
        route = forced.json()
        assert route["proof"] == {"route_id": keep, "decision": "keep", "override": True, "response_model": ""}
        assert route["state"] == "canary" and route["traffic_share"] == 0.05 and route["changed_by"] == "alice"
        audit = client.get(f"{BASE}/audit", headers=R).json()["audit"]
        assert [(a["action"], a["outcome"], a["override"]) for a in reversed(audit)] == [
            ("push", "refused", False), ("push", "refused", False), ("push", "refused", True),
            ("push", "applied", True)]


def test_switch_proof_pushes_and_the_route_moves_through_its_states(store, monkeypatch, make_proof):
    proof = make_proof(store)
    with _client(store, monkeypatch) as client:
        pushed = client.post(f"{BASE}/routes", json=_body(proof_route_id=proof), headers=W)
        assert pushed.status_code == 201, pushed.text
        rid = pushed.json()["id"]
        assert pushed.json()["proof"]["decision"] == "switch" and not pushed.json()["proof"]["override"]
        assert client.post(f"{BASE}/routes/{rid}/canary", json={"share": 0.5}, headers=W).json()["traffic_share"] == 0.5
        active = client.post(f"{BASE}/routes/{rid}/canary", json={"share": 1.0}, headers=W).json()
        assert active["state"] == "active" and active["version"] == 3
        assert client.post(f"{BASE}/routes/{rid}/pause", json={"reason": "holiday"}, headers=W).json()["state"] == "paused"
        back = client.post(f"{BASE}/routes/{rid}/rollback", json={"reason": "done"}, headers=W).json()
        assert back["state"] == "rolled_back" and back["state_reason"] == "done"
        again = client.post(f"{BASE}/routes/{rid}/rollback", json={}, headers=W)
        assert again.status_code == 409
        assert client.post(f"{BASE}/routes/{rid}/canary", json={"share": 0.2}, headers=W).status_code == 409
        actions = [(a["action"], a["outcome"]) for a in client.get(f"{BASE}/audit", params={"route_id": rid},
                                                                    headers=R).json()["audit"]]
        assert actions[:3] == [("canary", "refused"), ("rollback", "refused"), ("rollback", "applied")]
        assert client.get(f"{BASE}/routes/{rid}", headers=R).json()["route"]["version"] == 5


def test_writes_without_the_write_credential_are_refused_and_audited(store, monkeypatch, make_proof):
    proof = make_proof(store)
    with _client(store, monkeypatch) as client:
        assert client.post(f"{BASE}/routes", json=_body(proof_route_id=proof)).status_code == 401
        assert client.post(f"{BASE}/routes", json=_body(proof_route_id=proof), headers=R).status_code == 401
        assert client.post(f"{BASE}/routes/rt_x/pause", json={}, headers=R).status_code == 401
        assert client.get(f"{BASE}/routes").status_code == 401  # reads need a credential too
        assert _routes(client) == []
        audit = client.get(f"{BASE}/audit", headers=W).json()["audit"]
        assert sorted((a["action"], a["outcome"], a["route_id"]) for a in audit) == [
            ("pause", "refused", "rt_x"), ("push", "refused", ""), ("push", "refused", "")]
        assert all("401" in a["reason"] for a in audit)


def test_bad_pushes_get_a_clear_4xx_and_change_nothing(store, monkeypatch, make_proof):
    proof = make_proof(store)
    with _client(store, monkeypatch) as client:
        assert client.post(f"{BASE}/routes", json=_body(proof_route_id=proof), headers=W).status_code == 201
        before = client.get(f"{BASE}/routes", headers=R).headers["ETag"]
        unknown = client.post(f"{BASE}/routes", json=_body(candidate="gpt-nonexistent-9", override=True,
                                                           reason="x"), headers=W)
        assert unknown.status_code == 422 and "unknown candidate model" in unknown.json()["detail"]
        assert client.post(f"{BASE}/routes", content=b"{not json", headers=W).status_code == 422
        assert client.post(f"{BASE}/routes", json=_body(traffic_share=3), headers=W).status_code == 422
        assert client.post(f"{BASE}/routes", json=[1, 2], headers=W).status_code == 422
        # overlaps the live route: same service and baseline, feature wildcard
        other = make_proof(store, candidate="gpt-4.1-mini", route_id="r_other")
        overlap = client.post(f"{BASE}/routes", json=_body(feature="", candidate="gpt-4.1-mini",
                                                           proof_route_id=other), headers=W)
        assert overlap.status_code == 409 and "overlaps live route" in overlap.json()["detail"]
        mismatch = client.post(f"{BASE}/routes", json=_body(feature="other", candidate="gpt-4.1-mini",
                                                            proof_route_id=proof), headers=W)
        assert mismatch.status_code == 422
        assert client.get(f"{BASE}/routes", headers=R).headers["ETag"] == before
        assert len(_routes(client)) == 1
        refused = [a for a in client.get(f"{BASE}/audit", headers=R).json()["audit"] if a["outcome"] == "refused"]
        assert len(refused) == 6


def test_reads_are_cheap_with_etags(store, monkeypatch, make_proof):
    proof = make_proof(store)
    with _client(store, monkeypatch) as client:
        first = client.get(f"{BASE}/routes", params={"service": "app"}, headers=R)
        etag = first.headers["ETag"]
        same = client.get(f"{BASE}/routes", params={"service": "app"}, headers={**R, "If-None-Match": etag})
        assert same.status_code == 304 and same.content == b""
        client.post(f"{BASE}/routes", json=_body(proof_route_id=proof), headers=W)
        changed = client.get(f"{BASE}/routes", params={"service": "app"}, headers={**R, "If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["ETag"] != etag
        assert [r["candidate"] for r in changed.json()["routes"]] == ["gpt-4o-mini"]
        assert client.get(f"{BASE}/routes", params={"service": "other"}, headers=R).json()["routes"] == []


def test_litellm_export_has_model_groups_weights_and_fallbacks(store, monkeypatch, make_proof, tmp_path):
    proof = make_proof(store)
    with _client(store, monkeypatch) as client:
        rid = client.post(f"{BASE}/routes", json=_body(feature="", proof_route_id=proof, traffic_share=0.25),
                          headers=W).json()["id"]
        config = client.get(f"{BASE}/export/litellm", headers=R).json()
    groups = {(m["model_name"], m["litellm_params"]["model"]): m["litellm_params"].get("weight")
              for m in config["model_list"]}
    assert groups[(f"tp-{rid}", "openai/gpt-4o-mini")] == 250
    assert groups[(f"tp-{rid}", "openai/gpt-4o")] == 750
    assert groups[("gpt-4o", "openai/gpt-4o-mini")] == 250  # model-only match: the baseline's own name too
    assert {f"tp-{rid}": [f"tp-{rid}-baseline"]} in config["router_settings"]["fallbacks"]
    # and LiteLLM's own Router takes it as it is (in a process of its own: LiteLLM's import-time
    # warnings and settings stay out of this one)
    pytest.importorskip("litellm")
    parsed = _litellm_router(config, tmp_path)
    assert {f"tp-{rid}", f"tp-{rid}-baseline", "gpt-4o"} <= set(parsed["groups"])
    assert {f"tp-{rid}": [f"tp-{rid}-baseline"]} in parsed["fallbacks"]


_LITELLM = """
import json, sys, warnings
warnings.simplefilter("ignore")
from litellm import Router
config = json.load(open(sys.argv[1]))
router = Router(model_list=config["model_list"], **config["router_settings"])
print(json.dumps({"groups": sorted(set(router.get_model_names())), "fallbacks": router.fallbacks}))
"""


def _litellm_router(config: dict, tmp_path) -> dict:
    import json
    import os
    import subprocess
    import sys

    path = tmp_path / "litellm.json"
    path.write_text(json.dumps(config))
    env = {**os.environ, "OPENAI_API_KEY": "sk-not-used", "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run([sys.executable, "-c", _LITELLM, str(path)], capture_output=True, text=True,
                         timeout=180, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_canary_grows_on_its_schedule(store, monkeypatch, make_proof):
    import time

    proof = make_proof(store)
    monkeypatch.setenv("TOKENPROOF_READ_TOKEN", "r-token")
    monkeypatch.setenv("TOKENPROOF_ROUTING_MONITOR_INTERVAL_SECONDS", "0.1")
    with TestClient(create_app(store, api_token="w-token")) as client:
        rid = client.post(f"{BASE}/routes", json=_body(proof_route_id=proof, schedule=[
            {"after_hours": 0, "share": 0.2}, {"after_hours": 0, "share": 0.5}, {"after_hours": 48, "share": 1.0}]),
            headers=W).json()["id"]
        deadline = time.monotonic() + 30
        while client.get(f"{BASE}/routes/{rid}", headers=R).json()["route"]["traffic_share"] != 0.5:
            assert time.monotonic() < deadline, "schedule not applied"
            time.sleep(0.1)
        route = client.get(f"{BASE}/routes/{rid}", headers=R).json()["route"]
        assert route["state"] == "canary" and route["changed_by"] == "schedule"  # the 48 h step is not due
        bad = client.post(f"{BASE}/routes", json=_body(feature="x", proof_route_id=proof, schedule=[
            {"after_hours": 5, "share": 0.5}, {"after_hours": 1, "share": 0.2}]), headers=W)
        assert bad.status_code == 422
