"""Mining, shadow runs and recommendations through the service API on a real chDB store.

Product traffic is inserted as the exporter would write it (captured content on), the shadow run
replays it on the candidate through the real openai SDK against the local provider, and the judge
(the baseline's model) answers through the provider's judge mode.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient

from tokenproof import semconv
from tokenproof.collector.app import create_app
from tokenproof.collector.store import Store
from tokenproof.collector.testing import insert_spans
from tokenproof_devkit.provider.corpus import GPT4, get_corpus
from tokenproof_devkit.provider.testing import run_provider

TOKEN = "test-api-token"
SYSTEM = [{"type": "text", "content": "Answer the multiple-choice question with the letter of the correct option."}]


def _span(record, *, feature, model, when, fingerprint, service="shop", capture=True, traffic=None,
          tokens=(400, 150), cost=0.0055):
    attrs = {
        semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.GEN_AI_REQUEST_MODEL: model, semconv.GEN_AI_RESPONSE_MODEL: model,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: tokens[0], semconv.GEN_AI_USAGE_OUTPUT_TOKENS: tokens[1],
        semconv.GEN_AI_USAGE_COST: cost, semconv.TP_COST_STATUS: semconv.COST_PRICED,
        semconv.TP_FEATURE: feature, semconv.TP_PROMPT_FINGERPRINT: fingerprint,
        semconv.TP_OUTPUT_FORMAT: "text",
    }
    if traffic:
        attrs[semconv.TP_TRAFFIC_CLASS] = traffic
    if capture and record is not None:
        attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = json.dumps(SYSTEM)
        attrs[semconv.GEN_AI_INPUT_MESSAGES] = json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": record.prompt}]}])
        attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": record.answers[GPT4]}],
              "finish_reason": "stop"}])
        attrs[semconv.TP_REQUEST_PARAMS] = json.dumps({"temperature": 0, "max_tokens": 300})
    return {"service": service, "timestamp": when, "attributes": attrs, "duration_ms": 900}


@pytest.fixture()
def service(tmp_path):
    store = Store.open(data_dir=tmp_path / "data")
    app = create_app(store, api_token=TOKEN)
    assert app.state.api_routers.get("proof") == "ok"  # mounted through the tokenproof.api entry point
    with TestClient(app, client=("127.0.0.1", 50000)) as client, run_provider() as provider:
        yield store, client, provider
    store.close()


def _traffic(store, now):
    records = [r for r in get_corpus().records if r.feature == "mmlu:high_school_mathematics"][:90]
    tiny = [r for r in get_corpus().records if r.feature == "mmlu:marketing"][:3]
    spans = [_span(r, feature="math-tutor", model=GPT4, fingerprint="fp-math",
                   when=now - dt.timedelta(hours=2 * i)) for i, r in enumerate(records)]
    spans += [_span(r, feature="rare-report", model=GPT4, fingerprint="fp-rare",
                    when=now - dt.timedelta(days=10 * i), tokens=(3000, 800), cost=0.054) for i, r in enumerate(tiny)]
    # experiment traffic must never be mined as product demand
    spans += [_span(None, feature="math-tutor", model="gpt-4o-mini", fingerprint="fp-math", traffic="shadow",
                    when=now, capture=False) for _ in range(50)]
    insert_spans(store, spans)


def test_mining_proposes_cheaper_candidates_and_flags_tiny_groups(service, monkeypatch):
    store, client, _provider = service
    monkeypatch.setenv("TOKENPROOF_PROOF_SHADOW_SAMPLE_RATE", "0.5")
    _traffic(store, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    unknown = _span(None, feature="private-model", model="acme-private-llm", fingerprint="fp-x", capture=False,
                    when=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    unknown["attributes"][semconv.TP_COST_STATUS] = semconv.COST_UNPRICED
    del unknown["attributes"][semconv.GEN_AI_USAGE_COST]
    insert_spans(store, [unknown] * 3)
    groups = client.get("/api/v1/candidates").json()["groups"]
    by_feature = {g["feature"]: g for g in groups}
    assert set(by_feature) == {"math-tutor", "rare-report", "private-model"}  # shadow traffic is not a group
    private = by_feature["private-model"]
    assert private["unpriced_calls"] == 3 and private["cost_usd"] == 0 and private["baseline_cost_per_call_usd"] is None
    assert private["candidates"] == []
    math = by_feature["math-tutor"]
    assert math["calls"] == 90 and math["baseline_model"] == GPT4 and math["captured_calls"] == 90
    assert math["mean_input_tokens"] == 400 and math["output_format"] == "text"
    assert not math["too_small"] and math["candidates"]
    for cand in math["candidates"]:
        assert cand["cost_per_call_usd"] < math["baseline_cost_per_call_usd"]
        assert cand["projected_monthly_saving_usd"] > 0
        assert cand["saving_share"] >= 0.2  # a cut too small to be worth proving is not proposed
    rare = by_feature["rare-report"]
    assert rare["too_small"] and rare["candidates"] == [] and rare["days_to_decision"] > 30
    # ranked by spend
    assert groups[0]["cost_usd"] >= groups[-1]["cost_usd"]


def test_shadow_run_stores_judged_comparisons_in_both_orders_and_recommends(service):
    store, client, provider = service
    _traffic(store, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    body = {"service": "shop", "feature": "math-tutor", "fingerprint": "fp-math", "baseline": GPT4,
            "candidate": "mixtral-8x7b-instruct", "base_url": provider.base_url_openai, "limit": 80,
            "budget_usd": 5.0}
    assert client.post("/api/v1/shadow-runs", json=body).status_code == 401  # writes need the token
    auth = {"Authorization": f"Bearer {TOKEN}"}
    run = client.post("/api/v1/shadow-runs", json=body, headers=auth)
    assert run.status_code == 200, run.text
    result = run.json()
    assert result["judge"] == GPT4 and result["decision"] == "switch" and result["status"] == "switch"
    assert result["n"] >= 30 and result["new_comparisons"] == result["n"] and result["spent_usd"] > 0

    detail = client.get(f"/api/v1/routes/{result['route_id']}/comparisons").json()
    comparisons = detail["comparisons"]
    assert len(comparisons) == result["n"]
    first = comparisons[0]
    assert first["verdict_baseline_first"] in {"A", "B", "C"} and first["verdict_candidate_first"] in {"A", "B", "C"}
    assert first["baseline_output"] and first["candidate_output"] and first["baseline_recorded"]
    assert first["candidate_cost_usd"] > 0 and first["judge_cost_usd"] > 0 and first["length_ratio"] > 0
    assert [c["seq"] for c in comparisons] == list(range(len(comparisons)))

    # the decided route does not spend more
    again = client.post("/api/v1/shadow-runs", json=body, headers=auth).json()
    assert again["new_comparisons"] == 0 and again["stop_reason"] == "decided"

    recs = client.get("/api/v1/recommendations").json()
    (rec,) = recs["recommendations"]
    assert rec["route_id"] == result["route_id"] and rec["candidate"] == "mixtral-8x7b-instruct"
    assert rec["monthly_saving_usd"] > 0 and rec["confidence"]["non_loss_lower_bound"] >= 0.85
    assert rec["evidence"].endswith("/comparisons")


def test_changing_the_judge_is_a_new_route_version_with_fresh_evidence(service):
    store, client, provider = service
    _traffic(store, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = {"feature": "math-tutor", "baseline": GPT4, "candidate": "mixtral-8x7b-instruct",
            "base_url": provider.base_url_openai, "limit": 5}
    first = client.post("/api/v1/shadow-runs", json=body, headers=auth).json()
    second = client.post("/api/v1/shadow-runs", json={**body, "judge": "claude-sonnet-4-5",
                                                       "anthropic_base_url": provider.base_url_anthropic},
                         headers=auth).json()
    assert first["route_id"] != second["route_id"]
    assert (first["version"], second["version"]) == (1, 2)
    assert second["n"] == 5 and second["judge"] == "claude-sonnet-4-5"
    refused = client.post("/api/v1/shadow-runs", json={**body, "judge": "mistral-large-latest"}, headers=auth)
    assert refused.status_code == 422 and "family" in refused.json()["detail"]


def test_budget_stops_the_shadow_run(service):
    store, client, provider = service
    _traffic(store, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    body = {"feature": "math-tutor", "baseline": GPT4, "candidate": "mixtral-8x7b-instruct",
            "base_url": provider.base_url_openai, "limit": 80, "budget_usd": 0.05}
    result = client.post("/api/v1/shadow-runs", json=body, headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert result["stop_reason"] == "budget exhausted" and result["status"] == "budget_exhausted"
    assert 0 < result["n"] < 30 and result["spent_usd"] >= 0.05


@pytest.fixture()
def live_service(tmp_path, monkeypatch):
    """The service app served over HTTP on a free loopback port (the CLI talks HTTP to it)."""
    import threading
    import time

    import uvicorn

    from tokenproof_devkit.provider.testing import bind_socket

    store = Store.open(data_dir=tmp_path / "data")
    app = create_app(store, api_token=TOKEN)
    assert app.state.api_routers.get("proof") == "ok"  # mounted through the tokenproof.api entry point
    sock = bind_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    monkeypatch.setenv("TOKENPROOF_SERVICE_URL", f"http://127.0.0.1:{sock.getsockname()[1]}")
    monkeypatch.setenv("TOKENPROOF_API_TOKEN", TOKEN)
    try:
        with run_provider() as provider:
            yield store, provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        store.close()


def test_cli_commands_go_through_the_service(live_service, capsys, monkeypatch):
    from tokenproof.cli import main
    monkeypatch.setenv("TOKENPROOF_PROOF_SHADOW_SAMPLE_RATE", "0.5")
    store, provider = live_service
    _traffic(store, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    assert main(["candidates"]) == 0
    out = capsys.readouterr().out
    assert "math-tutor" in out and "per month" in out and "too small to decide" in out
    assert main(["shadow", "--feature", "math-tutor", "--baseline", GPT4, "--candidate", "mixtral-8x7b-instruct",
                 "--base-url", provider.base_url_openai, "--limit", "80"]) == 0
    out = capsys.readouterr().out
    assert "SWITCH after" in out
    assert main(["recommendations"]) == 0
    out = capsys.readouterr().out
    assert f"{GPT4} -> mixtral-8x7b-instruct" in out and "saves $" in out


def test_shadow_run_on_uploaded_requests(service):
    from tokenproof_devkit.examples import gsm8k_batch_lines
    _store, client, provider = service
    lines = gsm8k_batch_lines(60, seed=4, feature="mmlu:high_school_mathematics")
    body = {"feature": "homework", "baseline": GPT4, "candidate": "mixtral-8x7b-instruct",
            "base_url": provider.base_url_openai, "limit": 60, "requests": lines}
    result = client.post("/api/v1/shadow-runs", json=body, headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert result["decision"] == "switch" and result["new_comparisons"] == result["n"] >= 30
    comparisons = client.get(f"/api/v1/routes/{result['route_id']}/comparisons").json()["comparisons"]
    assert not comparisons[0]["baseline_recorded"] and comparisons[0]["baseline_cost_usd"] > 0
    assert comparisons[0]["request_ref"] == lines[0]["custom_id"]
    bad = client.post("/api/v1/shadow-runs", json={**body, "requests": [{"body": {}}]},
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 422 and "line 1" in bad.json()["detail"]
