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
    batch = write_gsm8k_batch(tmp_path / "batch.jsonl", n=120, seed=3, features=("gsm8k", "mmlu:world_religions"))
    code = main(["prove", str(batch), "--candidate", "mixtral-8x7b-instruct", "--base-url",
                 provider.base_url_openai, "--out", str(tmp_path / "out"), "--calibrate", "5", "--seed", "11"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    routes = {r["group"]: r for r in report["routes"]}
    # portfolio control is on by default: alpha spent across the two groups
    assert report["params"]["portfolio"] == "bonferroni" and report["params"]["alpha"] == 0.025
    assert report["params"]["seed"] == 11 and all(r["sample_seed"] == 11 for r in routes.values())
    # Mixtral is truly worse on GSM8K (29% losses) and as good on world religions (4% losses, 8% wins)
    assert routes["gsm8k"]["decision"] == "keep"
    assert routes["mmlu:world_religions"]["decision"] == "switch"
    for route in routes.values():
        assert route["judge"] == "gpt-4-1106-preview"
        assert route["n"] >= 30 and route["n"] == route["wins"] + route["ties"] + route["losses"] + route["unresolved"]
        assert route["trajectory"] and route["loss_rate_upper_bound"] is not None
        assert route["bound_kind"].startswith("confidence sequence")
        assert route["skipped_after_decision"] > 0  # stops spending once decided
        assert route["projected_monthly_saving_usd"] > 0 and route["volume_source"] == "file volume"
        # the provider replays the recorded answer: two baseline samples are identical, which
        # measures nothing, and the report says so instead of printing a 0.0 noise floor
        assert route["calibration"]["pairs"] == 5 and route["calibration"]["identical_samples"] == 5
        assert route["calibration"]["informative"] is False and "measures nothing" in route["calibration"]["note"]
        first = route["comparisons"][0]
        assert first["verdict_baseline_first"] in "ABC" and first["verdict_candidate_first"] in "ABC"
    gsm = routes["gsm8k"]
    assert gsm["disputed_pairs"] and gsm["disputed_pairs"][0]["outcome"] == "loss"
    page = (tmp_path / "out" / "report.html").read_text()
    assert "KEEP" in page and "SWITCH" in page and "Disputed pairs" in page and "<svg" in page
    assert "Judge calibration" in page and "SWITCH means:" in page and "Unresolved pairs by reason" in page
    assert "judge explanations" in page
    assert "gsm8k: KEEP" in printed and "SWITCH means:" in printed


def test_prove_samples_at_random_and_drops_duplicates():
    """One GSM8K prompt repeated 40 times switched after 30 with a printed bound of 0.905."""
    from tokenproof.analytics.proof.prove import batch_request, sample
    lines = gsm8k_batch_lines(20, seed=1)
    items = [batch_request(lines[0], i + 1) for i in range(40)] + [batch_request(line, 41 + i) for i, line in
                                                                    enumerate(lines[1:])]
    chosen, dropped = sample(items, seed=3)
    assert dropped == 39 and len(chosen) == 20
    assert len({c.custom_id for c in chosen}) == 20
    # stratified random order: not the file order, reproducible from the logged seed
    assert [c.line for c in chosen] != sorted(c.line for c in chosen)
    assert [c.line for c in sample(items, seed=3)[0]] == [c.line for c in chosen]
    recent, _ = sample(items, seed=3, recent=5)
    assert {c.line for c in recent} == {c.line for c in chosen if c.line > 40 + 14}


def test_prove_groups_by_the_live_template_fingerprint():
    from tokenproof.analytics.proof.prove import fingerprint
    from tokenproof.instrumentation._openai import ChatAdapter
    body = gsm8k_batch_lines(1)[0]["body"]
    assert fingerprint(body) == ChatAdapter().fingerprint(dict(body))
    other = {**body, "messages": [body["messages"][0], {"role": "user", "content": "a different question"}]}
    assert fingerprint(other) == fingerprint(body)  # the template, not the data


def test_recorded_baseline_responses_are_not_replayed(tmp_path, provider, capsys):
    lines = gsm8k_batch_lines(35, seed=5, feature="mmlu:marketing")
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
    assert route["group_by"] == "fingerprint" and route["group"] == route["fingerprints"][0]


def test_unknown_candidate_model_is_an_error_not_a_keep(tmp_path, provider, capsys):
    batch = write_gsm8k_batch(tmp_path / "batch.jsonl", n=10)
    code = main(["prove", str(batch), "--candidate", "no-such-model-7b", "--base-url", provider.base_url_openai,
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "candidate 'no-such-model-7b' failed on every request" in capsys.readouterr().err


def test_a_failing_segment_inside_a_good_average_is_shown():
    from tokenproof.analytics.proof.prove import batch_request, segment_report
    from tokenproof.analytics.proof.sequential import Params
    line = {**gsm8k_batch_lines(1)[0], "tier": "free"}
    assert batch_request(line, 1).segments == {"tier": "free"}
    segments = {"pro": ["tie"] * 180 + ["loss"] * 5, "free": ["tie"] * 20 + ["loss"] * 20}
    report = {s["segment"]: s for s in segment_report(segments, Params(), 0.05)}
    assert report["free"]["breaks_promise"] and not report["pro"]["breaks_promise"]
    assert report["free"]["loss_rate_lower_bound"] > 0.15
