"""Mining, shadow runs and recommendations through the service API on a real chDB store.

Product traffic is inserted as the exporter would write it (captured content on), the shadow run
(a background job) replays it on the candidate through the real openai SDK against the local
provider, configured as the service's endpoint, and the judge (the baseline's model) answers through
the provider's judge mode.
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
          tokens=(400, 150), cost=0.0055, answered_by=GPT4):
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
            [{"role": "assistant", "parts": [{"type": "text", "content": record.answers[answered_by]}],
              "finish_reason": "stop"}])
        attrs[semconv.TP_REQUEST_PARAMS] = json.dumps({"temperature": 0, "max_tokens": 300})
    return {"service": service, "timestamp": when, "attributes": attrs, "duration_ms": 900}


@pytest.fixture()
def service(tmp_path, monkeypatch):
    store = Store.open(data_dir=tmp_path / "data")
    app = create_app(store, api_token=TOKEN)
    assert app.state.api_routers.get("proof") == "ok"  # mounted through the tokenproof.api entry point
    with TestClient(app, client=("127.0.0.1", 50000)) as client, run_provider() as provider:
        # provider endpoints are service configuration, never request fields
        monkeypatch.setenv("TOKENPROOF_PROOF_BASE_URL", provider.base_url_openai)
        monkeypatch.setenv("TOKENPROOF_PROOF_ANTHROPIC_BASE_URL", provider.base_url_anthropic)
        monkeypatch.setenv("TOKENPROOF_PROOF_PORTFOLIO_ROUTES", "1")
        yield store, client, provider
    store.close()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _run(client, body) -> dict:
    """Start a background shadow run and wait for its result."""
    started = client.post("/api/v1/shadow-runs", json=body, headers=AUTH)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] == "running" and job["job_id"].startswith("job_")
    done = client.get(f"/api/v1/shadow-runs/{job['job_id']}", params={"wait_s": 240}).json()
    assert done["state"] == "done", done
    return done["result"]


def _traffic(store, now):
    records = [r for r in get_corpus().records if r.feature == "mmlu:world_religions"][:160]
    tiny = [r for r in get_corpus().records if r.feature == "mmlu:marketing"][:3]
    spans = [_span(r, feature="math-tutor", model=GPT4, fingerprint="fp-math",
                   when=now - dt.timedelta(hours=i)) for i, r in enumerate(records)]
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
    assert math["calls"] == 160 and math["baseline_model"] == GPT4 and math["captured_calls"] == 160
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
    store, client, _provider = service
    _traffic(store, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    body = {"service": "shop", "feature": "math-tutor", "fingerprint": "fp-math", "baseline": GPT4,
            "candidate": "mixtral-8x7b-instruct", "limit": 160, "budget_usd": 5.0, "seed": 7}
    assert client.post("/api/v1/shadow-runs", json=body).status_code == 401  # writes need the token
    result = _run(client, body)
    assert result["judge"] == GPT4 and result["decision"] == "switch" and result["status"] == "switch"
    assert result["n"] >= 30 and result["new_comparisons"] == result["n"] and result["spent_usd"] > 0
    assert result["sample_seed"] == 7 and result["meaning"].startswith("SWITCH means:")

    detail = client.get(f"/api/v1/routes/{result['route_id']}/comparisons", headers=AUTH).json()
    comparisons = detail["comparisons"]
    assert len(comparisons) == result["n"]
    first = comparisons[0]
    assert first["verdict_baseline_first"] in {"A", "B", "C"} and first["verdict_candidate_first"] in {"A", "B", "C"}
    assert first["baseline_output"] and first["candidate_output"] and first["baseline_recorded"]
    assert first["candidate_cost_usd"] > 0 and first["judge_cost_usd"] > 0 and first["length_ratio"] > 0
    assert first["judge_calls"] == 2 and first["error_kind"] == ""
    assert [c["seq"] for c in comparisons] == list(range(len(comparisons)))
    # random, day-stratified sample: not the oldest prompts first
    stamps = [c["request_ref"] for c in comparisons]
    assert len(set(stamps)) == len(stamps)

    # the decided route does not spend more
    again = _run(client, body)
    assert again["new_comparisons"] == 0 and again["stop_reason"] == "decided"

    recs = client.get("/api/v1/recommendations").json()
    (rec,) = recs["recommendations"]
    assert rec["route_id"] == result["route_id"] and rec["candidate"] == "mixtral-8x7b-instruct"
    assert rec["monthly_saving_usd"] > 0 and rec["confidence"]["loss_rate_upper_bound"] < 0.15
    assert rec["portfolio_switch"] and rec["meaning"].startswith("SWITCH means:")
    assert rec["evidence"].endswith("/comparisons")


def test_new_versions_spend_the_groups_alpha_and_never_reuse_its_prompts(service):
    store, client, _provider = service
    _traffic(store, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    body = {"feature": "math-tutor", "baseline": GPT4, "candidate": "mixtral-8x7b-instruct", "limit": 5}
    first = _run(client, body)
    second = _run(client, {**body, "judge": "claude-sonnet-4-5"})
    assert first["route_id"] != second["route_id"]
    assert (first["version"], second["version"]) == (1, 2)
    assert second["n"] == 5 and second["judge"] == "claude-sonnet-4-5"
    # re-reading the same evidence with other parameters is a new version too, at a smaller alpha
    third = _run(client, {**body, "max_loss": 0.3, "margin": 0.2})
    assert third["version"] == 3 and third["route_id"] not in {first["route_id"], second["route_id"]}
    assert first["alpha_spent"] > second["alpha_spent"] > third["alpha_spent"]
    assert sum(sq_alpha for sq_alpha in (first["alpha_spent"], second["alpha_spent"], third["alpha_spent"])) < 0.05
    refs = [{c["prompt_ref"] for c in client.get(f"/api/v1/routes/{r['route_id']}/comparisons", headers=AUTH).json()["comparisons"]}
            for r in (first, second, third)]
    assert not (refs[0] & refs[1]) and not (refs[0] & refs[2]) and not (refs[1] & refs[2])
    refused = client.post("/api/v1/shadow-runs", json={**body, "judge": "mistral-large-latest"}, headers=AUTH)
    assert refused.status_code == 422 and "family" in refused.json()["detail"]


def test_budget_stops_the_shadow_run(service):
    store, client, _provider = service
    _traffic(store, dt.datetime.now(dt.UTC).replace(tzinfo=None))
    body = {"feature": "math-tutor", "baseline": GPT4, "candidate": "mixtral-8x7b-instruct", "limit": 80,
            "budget_usd": 0.05}
    result = _run(client, body)
    assert result["stop_reason"] == "budget exhausted" and result["status"] == "budget_exhausted"
    assert 0 < result["n"] < 30 and result["spent_usd"] >= 0.05


def test_a_shadow_run_can_be_cancelled_and_reports_progress(tmp_path, monkeypatch):
    store = Store.open(data_dir=tmp_path / "data")
    try:
        app = create_app(store, api_token=TOKEN)
        with TestClient(app, client=("127.0.0.1", 50000)) as client, run_provider(latency_ms=150) as provider:
            monkeypatch.setenv("TOKENPROOF_PROOF_BASE_URL", provider.base_url_openai)
            _traffic(store, dt.datetime.now(dt.UTC).replace(tzinfo=None))
            body = {"feature": "math-tutor", "baseline": GPT4, "candidate": "mixtral-8x7b-instruct", "limit": 100}
            job = client.post("/api/v1/shadow-runs", json=body, headers=AUTH).json()
            assert client.post(f"/api/v1/shadow-runs/{job['job_id']}/cancel").status_code == 401
            cancelled = client.post(f"/api/v1/shadow-runs/{job['job_id']}/cancel", headers=AUTH).json()
            assert cancelled["cancel_requested"]
            done = client.get(f"/api/v1/shadow-runs/{job['job_id']}", params={"wait_s": 120}).json()
            assert done["state"] == "cancelled" and done["result"]["stop_reason"] == "cancelled"
            assert done["result"]["n"] < 100
            listed = client.get("/api/v1/shadow-runs").json()["jobs"]
            assert [j["job_id"] for j in listed] == [job["job_id"]]
            assert client.get("/api/v1/shadow-runs/job_nope").status_code == 404
    finally:
        store.close()


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
    monkeypatch.setenv("TOKENPROOF_PROOF_BASE_URL", provider.base_url_openai)
    monkeypatch.setenv("TOKENPROOF_PROOF_PORTFOLIO_ROUTES", "1")
    assert main(["shadow", "--feature", "math-tutor", "--baseline", GPT4, "--candidate", "mixtral-8x7b-instruct",
                 "--limit", "160", "--wait"]) == 0
    out = capsys.readouterr().out
    assert "SWITCH after" in out and "SWITCH means:" in out
    assert main(["shadow-status"]) == 0
    assert "done" in capsys.readouterr().out
    assert main(["recommendations"]) == 0
    out = capsys.readouterr().out
    assert f"{GPT4} -> mixtral-8x7b-instruct" in out and "saves $" in out


def test_shadow_run_on_uploaded_requests(service):
    from tokenproof_devkit.examples import gsm8k_batch_lines
    _store, client, _provider = service
    lines = gsm8k_batch_lines(30, seed=4, feature="mmlu:world_religions")
    body = {"feature": "homework", "baseline": GPT4, "candidate": "mixtral-8x7b-instruct",
            "limit": 40, "requests": lines + lines[:10]}  # duplicates are skipped
    result = _run(client, body)
    assert result["new_comparisons"] == result["n"] == 30 and result["duplicates_skipped"] == 10
    comparisons = client.get(f"/api/v1/routes/{result['route_id']}/comparisons", headers=AUTH).json()["comparisons"]
    assert not comparisons[0]["baseline_recorded"] and comparisons[0]["baseline_cost_usd"] > 0
    assert comparisons[0]["request_ref"] == lines[0]["custom_id"]
    bad = client.post("/api/v1/shadow-runs", json={**body, "requests": [{"body": {}}]},
                      headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 422 and "line 1" in bad.json()["detail"]


def test_a_caller_chosen_base_url_is_refused_and_no_credential_leaves(service, monkeypatch):
    """The old request shape sent the service's own OPENAI_API_KEY to a URL the caller picked."""
    import http.server
    import threading

    from tokenproof_devkit.examples import gsm8k_batch_lines
    from tokenproof_devkit.provider.testing import bind_socket
    _store, client, _provider = service
    seen: list[str] = []

    class Listener(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(self.headers.get("Authorization", "") + self.headers.get("x-api-key", ""))
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass
    sock = bind_socket()
    server = http.server.HTTPServer(("127.0.0.1", 0), Listener, bind_and_activate=False)
    server.socket = sock
    sock.listen()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-123")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-canary-456")
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
        body = {"feature": "homework", "baseline": GPT4, "candidate": "mixtral-8x7b-instruct", "limit": 3,
                "requests": gsm8k_batch_lines(3, seed=4, feature="mmlu:marketing")}
        for field in ({"base_url": url}, {"anthropic_base_url": url, "judge": "claude-sonnet-4-5"}):
            refused = client.post("/api/v1/shadow-runs", json={**body, **field}, headers=AUTH)
            assert refused.status_code == 422
            assert "service settings" in refused.text and "endpoint" in refused.text
        unknown = client.post("/api/v1/shadow-runs", json={**body, "endpoint": url}, headers=AUTH)
        assert unknown.status_code == 422 and "unknown endpoint" in unknown.text
        assert client.get("/api/v1/shadow-runs").json()["jobs"] == []
        assert seen == []  # nothing, and no canary key, ever reached the caller's URL
    finally:
        server.shutdown()
        server.server_close()


def test_stored_comparisons_hold_prompts_and_answers_so_they_need_a_read_token(service):
    _store, client, _provider = service
    refused = client.get("/api/v1/routes/any-route/comparisons")
    assert refused.status_code == 401 and "read-scope token" in refused.json()["detail"]


def test_a_judge_that_cannot_tell_the_baseline_from_itself_makes_the_route_uninformative(service):
    """Before a new route's first comparison the judge compares two independent baseline samples: the
    answer recorded in production and a replay. Here production answers vary as much as two models
    do (the recorded answers are another model's), so the judge prefers one sample far too often: the
    route can never be switched, whatever the candidate does."""
    from tokenproof_devkit.provider.corpus import MIXTRAL

    store, client, _provider = service
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    records = [r for r in get_corpus().records if r.dataset == "gsm8k"][:80]
    insert_spans(store, [_span(r, feature="noisy", model=GPT4, fingerprint="fp-noisy", answered_by=MIXTRAL,
                               when=now - dt.timedelta(hours=i)) for i, r in enumerate(records)])
    result = _run(client, {"feature": "noisy", "baseline": GPT4, "candidate": "mixtral-8x7b-instruct",
                           "limit": 60, "budget_usd": 5})
    calibration = result["calibration"]
    assert calibration["distinct_pairs"] > 0 and calibration["judge_reliable"] is False
    assert calibration["non_tie_rate"] >= 0.15
    assert result["decision"] == "uninformative" and "baseline from itself" in result["uninformative_reason"]
