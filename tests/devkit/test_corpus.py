"""The shipped recorded corpus: attribution, contaminated prompts excluded, lookups, synthetic MMLU."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import tokenproof_devkit.provider
from tokenproof_devkit.provider.corpus import GPT4, MIXTRAL, get_corpus
from tokenproof_devkit.provider.judge import quality

DATA = Path(tokenproof_devkit.provider.__file__).parent / "data"


def test_attribution_and_sizes():
    notice = (DATA / "NOTICE").read_text()
    assert "lm-sys/RouteLLM" in notice and "0b64fdaf" in notice and "Apache License" in notice
    counts = Counter(r.dataset for r in get_corpus().records)
    assert counts == {"gsm8k": 1307, "mmlu": 14037, "mt_bench": 144}
    gsm = [r for r in get_corpus().records if r.dataset == "gsm8k"]
    # upstream accuracy 1130 vs 842 of 1319; the 12 contaminated questions are removed
    assert 1110 < sum(r.labels[GPT4] for r in gsm) <= 1130
    assert 820 < sum(r.labels[MIXTRAL] for r in gsm) <= 842
    assert all(r.reference and "####" in r.reference for r in gsm)


def test_contaminated_prompts_are_excluded():
    corpus = get_corpus()
    assert corpus.find_prompt("Janet\u2019s ducks lay 16 eggs per day. She eats three for breakfast every morning "
                              "and bakes muffins for her friends every day with four.") is None
    assert not any(r.prompt.startswith("Compose an engaging travel blog post about a recent trip to Hawaii")
                   for r in corpus.records)


def test_mmlu_synthetic_answers_follow_the_recorded_labels():
    for record in [r for r in get_corpus().records if r.dataset == "mmlu"][:500]:
        for model in (GPT4, MIXTRAL):
            q, _how = quality(record.answers[model], record.prompt, None)
            assert q == record.labels[model]


def test_lookup_tolerates_whitespace_case_and_templates():
    corpus = get_corpus()
    record = next(r for r in corpus.records if r.feature == "mmlu:marketing")
    messy = "  " + record.prompt.upper().replace(" ", "   \n") + "  "
    assert corpus.find_prompt(messy) is record
    assert corpus.find_prompt(f"Answer the multiple-choice question.\n\n{record.prompt}\nReply with a letter.") is record
