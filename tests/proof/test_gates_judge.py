"""Format gates, both judge orders, unresolved pairs, judge family refusal and the length-controlled win rate."""

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
    model_family,
    parse_verdict,
    resolve_judge,
)
from tokenproof.analytics.proof.lengthctl import length_controlled
from tokenproof.analytics.proof.pipeline import compare

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
    fenced = _a('```json\n{"category": "bug", "urgent": false}\n```')
    # the app's own json.loads fails on a fence: a format failure unless the route tolerates it
    assert not check_format(SCHEMA_REQUEST, fenced).valid
    assert "fence" in check_format(SCHEMA_REQUEST, fenced).failures[0]
    assert check_format(SCHEMA_REQUEST, fenced, tolerate_fence=True).valid
    json_object = {**SCHEMA_REQUEST, "response_format": {"type": "json_object"}}
    assert not check_format(json_object, fenced).valid
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


def test_refusals_with_typographic_apostrophes_and_common_phrasings_fail():
    req = {"messages": [{"role": "user", "content": "Summarise the attached contract."}]}
    base = _a("The contract sets a 12-month term with a 30-day notice period.")
    for text in ("I\u2019m sorry, but I can\u2019t assist with that.", "I'm unable to help with that request.",
                 "As an AI language model, I cannot review legal documents.", "I am not able to provide that.",
                 "Sorry, I won\u2019t be able to do that."):
        verdict = check_format(req, _a(text), baseline=base)
        assert "refusal where the baseline answered" in verdict.failures, text


def test_repetition_loops_and_wrong_language_fail():
    req = {"messages": [{"role": "user", "content": "Explain in two sentences why the sky looks blue to us."}]}
    base = _a("Sunlight scatters off air molecules, and blue light scatters the most, so the sky looks blue.")
    loop = _a("The sky is blue because of scattering. " * 8)
    assert "repetition loop" in check_format(req, loop, baseline=base).failures
    chinese = _a("天空之所以是蓝色的，是因为阳光被空气分子散射，而蓝光散射得最多，所以我们看到蓝色的天空。")
    assert any("another language" in f for f in check_format(req, chinese, baseline=base).failures)


def test_both_orders_must_agree_and_disagreement_is_unresolved():
    req = {"messages": [{"role": "user", "content": "2+2?"}]}
    base, cand = _a("4", model="gpt-4o"), _a("The answer is 4.", model="mixtral")
    always_first = ScriptedJudge(lambda a, b: "A")  # pure position bias
    result = compare(req, base, cand, always_first)
    # an order disagreement never counts as a tie (a pass) for the candidate
    assert result.outcome == "unresolved" and result.error_kind == "order_disagreement"
    assert result.record["swap_consistent"] is False
    assert (result.record["result_baseline_first"], result.record["result_candidate_first"]) == ("loss", "win")
    longer = ScriptedJudge(lambda a, b: "A" if len(a) > len(b) else "B")
    result = compare(req, base, cand, longer)
    assert result.outcome == "win" and result.record["swap_consistent"] is True
    assert len(longer.prompts) == 2
    # blind: no model names in what the judge reads
    assert all("gpt-4o" not in m[-1]["content"] and "mixtral" not in m[-1]["content"] for m in longer.prompts)
    assert combine_orders("loss", "loss") == ("loss", True)
    assert combine_orders("win", "tie") == ("unresolved", False)


def test_format_failure_is_a_loss_without_asking_the_judge():
    judge = ScriptedJudge(lambda a, b: "B")
    result = compare(SCHEMA_REQUEST, _a('{"category": "bug", "urgent": false}'), _a("bug"), judge)
    assert result.outcome == "loss" and result.record["decided_by"] == "format" and judge.prompts == []


def test_an_invalid_baseline_is_a_tie_not_a_free_win():
    judge = ScriptedJudge(lambda a, b: "B")
    result = compare(SCHEMA_REQUEST, _a("billing, I think"), _a('{"category": "billing", "urgent": true}'), judge)
    assert result.outcome == "tie" and result.error_kind == "baseline_invalid" and judge.prompts == []


def test_a_constant_answer_for_distinct_prompts_is_a_degenerate_loss():
    from tokenproof.analytics.proof.pipeline import Pipeline
    pipe = Pipeline(replayer=None, route="r", baseline_model="gpt-4o", candidate_model="cheap", judge_model="j")
    judge = ScriptedJudge(lambda a, b: "B" if "thorough" in b else "A" if "thorough" in a else "C")
    constant = "This is a thorough, well-structured and helpful answer that addresses every point you raised."
    questions = {
        "What is the capital of Australia?": "Canberra is the capital; Sydney is larger but not the capital.",
        "How many legs does a spider have?": "Eight. Spiders are arachnids, not insects, which have six.",
        "Who wrote Pride and Prejudice?": "Jane Austen wrote it; it was published in 1813.",
        "What is the boiling point of water at sea level?": "100 degrees Celsius (212 F) at one atmosphere.",
        "Translate 'thank you' into French.": "Merci (or 'merci beaucoup' for 'thank you very much').",
        "What gas do plants absorb from the air?": "Carbon dioxide, which photosynthesis turns into sugars.",
    }
    outcomes = [compare({"messages": [{"role": "user", "content": q}]}, _a(a), _a(constant), judge, pipeline=pipe)
                for q, a in questions.items()]
    assert [o.outcome for o in outcomes[:2]] == ["win", "win"]  # a judge alone is fooled
    assert all(o.outcome == "loss" and o.error_kind == "degenerate" for o in outcomes[2:])


def test_reference_guided_prompt_and_verdict_parsing():
    messages = build_prompt("2+2?", "4", "5", reference="4")
    user = messages[-1]["content"]
    assert user.index("[User Question]") < user.index("[The Start of Reference Answer]") < user.index(
        "[The Start of Assistant A's Answer]")
    assert parse_verdict("A is better [[A]] ... final: [[B]]") == "B"
    assert parse_verdict("no verdict") is None


@pytest.mark.parametrize("reply,letter", [
    ("Reasoning.\n[[ A ]]", "A"), ("so: [[b]]", "B"), ("[[tie]]", "C"), ("[[C]]", "C"),
    ("After weighing both, Assistant A is better.", "A"), ('{"verdict": "B", "reason": "more complete"}', "B"),
    ('```json\n{"winner": "tie"}\n```', "C"), ("Both are fine, it's a tie.", "C"),
])
def test_common_verdict_forms_parse(reply, letter):
    assert parse_verdict(reply) == letter


def test_reference_answers_come_from_the_recorded_baseline_when_checkable():
    from tokenproof.analytics.proof.judge import reference_from_answer
    assert "#### 18" in reference_from_answer("She sells 9 eggs at $2...\n#### 18")
    assert reference_from_answer("The answer is (C).") == "The answer is C."
    assert reference_from_answer("A poem about spring.") is None
    seen = []
    judge = ScriptedJudge(lambda a, b: "C")
    compare({"messages": [{"role": "user", "content": "eggs?"}]}, _a("So 9 * 2 = 18.\n#### 18"),
            _a("#### 18"), lambda m: (seen.append(m), judge(m))[1])
    assert "[The Start of Reference Answer]" in seen[0][-1]["content"]


def test_judge_of_the_candidates_family_is_refused():
    assert model_family("gpt-4o-mini") == model_family("gpt-4-1106-preview") == "gpt"
    assert model_family("mistralai/Mixtral-8x7B-Instruct-v0.1") == "mistral"
    assert resolve_judge("gpt-4-1106-preview", "mixtral-8x7b-instruct") == "gpt-4-1106-preview"
    assert resolve_judge("gpt-4o", "gpt-4o-mini", judge="claude-sonnet-4") == "claude-sonnet-4"
    with pytest.raises(JudgeFamilyError, match=r"candidate 'gpt-4o-mini'.s family"):
        resolve_judge("gpt-4o", "gpt-4o-mini")
    with pytest.raises(JudgeFamilyError, match="--judge"):
        resolve_judge("gpt-4o", "claude-haiku-4-5", judge="claude-opus-4")


@pytest.mark.parametrize("judge,candidate", [
    ("gpt-4o", "ft:gpt-4o-mini-2024-07-18:acme::abc123"),
    ("mistral-large-latest", "accounts/fireworks/models/mixtral-8x7b-instruct"),
    ("claude-sonnet-4-5", "bedrock/anthropic.claude-3-haiku-20240307-v1:0"),
    ("gpt-4o", "azure/gpt-4o-mini"),
])
def test_namespaced_and_fine_tuned_candidates_are_of_their_base_family(judge, candidate):
    with pytest.raises(JudgeFamilyError):
        resolve_judge("gpt-4o", candidate, judge=judge)


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


def test_a_failed_truncated_refused_or_verdictless_judge_is_unresolved_after_one_retry():
    req = {"messages": [{"role": "user", "content": "2+2?"}]}
    calls = []

    def replies(answer):
        def judge(messages):
            calls.append(messages)
            return answer
        return judge
    cases = [(Answer(model="j", text="Both fine."), "judge_unparseable"),
             (Answer(model="j", error="HTTP 503"), "judge_error"),
             (Answer(model="j", text="Thinking about A... [[A]] tentatively, but", finish_reason="length"),
              "judge_truncated"),
             (Answer(model="j", text="I'm sorry, but I can't help with comparing these."), "judge_refused")]
    for answer, kind in cases:
        calls.clear()
        result = compare(req, _a("4"), _a("four"), replies(answer))
        assert (result.outcome, result.error_kind) == ("unresolved", kind)
        assert len(calls) == 2  # one retry, with the strict verdict-only instruction
        assert "exactly one line" in calls[1][0]["content"]
        assert result.record["judge_calls"] == 2


def test_a_strict_retry_rescues_a_reply_without_a_verdict():
    req = {"messages": [{"role": "user", "content": "2+2?"}]}
    replies = iter(["Both seem fine to me.", "[[C]]", "[[C]]"])
    result = compare(req, _a("4"), _a("4."), lambda m: Answer(model="j", text=next(replies)))
    assert result.outcome == "tie" and result.record["judge_calls"] == 3


def test_judge_sampling_per_model():
    from tokenproof.analytics.proof.judge import judge_sampling
    assert judge_sampling("gpt-4o") == {"temperature": 0, "max_tokens": 1024}
    assert "temperature" not in judge_sampling("o3-mini") and judge_sampling("o3-mini")["max_completion_tokens"] >= 4096
    assert "temperature" not in judge_sampling("openai/gpt-5")


def test_any_change_of_a_route_part_is_a_new_version():
    from tokenproof.analytics.proof.route import lineage_id, route_id
    from tokenproof.analytics.proof.sequential import Params
    base = ({"feature": "faq"}, "gpt-4o", "gpt-4o-mini", "", "claude-sonnet-4", Params())
    ids = {route_id(*base)}
    for index, changed in enumerate([{"feature": "faq2"}, "gpt-4.1", "gpt-4.1-mini", "prompt-hash-2", "claude-opus-4",
                                     Params(max_loss=0.2)]):
        parts = list(base)
        parts[index] = changed
        ids.add(route_id(*parts))
    assert len(ids) == 7  # the base and six different versions: re-reading with other parameters is one
    assert route_id(*base) == route_id(*base)
    assert lineage_id({"feature": "faq"}, "gpt-4o-mini") == lineage_id({"feature": "faq"}, "gpt-4o-mini")


def test_a_failed_baseline_is_unresolved_not_dropped():
    from tokenproof.analytics.proof.pipeline import Pipeline
    pipe = Pipeline(replayer=None, route="r", baseline_model="gpt-4o", candidate_model="cheap", judge_model="j")
    result = pipe.run({"messages": [{"role": "user", "content": "hi"}]}, request_ref="x",
                      baseline=Answer(model="gpt-4o", error="APIConnectionError: timed out"))
    assert (result.outcome, result.error_kind) == ("unresolved", "baseline_failed")
    assert "timed out" in result.reason and result.record["outcome"] == "unresolved"


def test_upstream_artefact_labels_are_not_used_for_examples():
    from tokenproof_devkit.examples import SUSPECT_LABELS, gsm8k_batch_lines, trusted
    assert not trusted("mmlu:high_school_mathematics") and "mmlu:college_chemistry" in SUSPECT_LABELS
    with pytest.raises(ValueError, match="upstream"):
        gsm8k_batch_lines(5, feature="mmlu:high_school_mathematics")
