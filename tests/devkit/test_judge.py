"""Judge mode: verdicts from the recorded ground truth, through real clients (contract in JUDGE.md)."""

from __future__ import annotations

import re

import anthropic
import openai
import pytest

from tokenproof_devkit.provider.corpus import GPT4, MIXTRAL, get_corpus
from tokenproof_devkit.provider.testing import run_provider

VERDICT = re.compile(r"\[\[(A|B|C)\]\]")


def judge_prompt(question, a, b, reference=None):
    ref = f"[The Start of Reference Answer]\n{reference}\n[The End of Reference Answer]\n\n" if reference else ""
    return ("Please act as an impartial judge and compare the two answers. Output [[A]], [[B]] or [[C]].\n\n"
            f"[User Question]\n{question}\n\n{ref}"
            f"[The Start of Assistant A's Answer]\n{a}\n[The End of Assistant A's Answer]\n\n"
            f"[The Start of Assistant B's Answer]\n{b}\n[The End of Assistant B's Answer]")


def verdict(client, prompt, model="gpt-4.1"):
    text = client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}]
                                          ).choices[0].message.content
    found = VERDICT.findall(text)
    assert len(found) == 1 and text.rstrip().endswith(f"[[{found[0]}]]")
    return found[0]


@pytest.fixture
def client(provider):
    with openai.OpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0) as c:
        yield c


def test_correct_answer_wins_in_both_orders(client, gsm8k_split):
    right, wrong = gsm8k_split.answers[GPT4], gsm8k_split.answers[MIXTRAL]
    assert verdict(client, judge_prompt(gsm8k_split.prompt, right, wrong)) == "A"
    assert verdict(client, judge_prompt(gsm8k_split.prompt, wrong, right)) == "B"


def test_both_correct_is_a_tie_in_both_orders(client, gsm8k_both_right):
    a, b = gsm8k_both_right.answers[GPT4], gsm8k_both_right.answers[MIXTRAL]
    assert verdict(client, judge_prompt(gsm8k_both_right.prompt, a, b)) == "C"
    assert verdict(client, judge_prompt(gsm8k_both_right.prompt, b, a)) == "C"


def test_answers_from_the_server_itself_are_judged(provider, client, gsm8k_split):
    """The shadow-run flow: ask both models through the server, then judge their replies."""
    ask = lambda m: client.chat.completions.create(  # noqa: E731
        model=m, messages=[{"role": "user", "content": gsm8k_split.prompt}]).choices[0].message.content
    assert verdict(client, judge_prompt(gsm8k_split.prompt, ask("gpt-4o-mini"), ask("gpt-4o"))) == "B"
    with anthropic.Anthropic(base_url=provider.base_url_anthropic, api_key="k", max_retries=0) as an:
        text = an.messages.create(model="claude-sonnet-4-5", max_tokens=300, messages=[
            {"role": "user", "content": judge_prompt(gsm8k_split.prompt, ask("gpt-4o"), ask("gpt-4o-mini"))}]
        ).content[0].text
    assert VERDICT.findall(text) == ["A"]


def test_unknown_answers_are_compared_with_the_reference(client):
    q = "A shop sells 3 pens for $2. How much do 12 pens cost?"
    ref = "12 / 3 = 4 groups, 4 * 2 = 8.\n#### 8"
    good, bad = "That is 4 groups of pens, so $8.", "Each pen costs 2 so 24 dollars.\n#### 24"
    assert verdict(client, judge_prompt(q, good, bad, ref)) == "A"
    assert verdict(client, judge_prompt(q, bad, good, ref)) == "B"
    assert verdict(client, judge_prompt(q, good, bad)) == "C"  # nothing to go on: tie


def test_recorded_gold_is_used_when_no_reference_is_given(client, gsm8k_split):
    from tokenproof_devkit.provider.text import final_number
    gold = final_number(gsm8k_split.reference)
    assert verdict(client, judge_prompt(gsm8k_split.prompt, f"The answer is {gold}.", "The answer is -1.")) == "A"


def test_mt_bench_grades_decide(client):
    record = next(r for r in get_corpus().records
                  if r.dataset == "mt_bench" and r.labels[GPT4] > r.labels[MIXTRAL])
    assert verdict(client, judge_prompt(record.prompt, record.answers[MIXTRAL], record.answers[GPT4])) == "B"


def test_mmlu_uses_recorded_correctness(client):
    record = next(r for r in get_corpus().records
                  if r.dataset == "mmlu" and r.labels[GPT4] == 1.0 and r.labels[MIXTRAL] == 0.0)
    ask = lambda m: client.chat.completions.create(  # noqa: E731
        model=m, messages=[{"role": "user", "content": record.prompt}]).choices[0].message.content
    strong, weak = ask("gpt-4o"), ask("gpt-4o-mini")
    assert re.fullmatch(r"The answer is [ABCD]\.", strong) and strong != weak
    assert verdict(client, judge_prompt(record.prompt, weak, strong)) == "B"


def test_position_bias_turns_ties_into_a_and_is_deterministic(gsm8k_both_right):
    a, b = gsm8k_both_right.answers[GPT4], gsm8k_both_right.answers[MIXTRAL]
    with run_provider(judge_position_bias=1.0) as provider:
        with openai.OpenAI(base_url=provider.base_url_openai, api_key="k", max_retries=0) as client:
            assert verdict(client, judge_prompt(gsm8k_both_right.prompt, a, b)) == "A"
            assert verdict(client, judge_prompt(gsm8k_both_right.prompt, b, a)) == "A"
    with run_provider(judge_noise=0.5, seed=7) as provider:
        with openai.OpenAI(base_url=provider.base_url_openai, api_key="k", max_retries=0) as client:
            prompts = [judge_prompt(r.prompt, r.answers[GPT4], r.answers[MIXTRAL])
                       for r in get_corpus().records[:40] if r.dataset == "gsm8k"]
            first = [verdict(client, p) for p in prompts]
            assert first == [verdict(client, p) for p in prompts]
            truth = ["A" if r.labels[GPT4] > r.labels[MIXTRAL] else "B" if r.labels[GPT4] < r.labels[MIXTRAL]
                     else "C" for r in get_corpus().records[:40] if r.dataset == "gsm8k"]
            assert first != truth  # noise changed some verdicts


def test_fallback_answers_are_judged_by_the_answer_they_replay(client):
    from tokenproof_devkit.provider.fallback import fallback_record
    prompt = "Draft a two-line apology for a delayed parcel."
    ask = lambda m: client.chat.completions.create(  # noqa: E731
        model=m, messages=[{"role": "user", "content": prompt}]).choices[0].message.content
    strong, weak = ask("gpt-4o"), ask("gpt-4o-mini")
    replayed = fallback_record(strong)
    assert replayed is not None and fallback_record(weak) is replayed
    la, lb = replayed.labels[GPT4], replayed.labels[MIXTRAL]
    expected = "C" if la == lb else ("A" if la > lb else "B")
    assert verdict(client, judge_prompt(prompt, strong, weak)) == expected
    assert verdict(client, judge_prompt(prompt, weak, strong)) == {"A": "B", "B": "A", "C": "C"}[expected]
