"""Format gates, swap-and-tie, judge family refusal and the length-controlled win rate."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tokenproof.analytics.proof.answer import Answer, ToolCall
from tokenproof.analytics.proof.gates import check_format
from tokenproof.analytics.proof.judge import (
    JudgeFamilyError,
    build_prompt,
    combine_orders,
    compare,
    model_family,
    parse_verdict,
    resolve_judge,
)
from tokenproof.analytics.proof.lengthctl import length_controlled

SCHEMA_REQUEST = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Classify the ticket: 'my card was charged twice'"}],
    "response_format": {"type": "json_schema", "json_schema": {"name": "ticket", "schema": {
        "type": "object", "required": ["category", "urgent"],
        "properties": {"category": {"enum": ["billing", "bug", "other"]}, "urgent": {"type": "boolean"}},
    }}},
}
TOOL_REQUEST = {
    "model": "gpt-4o",
    "messages": [{"role": "user", "content": "Weather in Paris?"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}}}],
}


def _a(text="", **kw) -> Answer:
    return Answer(model=kw.pop("model", "m"), text=text, **kw)


def test_schema_gate_accepts_valid_json_and_names_the_failure():
    ok = check_format(SCHEMA_REQUEST, _a('{"category": "billing", "urgent": true}'))
    assert ok.valid, ok.failures
    fenced = check_format(SCHEMA_REQUEST, _a('```json\n{"category": "bug", "urgent": false}\n```'))
    assert fenced.valid
    bad_enum = check_format(SCHEMA_REQUEST, _a('{"category": "refund", "urgent": true}'))
    assert not bad_enum.valid and "category" in bad_enum.failures[0]
    missing = check_format(SCHEMA_REQUEST, _a('{"category": "bug"}'))
    assert not missing.valid and "urgent" in missing.failures[0]
    not_json = check_format(SCHEMA_REQUEST, _a("It is a billing issue."))
    assert not not_json.valid and "not valid JSON" in not_json.failures[0]


def test_tool_call_gate():
    good = _a(tool_calls=[ToolCall("get_weather", json.dumps({"city": "Paris"}))])
    assert check_format(TOOL_REQUEST, good).valid
    wrong_tool = _a(tool_calls=[ToolCall("get_forecast", "{}")])
    assert "undeclared tool" in check_format(TOOL_REQUEST, wrong_tool).failures[0]
    bad_args = _a(tool_calls=[ToolCall("get_weather", json.dumps({"town": "Paris"}))])
    assert "city" in check_format(TOOL_REQUEST, bad_args).failures[0]
    broken = _a(tool_calls=[ToolCall("get_weather", '{"city": ')])
    assert "not JSON" in check_format(TOOL_REQUEST, broken).failures[0]
    text_instead = check_format(TOOL_REQUEST, _a("It is sunny."), baseline=good)
    assert not text_instead.valid and "baseline called a tool" in text_instead.failures[0]


def test_truncation_refusal_and_errors_fail():
    req = {"messages": [{"role": "user", "content": "hi"}]}
    assert "truncated" in check_format(req, _a("half an answ", finish_reason="length")).failures[0]
    refusal = check_format(req, _a("I'm sorry, but I can't help with that."), baseline=_a("Sure: 42"))
    assert "refusal" in refusal.failures[0]
    both_refuse = check_format(req, _a("I cannot help with that."), baseline=_a("I can't help with that."))
    assert both_refuse.valid
    assert not check_format(req, _a(error="HTTP 500")).valid


class ScriptedJudge:
    """Answers judge prompts by a rule on the two answers (a stand-in for a judge model's reply)."""

    def __init__(self, rule):
        self.rule = rule
        self.prompts = []

    def __call__(self, messages):
        self.prompts.append(messages)
        user = messages[-1]["content"]
        a = user.split("[The Start of Assistant A's Answer]\n")[1].split("\n[The End")[0]
        b = user.split("[The Start of Assistant B's Answer]\n")[1].split("\n[The End")[0]
        return Answer(model="judge", text=f"Reasoning...\n[[{self.rule(a, b)}]]")


def test_swap_and_tie_wins_only_when_both_orders_agree():
    req = {"messages": [{"role": "user", "content": "2+2?"}]}
    base, cand = _a("4", model="gpt-4o"), _a("The answer is 4.", model="mixtral")
    always_first = ScriptedJudge(lambda a, b: "A")  # pure position bias
    result = compare(req, base, cand, always_first)
    assert result.outcome == "tie" and result.swap_consistent is False
    assert (result.result_baseline_first, result.result_candidate_first) == ("loss", "win")
    longer = ScriptedJudge(lambda a, b: "A" if len(a) > len(b) else "B")
    result = compare(req, base, cand, longer)
    assert result.outcome == "win" and result.swap_consistent is True
    assert len(longer.prompts) == 2
    # blind: no model names in what the judge reads
    assert all("gpt-4o" not in m[-1]["content"] and "mixtral" not in m[-1]["content"] for m in longer.prompts)
    assert combine_orders("loss", "loss") == ("loss", True)
    assert combine_orders("win", "tie") == ("tie", False)


def test_format_failure_is_a_loss_without_asking_the_judge():
    judge = ScriptedJudge(lambda a, b: "B")
    result = compare(SCHEMA_REQUEST, _a('{"category": "bug", "urgent": false}'), _a("bug"), judge)
    assert result.outcome == "loss" and result.decided_by == "format" and judge.prompts == []


def test_reference_guided_prompt_and_verdict_parsing():
    messages = build_prompt("2+2?", "4", "5", reference="4")
    user = messages[-1]["content"]
    assert user.index("[User Question]") < user.index("[The Start of Reference Answer]") < user.index(
        "[The Start of Assistant A's Answer]")
    assert parse_verdict("A is better [[A]] ... final: [[B]]") == "B"
    assert parse_verdict("no verdict") is None


def test_judge_of_the_candidates_family_is_refused():
    assert model_family("gpt-4o-mini") == model_family("gpt-4-1106-preview") == "gpt"
    assert model_family("mistralai/Mixtral-8x7B-Instruct-v0.1") == "mistral"
    assert resolve_judge("gpt-4-1106-preview", "mixtral-8x7b-instruct") == "gpt-4-1106-preview"
    assert resolve_judge("gpt-4o", "gpt-4o-mini", judge="claude-sonnet-4") == "claude-sonnet-4"
    with pytest.raises(JudgeFamilyError, match=r"candidate 'gpt-4o-mini'.s family"):
        resolve_judge("gpt-4o", "gpt-4o-mini")
    with pytest.raises(JudgeFamilyError, match="--judge"):
        resolve_judge("gpt-4o", "claude-haiku-4-5", judge="claude-opus-4")


def test_length_controlled_win_rate_removes_a_pure_length_preference():
    rng = np.random.default_rng(7)
    n = 2000
    base = rng.integers(200, 600, n)
    cand = base + rng.normal(250, 200, n).astype(int)  # the candidate is usually longer
    d = cand - base
    p = 1 / (1 + np.exp(-3.0 * np.tanh(d / d.std())))  # preference driven only by length
    prefs = (rng.random(n) < p).astype(float)
    lc = length_controlled(prefs, cand, base)
    assert lc.raw_win_rate > 0.75
    assert abs(lc.lc_win_rate - 0.5) < 0.08
    assert lc.length_explains_verdicts and lc.mean_length_ratio > 1.3


def test_length_controlled_keeps_a_real_preference():
    rng = np.random.default_rng(8)
    n = 1000
    base = rng.integers(200, 600, n)
    cand = base + rng.integers(-50, 50, n)
    prefs = np.where(rng.random(n) < 0.7, 1.0, np.where(rng.random(n) < 0.5, 0.5, 0.0))
    lc = length_controlled(prefs, cand, base)
    assert abs(lc.lc_win_rate - lc.raw_win_rate) < 0.03 and not lc.length_explains_verdicts


def test_a_failed_or_verdictless_judge_is_not_a_tie():
    from tokenproof.analytics.proof.judge import JudgeFailed
    req = {"messages": [{"role": "user", "content": "2+2?"}]}
    with pytest.raises(JudgeFailed, match="no \\[\\[A\\]\\]"):
        compare(req, _a("4"), _a("four"), lambda messages: Answer(model="judge", text="Both fine."))
    with pytest.raises(JudgeFailed, match="HTTP 503"):
        compare(req, _a("4"), _a("four"), lambda messages: Answer(model="judge", error="HTTP 503"))


def test_any_change_of_a_route_part_is_a_new_version():
    from tokenproof.analytics.proof.route import lineage_id, route_id
    base = ({"feature": "faq"}, "gpt-4o", "gpt-4o-mini", "", "claude-sonnet-4")
    ids = {route_id(*base)}
    for index, changed in enumerate([{"feature": "faq2"}, "gpt-4.1", "gpt-4.1-mini", "prompt-hash-2", "claude-opus-4"]):
        parts = list(base)
        parts[index] = changed
        ids.add(route_id(*parts))
    assert len(ids) == 6  # the base and five different versions
    assert route_id(*base) == route_id(*base)
    assert lineage_id({"feature": "faq"}, "gpt-4o-mini") == lineage_id({"feature": "faq"}, "gpt-4o-mini")
