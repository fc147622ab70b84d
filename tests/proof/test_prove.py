"""`tokenproof prove` end to end: real GSM8K / MMLU prompts, the real openai SDK, the local provider."""

from __future__ import annotations

import json

import pytest

from tokenproof import pricing
from tokenproof.cli import main
from tokenproof_devkit.examples import gsm8k_batch_lines, write_gsm8k_batch
from tokenproof_devkit.provider.testing import run_provider


@pytest.fixture(scope="module")
def provider():
    with run_provider() as handle:
        yield handle


def test_prove_decides_per_feature_and_writes_a_readable_report(tmp_path, provider, capsys):
    batch = write_gsm8k_batch(tmp_path / "batch.jsonl", n=70, seed=3,
                              features=("gsm8k", "mmlu:high_school_mathematics"))
    code = main(["prove", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url",
                 provider.base_url_openai, "--out", str(tmp_path / "out"), "--calibrate", "5", "--portfolio"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    routes = {r["group"]: r for r in report["routes"]}
    assert report["params"]["portfolio"] == "bonferroni" and report["params"]["alpha"] == 0.025
    # Mixtral is truly worse on GSM8K (71% non-loss) and as good on this MMLU subject (98%)
    assert routes["gsm8k"]["decision"] == "keep"
    assert routes["mmlu:high_school_mathematics"]["decision"] == "switch"
    for route in routes.values():
        assert route["judge"] == "gpt-4-1106-preview"
        assert route["n"] >= 30 and route["n"] == route["wins"] + route["ties"] + route["losses"]
        assert route["swap_inconsistency_rate"] is not None and route["trajectory"]
        assert route["skipped_after_decision"] > 0  # stops spending once decided
        assert route["projected_monthly_saving_usd"] > 0
        # the baseline judged against itself: the recorded answers tie, a consistent judge
        assert route["calibration"]["pairs"] == 5 and route["calibration"]["non_tie_rate"] == 0.0
        first = route["comparisons"][0]
        assert first["verdict_baseline_first"] in "ABC" and first["verdict_candidate_first"] in "ABC"
    gsm = routes["gsm8k"]
    assert gsm["disputed_pairs"] and gsm["disputed_pairs"][0]["outcome"] == "loss"
    page = (tmp_path / "out" / "report.html").read_text()
    assert "KEEP" in page and "SWITCH" in page and "Disputed pairs" in page and "<svg" in page
    assert "Judge calibration" in page
    assert "gsm8k: KEEP" in printed


def test_recorded_baseline_responses_are_not_replayed(tmp_path, provider, capsys):
    lines = gsm8k_batch_lines(35, seed=5, feature="mmlu:high_school_mathematics")
    from tokenproof_devkit.provider.corpus import GPT4, get_corpus
    by_prompt = {r.prompt: r for r in get_corpus().records}
    for line in lines:
        record = by_prompt[line["body"]["messages"][-1]["content"]]
        line["response"] = {"status_code": 200, "body": {
            "model": GPT4, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": record.answers[GPT4]}}],
            "usage": {"prompt_tokens": 80, "completion_tokens": 12, "total_tokens": 92}}}
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code = main(["prove", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url",
                 provider.base_url_openai, "--out", str(tmp_path / "out")])
    assert code == 0
    (route,) = json.loads((tmp_path / "out" / "report.json").read_text())["routes"]
    assert all(c["baseline_recorded"] and c["baseline_tokens"] == [80, 12] for c in route["comparisons"])
    assert route["decision"] in {"switch", "undecided"}
    # answers of the Batch API cost its rates (half the standard price for this model)
    batch_price = pricing.price("openai", GPT4, pricing.Usage(input_tokens=80, output_tokens=12), batch=True).usd
    assert batch_price < pricing.price("openai", GPT4, pricing.Usage(input_tokens=80, output_tokens=12)).usd
    assert all(c["baseline_cost_usd"] == pytest.approx(batch_price) for c in route["comparisons"])


def test_prove_refuses_a_judge_of_the_candidates_family(tmp_path, provider, capsys):
    batch = write_gsm8k_batch(tmp_path / "batch.jsonl", n=3)
    code = main(["prove", str(batch), "--candidate", "gpt-4o-mini", "--base-url", provider.base_url_openai,
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "family" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_malformed_batch_file_names_the_line(tmp_path, capsys):
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps(gsm8k_batch_lines(1)[0]) + "\n{broken\n")
    code = main(["prove", str(batch), "--candidate", "mixtral-8x7b-instruct", "--out", str(tmp_path / "o")])
    assert code == 2 and "line 2" in capsys.readouterr().err


def test_truncated_candidate_answers_lose_without_a_judge(tmp_path, provider, capsys):
    """The baseline's recorded answers finished; the candidate hits the same max_tokens and is cut off."""
    from tokenproof_devkit.provider.corpus import GPT4, get_corpus
    by_prompt = {r.prompt: r for r in get_corpus().records}
    lines = gsm8k_batch_lines(40, seed=9, feature="gsm8k")
    for line in lines:
        line["body"]["max_tokens"] = 40
        answer = by_prompt[line["body"]["messages"][-1]["content"]].answers[GPT4]
        line["response"] = {"status_code": 200, "body": {
            "model": GPT4, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                "role": "assistant", "content": answer.splitlines()[-1]}}],
            "usage": {"prompt_tokens": 90, "completion_tokens": 8, "total_tokens": 98}}}
    batch = tmp_path / "batch.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code = main(["prove", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url",
                 provider.base_url_openai, "--out", str(tmp_path / "out"), "--group-by", "fingerprint"])
    assert code == 0
    (route,) = json.loads((tmp_path / "out" / "report.json").read_text())["routes"]
    assert route["decision"] == "keep" and route["format_failures"] >= 25
    truncated = [c for c in route["comparisons"] if not c["candidate_format_valid"]]
    assert all(c["decided_by"] == "format" and c["outcome"] == "loss" and c["judge_cost_usd"] == 0
               and "truncated" in c["format_failures"][0] for c in truncated)
    assert route["group_by"] == "fingerprint" and len(route["group"]) == 12


def test_unknown_candidate_model_is_an_error_not_a_keep(tmp_path, provider, capsys):
    batch = write_gsm8k_batch(tmp_path / "batch.jsonl", n=10)
    code = main(["prove", str(batch), "--candidate", "no-such-model-7b", "--base-url", provider.base_url_openai,
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "candidate 'no-such-model-7b' failed on every request" in capsys.readouterr().err
