"""`tokenproof optimize` through the service and ``/api/v1/optimize-runs``, end to end over HTTP.

A stand-in small model (``standin.py``: its answers depend on the system prompt, unlike the replay
server's) plays the candidate, the optimiser and the shadow judge at the endpoint the *service*
configures. The chosen prompt must become a new route version with evidence from zero and the
group's next alpha, proven by the normal shadow run on prompts the optimiser never used.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tokenproof import semconv
from tokenproof.analytics.proof.sequential import Params
from tokenproof.analytics.proof.shadow import route_alpha
from tokenproof.cli import main
from tokenproof.client import ServiceClient, ServiceError
from tokenproof.collector.store import Store
from tokenproof.collector.testing import ServiceThread, insert_spans
from tokenproof_devkit.provider.corpus import GPT4, get_corpus

from .standin import PROPOSAL, run_standin

TOKEN = "test-api-token"
CANDIDATE = "standin-small"


def _lines(n=40):
    records = [r for r in get_corpus().records if r.dataset == "gsm8k" and "####" in r.answers[GPT4]][:n]
    return [{"custom_id": r.id, "feature": "homework", "reference": r.reference,
             "body": {"model": GPT4, "messages": [{"role": "system", "content": "Solve the problem."},
                                                  {"role": "user", "content": r.prompt}]},
             "response": {"status_code": 200, "body": {"model": GPT4, "choices": [{"message": {
                 "role": "assistant", "content": r.answers[GPT4]}, "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 90, "completion_tokens": 120}}}} for r in records]


@pytest.fixture()
def service(tmp_path, monkeypatch):
    store = Store.open(data_dir=tmp_path / "data")
    with run_standin() as (url, calls):
        monkeypatch.setenv("TOKENPROOF_PROOF_BASE_URL", url)  # the service's own endpoint setting
        monkeypatch.setenv("TOKENPROOF_PROOF_PORTFOLIO_ROUTES", "1")
        thread = ServiceThread(store, api_token=TOKEN)
        try:
            yield thread, store, calls
        finally:
            thread.stop()
            store.close()


def test_an_optimised_prompt_becomes_a_new_route_version_proven_on_fresh_prompts(service, tmp_path, capsys):
    thread, _store, calls = service
    client = ServiceClient(thread.url, TOKEN)
    lines = _lines()
    # the current route (the request's own prompt) was under test already: version 1 of the group
    first = client.start_shadow_run(GPT4, CANDIDATE, feature="homework", requests=lines[:4], limit=4)
    while first.running:
        first = client.shadow_run(first.job_id, wait_s=20)
    assert first.result is not None and first.result.version == 1
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    code = main(["optimize", str(batch), "--via-service", "--service-url", thread.url, "--token", TOKEN,
                 "--baseline", GPT4, "--candidate", CANDIDATE, "--feature", "homework", "--rounds", "1",
                 "--sizes", "6,5,10", "--shadow", "--wait"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    (job,) = client.optimize_runs()
    report = job.result
    assert job.state == "done" and report is not None
    assert report["judge"] == "reference-check" and report["changed"]
    assert report["chosen"]["prompt"].startswith(PROPOSAL)  # the optimiser's proposal (or it with demos)
    held = report["held_out_figures"]
    assert held["before"]["match_rate"] == 0.0 and held["after"]["match_rate"] == 1.0
    assert held["paired"]["gained"] == 10 and held["paired"]["p_value"] < 0.01
    # the longer prompt is priced into the savings line; the stand-in is unpriced, so is the saving
    savings = report["savings"]
    assert savings["extra_prompt_tokens"] > 0 and savings["saving_per_call_usd_after"] is None
    assert report["spend"]["total"]["unpriced_calls"] > 0  # counted, never $0
    route = report["route"]
    assert route["route_id"] != route["previous_route_id"] and route["evidence_n"] == 0
    assert route["version"] == 2 and route["alpha"] == route_alpha(Params(), 2) < route_alpha(Params(), 1)
    shadow = report["shadow"]  # the normal shadow proof of the new version
    assert shadow["route_id"] == route["route_id"] and shadow["version"] == 2
    assert shadow["n"] == shadow["new_comparisons"] > 0  # evidence from zero
    compared = {c["prompt_ref"] for c in client.route_comparisons(route["route_id"]).comparisons}
    used = {ref for refs in report["split"]["refs"].values() for ref in refs}
    assert compared and not compared & used  # never a prompt the optimiser tuned on or reported on
    assert "HELD-OUT FIGURES" in printed and f"shadow proof of {route['route_id']}" in printed
    # optimiser calls carried the proposal prompt; the candidate saw the chosen prompt
    assert any((c["messages"][0].get("content") or "").startswith("You improve system prompts") for c in calls)


def test_a_caller_supplied_url_is_refused_and_writes_need_the_token(service):
    thread, _store, calls = service
    body = {"baseline": GPT4, "candidate": CANDIDATE, "requests": _lines(12)}
    with pytest.raises(ServiceError) as refused:
        ServiceClient(thread.url, TOKEN).start_optimize_run(**body, optimizer_base_url="http://attacker.example/v1")
    assert refused.value.status == 422 and "optimizer_base_url" in str(refused.value)
    with pytest.raises(ServiceError) as unknown:
        ServiceClient(thread.url, TOKEN).start_optimize_run(**body, endpoint="elsewhere")
    assert unknown.value.status == 422 and "unknown endpoint" in str(unknown.value)
    with pytest.raises(ServiceError) as anonymous:
        ServiceClient(thread.url, "").start_optimize_run(**body)
    assert anonymous.value.status == 401
    assert calls == []  # nothing was called for any refused request


def _captured(record, when):
    """A product call as the instrumentation stores it with content capture on."""
    return {"service": "school", "timestamp": when, "attributes": {
        semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_PROVIDER_NAME: "openai",
        semconv.GEN_AI_REQUEST_MODEL: GPT4, semconv.GEN_AI_RESPONSE_MODEL: GPT4,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 90, semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 120, semconv.TP_FEATURE: "homework",
        semconv.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps([{"type": "text", "content": "Solve the problem."}]),
        semconv.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "parts": [{"type": "text", "content": record.prompt}]}]),
        semconv.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "finish_reason": "stop", "parts": [
            {"type": "text", "content": record.answers[GPT4]}]}])}}


def test_optimize_runs_on_the_groups_captured_prompts(service):
    thread, store, _calls = service
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    records = [r for r in get_corpus().records if r.dataset == "gsm8k" and "####" in r.answers[GPT4]][:30]
    insert_spans(store, [_captured(r, now - dt.timedelta(hours=i)) for i, r in enumerate(records)])
    client = ServiceClient(thread.url, TOKEN)
    job = client.start_optimize_run(GPT4, CANDIDATE, service="school", feature="homework", rounds=1,
                                    optimise_size=5, select_size=4, held_out_size=8)
    while job.running:
        job = client.optimize_run(job.job_id, wait_s=20)
    assert job.state == "done", job.error
    report = job.result
    sizes = report["split"]["sizes"]
    assert 0 < sum(sizes.values()) <= 30 and sizes["held_out"] <= 8
    assert report["changed"] and report["route"]["version"] == 1 and report["route"]["evidence_n"] == 0
    assert "HELD-OUT FIGURES" in report["text"]
