"""Prompt optimisation mechanics: the locked split, the reference check as the pipeline's judge, the
held-out set kept out of the search, the budget stop and the report's separate figures.

The replay server (recorded real answers) plays candidate, judge and optimiser for the file-mode
runs: it cannot answer a new prompt sensibly, so these runs check mechanics, not gains.
"""

from __future__ import annotations

import json

import pytest

from tokenproof.analytics.proof.answer import Answer
from tokenproof.analytics.proof.optimize.check import reference_check
from tokenproof.analytics.proof.optimize.splits import lock_split
from tokenproof.analytics.proof.pipeline import Pipeline, prompt_ref
from tokenproof.cli import main
from tokenproof_devkit.examples import gsm8k_batch_lines
from tokenproof_devkit.provider.corpus import GPT4, get_corpus
from tokenproof_devkit.provider.testing import run_provider


def _prompts(lines):
    return [{"ref": ln["custom_id"], "body": ln["body"]} for ln in lines]


def test_the_split_is_locked_disjoint_reproducible_and_drops_duplicates():
    lines = gsm8k_batch_lines(80, seed=4)
    prompts = _prompts(lines) + _prompts(lines[:5])  # five duplicates by content
    first = lock_split(prompts, seed=42)
    again = lock_split(list(reversed(prompts)), seed=42)
    assert first.summary()["refs"] == {k: sorted(v, key=first.summary()["refs"][k].index)
                                       for k, v in again.summary()["refs"].items()}
    assert first.split_id() == again.split_id() and first.duplicates_dropped == 5
    sets = [set(first.refs(n)) for n in ("optimise", "select", "held_out")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert sum(map(len, sets)) == 80
    assert lock_split(prompts, seed=43).split_id() != first.split_id()  # the seed decides, and is logged
    # more prompts later never move one already drawn: its set is decided by its own hash
    more = lock_split(_prompts(gsm8k_batch_lines(160, seed=4)), seed=42)
    for name, members in zip(("optimise", "select", "held_out"), sets, strict=True):
        others = set(more.refs("optimise") + more.refs("select") + more.refs("held_out")) - set(more.refs(name))
        assert not (members & others)


@pytest.mark.parametrize(("candidate", "outcome"), [
    ("Adding up: #### 540", "tie"),            # same final number: a match
    ("So the final answer is 540.", "tie"),
    ('{"answer": 540}', "tie"),
    ("#### 120 first, then 3 * 3 * 60: \\boxed{540}", "tie"),  # the last marked number is the final one
    ("Adding up: #### 550", "loss"),           # wrong number
    ("He runs about 540 meters.", "loss"),     # no readable final answer counts against the candidate
])
def test_the_reference_check_settles_checkable_answers_in_the_one_pipeline(candidate, outcome):
    pipe = Pipeline(replayer=None, route="r", baseline_model=GPT4, candidate_model="small", judge_model="reference-check",
                    judge_fn=reference_check)
    body = {"messages": [{"role": "user", "content": "How many meters does he run a week?"}]}
    baseline = Answer(model=GPT4, text="3 * 3 * 60 = 540\n#### 540", finish_reason="stop")
    result = pipe.settle(body, "q1", baseline, Answer(model="small", text=candidate, finish_reason="stop"), None,
                         reference_check)
    assert result.outcome == outcome
    assert result.record["judge_calls"] == 2 and result.spend_usd == 0.0  # both orders, no LLM spend


def test_two_unreadable_answers_are_unresolved_never_a_match():
    body = {"messages": [{"role": "user", "content": "How many?"}]}
    pipe = Pipeline(replayer=None, route="r", baseline_model=GPT4, candidate_model="small", judge_model="reference-check")
    result = pipe.settle(body, "q", Answer(model=GPT4, text="about 5"), Answer(model="small", text="roughly 5"),
                         "#### 5", reference_check)
    assert result.outcome == "unresolved"


def _batch_with_answers(path, n=40):
    records = [r for r in get_corpus().records if r.dataset == "gsm8k" and "####" in r.answers[GPT4]][:n]
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps({"custom_id": r.id, "body": {"model": GPT4, "messages": [
                {"role": "system", "content": "Solve the problem."}, {"role": "user", "content": r.prompt}]},
                "reference": r.reference,
                "response": {"status_code": 200, "body": {"model": GPT4, "choices": [{"message": {
                    "role": "assistant", "content": r.answers[GPT4]}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 90, "completion_tokens": 120}}}}) + "\n")
    return path


@pytest.fixture(scope="module")
def provider():
    with run_provider() as handle:
        yield handle


def test_optimize_on_a_file_keeps_held_out_out_of_the_search_and_reports_it_apart(tmp_path, provider, capsys):
    batch = _batch_with_answers(tmp_path / "batch.jsonl")
    code = main(["optimize", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url", provider.base_url_openai,
                 "--rounds", "2", "--variants", "2", "--sizes", "6,5,10", "--seed", "9", "--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((tmp_path / "out" / "optimize-report.json").read_text())
    assert (tmp_path / "out" / "optimize-report.txt").read_text().strip() == printed.split("\nreport: ")[0].strip()
    assert report["judge"] == "reference-check"  # every recorded answer ends in '#### n': checkable
    split = report["split"]
    assert split["seed"] == 9 and split["sizes"] == {"optimise": 6, "select": 5, "held_out": 10}
    held = set(split["refs"]["held_out"])
    scored = report["scored_sets"]
    assert set(scored["held_out"]) == held
    assert not held & (set(scored["optimise"]) | set(scored["select"]))  # never seen by search or choice
    shown = {ref for r in report["rounds"] for ref in r["proposer"]["cases_shown"]}
    assert shown <= set(split["refs"]["optimise"])  # the optimiser sees losing cases of the optimise set only
    assert report["rounds_run"] == 2 and len(report["variants"]) >= 3
    # search and held-out figures are separate sections, before and after with intervals
    text = printed
    assert text.index("SEARCH FIGURES") < text.index("HELD-OUT FIGURES")
    before = report["held_out_figures"]["before"]
    assert before["set"] == "held_out" and before["n"] == 10 and len(before["ci95"]) == 2
    assert set(report["search_figures"][report["current"]["id"]]) == {"optimise", "select"}  # no held-out here
    assert "shadow proof" in text  # the promise: nothing here switches a route
    assert report["spend"]["total"]["tokens"] > report["spend"]["search"]["tokens"] > 0


def test_the_budget_stops_the_search_but_the_held_out_figure_is_still_reported(tmp_path, provider, capsys):
    batch = _batch_with_answers(tmp_path / "batch.jsonl")
    code = main(["optimize", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url", provider.base_url_openai,
                 "--sizes", "6,5,8", "--budget-tokens", "500", "--out", str(tmp_path / "out")])
    assert code == 0
    report = json.loads((tmp_path / "out" / "optimize-report.json").read_text())
    assert report["stop_reason"].startswith("token budget exhausted")
    assert report["rounds_run"] == 0 and not report["changed"]  # a partly scored variant is never chosen
    current = report["search"]["optimise"][0]
    assert current["complete"] is False and current["n"] < 6
    assert report["held_out_figures"]["before"]["n"] == 8  # the confirmation always runs
    assert "token budget exhausted" in capsys.readouterr().out


def test_prompt_refs_are_the_content_identity_the_split_uses():
    lines = gsm8k_batch_lines(10, seed=1)
    split = lock_split(_prompts(lines), seed=0)
    assert sorted(split.refs("optimise") + split.refs("select") + split.refs("held_out")) == sorted(
        prompt_ref(ln["body"]) for ln in lines)


def test_every_optimiser_call_is_experiment_traffic(tmp_path, provider):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tokenproof import semconv
    from tokenproof.analytics.proof.optimize.search import OptimizeSpec, run_optimize
    from tokenproof.analytics.proof.replay import Replayer
    from tokenproof.instrumentation import TokenproofInstrumentor

    lines = [json.loads(x) for x in _batch_with_answers(tmp_path / "b.jsonl", 24).read_text().splitlines()]
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = TokenproofInstrumentor()
    instrumentor.instrument(tracer_provider=tracer_provider)
    try:
        spec = OptimizeSpec(baseline=GPT4, candidate="mixtral-8x7b-instruct", feature="homework", judge=GPT4,
                            uploaded=lines, rounds=1, variants_per_round=1, caps=(3, 3, 3))
        report = run_optimize(None, spec, Replayer(base_url=provider.base_url_openai))
    finally:
        instrumentor.uninstrument()
    spans = [s for s in exporter.get_finished_spans() if semconv.GEN_AI_OPERATION_NAME in (s.attributes or {})]
    classes = {s.attributes.get(semconv.TP_TRAFFIC_CLASS) for s in spans}
    assert classes == {semconv.TRAFFIC_SHADOW, semconv.TRAFFIC_JUDGE}  # nothing counted as product spend
    assert all(s.attributes.get(semconv.TP_FEATURE) == "homework" for s in spans)
    calls = report["spend"]["total"]["calls"]
    assert calls["proposal"] == 1 and calls["judge"] > 0
    assert len(spans) == sum(calls.values())  # the ledger counts every call the instrumentation saw
