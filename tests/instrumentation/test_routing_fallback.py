"""Routed calls over the SDKs' mock transports: format and refusal fallbacks, canary draws.

(The replay provider always answers in the requested format; these candidate failures need canned
answers. Errors, timeouts and streams against the provider are in tests/routing.)
"""

from __future__ import annotations

import pytest

from tokenproof import semconv as sc
from tokenproof import tag
from tokenproof.instrumentation import _routing, _runtime

from .conftest import anthropic_client, anthropic_message, chat_completion, openai_client, sse

GOOD = '{"answer": 72}'
SCHEMA = {"type": "json_schema", "json_schema": {"name": "a", "schema": {
    "type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}}}
TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}}}]


def _route(baseline="gpt-4o", candidate="gpt-4o-mini", share=1.0, state="active", rid="rt_1"):
    return {"id": rid, "version": 1, "state": state, "traffic_share": share, "candidate": candidate,
            "match": {"service": "", "feature": "", "fingerprint": "", "baseline": baseline}}


@pytest.fixture()
def routed(instrumented):
    router = _routing.Router("http://127.0.0.1:9/unused", "")
    _runtime.get().router = router

    def load(*routes):
        router.table = _routing.parse_document({"routes": list(routes)}, "")
        return router

    load(_route())
    yield instrumented, load
    _runtime.get().router = None


def _answers(candidate_answer, baseline_answer=None):
    seen = []

    def handler(body):
        seen.append(body["model"])
        if body["model"] == "gpt-4o-mini":
            return 200, candidate_answer
        return 200, baseline_answer or chat_completion(model="gpt-4o", content=GOOD)
    return handler, seen


@pytest.mark.parametrize("candidate,kwargs,reason", [
    (chat_completion(content="answer: 72"), {"response_format": {"type": "json_object"}}, sc.FALLBACK_FORMAT),
    (chat_completion(content='{"answer": "seventy-two"}'), {"response_format": SCHEMA}, sc.FALLBACK_FORMAT),
    (chat_completion(content="", finish="length"), {}, sc.FALLBACK_FORMAT),
    (chat_completion(tool_calls=[{"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{a:"}}],
                     finish="tool_calls"), {"tools": TOOLS}, sc.FALLBACK_FORMAT),
    (chat_completion(tool_calls=[{"id": "c1", "type": "function", "function": {"name": "rm", "arguments": "{}"}}],
                     finish="tool_calls"), {"tools": TOOLS}, sc.FALLBACK_FORMAT),
    (chat_completion(content="I'm sorry, but I can't help with that."), {}, sc.FALLBACK_REFUSAL),
    # the same rules as the proof engine's gates: typographic apostrophes, other phrasings, and JSON
    # in a Markdown fence (the app's own json.loads fails on it)
    (chat_completion(content="I\u2019m sorry, but I can\u2019t assist with that."), {}, sc.FALLBACK_REFUSAL),
    (chat_completion(content="As an AI language model, I cannot browse."), {}, sc.FALLBACK_REFUSAL),
    (chat_completion(content='```json\n{"answer": 72}\n```'), {"response_format": {"type": "json_object"}},
     sc.FALLBACK_FORMAT),
])
def test_format_failures_and_refusals_fall_back_to_the_baseline(routed, candidate, kwargs, reason):
    telemetry, _load = routed
    handler, seen = _answers(candidate)
    response = openai_client(handler).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "48 + 24?"}], **kwargs)
    assert seen == ["gpt-4o-mini", "gpt-4o"]
    assert response.choices[0].message.content == GOOD and response.model == "gpt-4o"
    first, second = telemetry.llm_spans()
    assert first.attributes[sc.TP_ROUTE_FALLBACK_REASON] == reason
    assert second.attributes[sc.TP_ROUTE_FALLBACK] is True and second.attributes[sc.TP_ROUTE_FALLBACK_REASON] == reason
    assert first.attributes[sc.TP_COST_STATUS] == second.attributes[sc.TP_COST_STATUS] == sc.COST_PRICED


def test_a_valid_candidate_answer_is_kept(routed):
    telemetry, _load = routed
    handler, seen = _answers(chat_completion(model="gpt-4o-mini", content='{"answer": 72}'))
    response = openai_client(handler).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "48 + 24?"}], response_format=SCHEMA)
    assert seen == ["gpt-4o-mini"] and response.model == "gpt-4o-mini"
    assert sc.TP_ROUTE_FALLBACK_REASON not in telemetry.only_span().attributes


def test_a_stream_failing_before_its_first_chunk_falls_back(routed):
    telemetry, _load = routed
    error_first = sse([{"error": {"message": "overloaded", "type": "server_error"}}], done=False)
    good = [{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": GOOD}, "finish_reason": "stop"}]}]
    handler, seen = _answers(error_first, sse(good))
    chunks = list(openai_client(handler).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert seen == ["gpt-4o-mini", "gpt-4o"]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == GOOD
    first, second = telemetry.llm_spans()
    assert first.attributes[sc.TP_ROUTE_FALLBACK_REASON] == sc.FALLBACK_STREAM
    assert second.attributes[sc.TP_ROUTE_FALLBACK] is True


def test_anthropic_refusal_falls_back_and_the_candidate_prompt_is_applied(routed):
    telemetry, load = routed
    load({**_route("claude-sonnet-4-5", "claude-haiku-4-5"), "candidate_system_prompt": "Be exact."})
    bodies = []

    def handler(body):
        bodies.append(body)
        if body["model"] == "claude-haiku-4-5":
            refused = anthropic_message(model=body["model"], text="")
            refused["stop_reason"] = "refusal"
            return 200, refused
        return 200, anthropic_message(model=body["model"], text="72")
    message = anthropic_client(handler).messages.create(
        model="claude-sonnet-4-5", max_tokens=50, system="Be brief.", messages=[{"role": "user", "content": "48+24"}])
    assert message.content[0].text == "72"
    assert [(b["model"], b["system"]) for b in bodies] == [("claude-haiku-4-5", "Be exact."),
                                                           ("claude-sonnet-4-5", "Be brief.")]
    first, second = telemetry.llm_spans()
    assert first.attributes[sc.TP_ROUTE_FALLBACK_REASON] == sc.FALLBACK_REFUSAL
    assert first.attributes[sc.TP_PROMPT_FINGERPRINT] == second.attributes[sc.TP_PROMPT_FINGERPRINT]


def test_canary_share_is_sticky_per_customer(routed):
    _telemetry, load = routed
    load(_route(share=0.3, state="canary"))
    handler, seen = _answers(chat_completion(model="gpt-4o-mini", content="ok"))
    client = openai_client(handler)
    routed_customers = set()
    for i in range(200):
        for _ in range(2):
            with tag(customer=f"cust-{i}"):
                client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        pair = seen[-2:]
        assert pair[0] == pair[1]  # the same customer always lands on the same side
        if pair[0] == "gpt-4o-mini":
            routed_customers.add(i)
    assert 40 <= len(routed_customers) <= 80  # about 30% of 200 customers
    load(_route(share=0.3, state="paused"))
    seen.clear()
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert seen == ["gpt-4o"]  # a paused route moves nothing


def test_experiment_traffic_is_never_routed(routed):
    handler, seen = _answers(chat_completion(model="gpt-4o-mini"))
    with tag(traffic_class=sc.TRAFFIC_SHADOW):
        openai_client(handler).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert seen == ["gpt-4o"]
