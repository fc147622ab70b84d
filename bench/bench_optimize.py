"""Prompt optimisation on a real local model: what the optimiser gains, honestly held out.

Candidate: Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) served by llama.cpp on this machine
(``tokenproof_devkit.local_model``; set up with ``scripts/setup_local_model.sh``). The optimiser
model is the same local Qwen (said in the output): a 0.5B model writing prompts for itself is a weak
optimiser, so the figures are a floor for what a strong optimiser would find, not a ceiling.

Task 1, checkable (GSM8K from the recorded corpus): the baseline's answers are the recorded
GPT-4-1106-preview answers; the judge is the deterministic reference-guided numeric check against
the gold answer (no LLM judge). The route's current prompt is a plain frontier-style system prompt
that does not spell out the app's answer format.

Task 2, format following (GSM8K questions, other items): the app asks for a JSON object matching a
schema (``answer`` number, ``explanation`` string of at most 300 characters, nothing else). The
local runtime does not accept ``json_schema`` structured outputs, so the request reaches it without
``response_format``: only the system prompt can make the model follow the schema, and the format
gate checks it (a missing field, an extra one or prose around the JSON fail). This Qwen-Coder model
wraps every JSON answer in a Markdown fence whatever its prompt says, so by default the route
declares fences tolerated (the app strips one); ``--strict-json-fence`` makes a fence fail too.
Baseline answers are the recorded GPT-4 answers recast into the schema (the gold number GPT-4
reached, its first sentence).

What it shows: the match rate before and after on held-out prompts nothing in the search saw, with
exact 95% intervals and a paired test, beside the optimise / select figures (their gap is the
search's overfitting), the rounds, the tokens spent, and the savings after the longer prompt.
What it cannot show: a 0.5B model is not a production candidate; held-out sets of 30 give wide
intervals; the local model is unpriced, so the savings line prices it *as if* at gpt-4o-mini's list
price (an assumption, printed as such) and also shows the measured token counts.

Run: ``/path/to/python-with-llama-cpp bench/bench_optimize.py [--held-out 30] [--threads 2]``
(``TOKENPROOF_LOCAL_MODEL_PYTHON`` may name another interpreter for the model server).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from tokenproof import tokens
from tokenproof.analytics.proof.optimize.report import summary_text
from tokenproof.analytics.proof.optimize.search import OptimizeSpec, run_optimize
from tokenproof.analytics.proof.replay import Replayer
from tokenproof_devkit import local_model
from tokenproof_devkit.provider.corpus import GPT4, get_corpus

CURRENT_MATH = "You are a helpful assistant. Solve the user's maths problem."
CURRENT_JSON = "You are a helpful assistant. Answer the user's maths problem in JSON."
SCHEMA = {"type": "object", "properties": {"answer": {"type": "number"},
                                           "explanation": {"type": "string", "maxLength": 300}},
          "required": ["answer", "explanation"], "additionalProperties": False}
_FINAL = re.compile(r"####\s*\$?(-?[\d,]*\.?\d+)")


class NoStructuredOutputs(Replayer):
    """The local runtime rejects ``json_schema`` response formats: send the request without it
    (the format gate still checks the schema the app asked for)."""

    def call(self, body, model, *args, **kwargs):
        return super().call({k: v for k, v in body.items() if k != "response_format"}, model, *args, **kwargs)


def _completion(text: str, messages: list[dict], model: str = GPT4) -> dict:
    """A recorded chat.completion; the corpus keeps no usage, so it is counted with tokenproof.tokens."""
    usage = {"prompt_tokens": tokens.count_message_tokens(model, messages),
             "completion_tokens": tokens.count_tokens(model, text)}
    return {"model": model, "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage}


def _messages(system: str, prompt: str) -> list[dict]:
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]


def math_lines(records, max_tokens: int) -> list[dict]:
    return [{"custom_id": f"gsm8k-{r.id}", "body": {"model": GPT4, "max_tokens": max_tokens, "temperature": 0,
                                                    "messages": _messages(CURRENT_MATH, r.prompt)},
             "response": {"status_code": 200, "body": _completion(r.answers[GPT4], _messages(CURRENT_MATH, r.prompt))},
             "reference": r.reference} for r in records]


def json_lines(records, max_tokens: int) -> list[dict]:
    lines = []
    for r in records:  # GPT-4 answered these right: its answer recast into the schema carries the gold number
        found = _FINAL.findall(r.reference or "")
        if not found:
            continue
        number = float(found[-1].replace(",", ""))
        first = r.answers[GPT4].strip().split("\n")[0][:200]
        answer = json.dumps({"answer": int(number) if number.is_integer() else number, "explanation": first})
        lines.append({"custom_id": f"json-{r.id}", "body": {
            "model": GPT4, "max_tokens": max_tokens, "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": {"name": "solution", "schema": SCHEMA}},
            "messages": [{"role": "system", "content": CURRENT_JSON}, {"role": "user", "content": r.prompt}]},
            "response": {"status_code": 200, "body": _completion(answer, _messages(CURRENT_JSON, r.prompt))},
            "reference": r.reference})
    return lines


def run_task(name: str, lines: list[dict], model, args, replayer_cls=Replayer, tolerate_fence: bool = False) -> dict:
    spec = OptimizeSpec(baseline=GPT4, candidate=model.name, judge="reference-check", optimizer_model=model.name,
                        uploaded=lines, rounds=args.rounds, variants_per_round=args.variants, finalists=2,
                        fractions=(0.3, 0.2, 0.5), caps=(args.optimise, args.select, args.held_out), seed=args.seed,
                        budget_tokens=args.budget_tokens, budget_usd=None, monthly_calls=args.monthly_calls,
                        fewshot_tokens=args.fewshot_tokens, max_demos=2, tolerate_fence=tolerate_fence)
    started = time.perf_counter()
    report = run_optimize(None, spec, replayer_cls(base_url=model.base_url, timeout=600.0))
    elapsed = time.perf_counter() - started
    print(f"\n=== {name} ({elapsed / 60:.1f} min) ===")
    print(summary_text(report))
    print(f"chosen prompt ({report['chosen']['origin']}):\n  " + (report["chosen"]["prompt"] or "(the current prompt)")
          .replace("\n", "\n  ")[:1500])
    return {"task": name, "minutes": round(elapsed / 60, 2), "report": report}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimise", type=int, default=8)
    parser.add_argument("--select", type=int, default=6)
    parser.add_argument("--held-out", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", type=int, default=2, help="proposals per round (plus one few-shot variant)")
    parser.add_argument("--fewshot-tokens", type=int, default=450)
    parser.add_argument("--max-tokens", type=int, default=256, help="answer limit of the math task")
    parser.add_argument("--budget-tokens", type=int, default=150_000, help="search budget per task")
    parser.add_argument("--monthly-calls", type=float, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--download-dir", default=None, help="folder with the six downloaded weight wheels")
    parser.add_argument("--only", choices=["math", "json"], default=None)
    parser.add_argument("--strict-json-fence", action="store_true",
                        help="a Markdown fence around the JSON fails (default: the app strips one, as this "
                             "Qwen-Coder model fences every JSON answer whatever the prompt says)")
    parser.add_argument("--out", default=None, help="write both reports as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        overrides = Path(tmp) / "prices.toml"
        overrides.write_text(f'[[overrides]]\nname = "bench: local model priced as if gpt-4o-mini"\n'
                             f'model = "{local_model.MODEL_NAME}"\nalias = "gpt-4o-mini"\n', encoding="utf-8")
        os.environ["TOKENPROOF_PRICE_OVERRIDES"] = str(overrides)
        weights = local_model.fetch(Path(args.download_dir) if args.download_dir else None)
        gsm = [r for r in get_corpus().records if r.dataset == "gsm8k"]
        # task 1: the recorded GPT-4 answers that end in the app's '#### <number>' line (168 of 1307);
        # task 2: other questions GPT-4 answered right (its label), disjoint from task 1
        math_records = [r for r in gsm if "####" in r.answers[GPT4]]
        json_records = [r for r in gsm if "####" not in r.answers[GPT4] and r.labels[GPT4] == 1.0][:200]
        print(f"candidate and optimiser: {local_model.MODEL_NAME} (Q4_K_M, llama.cpp, {args.threads} threads, this "
              f"machine); baseline: recorded {GPT4}; judge: reference-guided numeric check (no LLM)")
        print("prices: the local model is unpriced; for the savings line it is priced AS IF at gpt-4o-mini's list "
              "price (an assumption). Held-out figures are the honest ones; search figures are optimistic.")
        results = []
        with local_model.serve(weights, threads=args.threads) as model:
            if args.only in (None, "math"):
                results.append(run_task("GSM8K, checkable (reference-guided numeric check)",
                                        math_lines(math_records, args.max_tokens), model, args))
            if args.only in (None, "json"):
                results.append(run_task("format following (JSON schema via the system prompt; format gate + check)",
                                        json_lines(json_records, 160), model, args, NoStructuredOutputs,
                                        tolerate_fence=not args.strict_json_fence))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    print("\nWhat this can show: whether the optimiser's chosen prompt moves the held-out match rate of this "
          "candidate, by how much, at what token cost. What it cannot: a 0.5B model is not a production "
          "candidate; 30 held-out prompts leave wide intervals; the optimiser here is the same small model.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
