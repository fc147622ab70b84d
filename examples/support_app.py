"""An example product that calls OpenAI and Anthropic: run it under `opentelemetry-instrument`.

It knows nothing of tokenproof's internals except the business tags (`tokenproof.tag`), which is
the one line a team adds to say which feature, tier and customer a call belongs to. The clients
read OPENAI_BASE_URL / ANTHROPIC_BASE_URL, so the same code runs against the real providers or the
local provider server (`tokenproof provider`), which answers with recorded real model outputs.

Features (each a different request group for the cost reports and the proof engine):
- math-tutor: GSM8K word problems on gpt-4o (some calls streamed), pro and free tiers
- marketing-quiz: MMLU marketing questions on gpt-4o
- writing-assistant: MT-bench writing prompts on Anthropic claude-sonnet (streamed with .stream())
- doc-search: embeddings

The prompts come from the app's own data file, ``support_app_inputs.jsonl`` beside it (one
``{"feature", "id", "prompt"}`` object a line; real GSM8K, MMLU and MT-bench questions, see NOTICE
in this folder), or from ``--inputs PATH``.

Usage: python examples/support_app.py [--calls N] [--seed S] [--inputs PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import anthropic
import openai

import tokenproof

INPUTS = Path(__file__).with_name("support_app_inputs.jsonl")

MATH_SYSTEM = "You are a patient maths tutor. Solve the problem step by step and end with the final number."
QUIZ_SYSTEM = "Answer the multiple-choice question with the letter of the correct option."
WRITING_SYSTEM = "You are a helpful writing assistant."
CUSTOMERS = {"pro": ["acme", "globex", "initech"], "free": ["u-1001", "u-1002", "u-1003", "u-1004"]}


def _prompts(path: Path) -> tuple[list[str], list[str], list[str]]:
    by_feature: dict[str, list[str]] = {"math-tutor": [], "marketing-quiz": [], "writing-assistant": []}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                by_feature.setdefault(row["feature"], []).append(row["prompt"])
    empty = [feature for feature, prompts in by_feature.items() if not prompts]
    if empty:
        raise SystemExit(f"support_app: {path} has no prompts for {', '.join(empty)}")
    return by_feature["math-tutor"], by_feature["marketing-quiz"], by_feature["writing-assistant"]


class _Deck:
    """Prompts drawn in a shuffled order without repeats until each has been asked once (then again)."""

    def __init__(self, prompts: list[str], rng: random.Random):
        self.prompts, self.rng, self.left = prompts, rng, []

    def draw(self) -> str:
        if not self.left:
            self.left = self.prompts[:]
            self.rng.shuffle(self.left)
        return self.left.pop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=240, help="number of LLM calls to make")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--inputs", type=Path, default=INPUTS, help="prompts file (JSONL: feature, id, prompt)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    math_prompts, quiz_prompts, writing_prompts = _prompts(args.inputs)
    math, quiz, writing = _Deck(math_prompts, rng), _Deck(quiz_prompts, rng), _Deck(writing_prompts, rng)
    documents = _Deck(quiz_prompts, rng)  # what the search feature embeds
    oai = openai.OpenAI(max_retries=2)
    claude = anthropic.Anthropic(max_retries=2)
    done = 0
    for i in range(args.calls):
        tier = "pro" if rng.random() < 0.4 else "free"
        customer = rng.choice(CUSTOMERS[tier])
        roll = rng.random()
        if roll < 0.50:
            with tokenproof.tag(feature="math-tutor", tier=tier, customer=customer):
                messages = [{"role": "system", "content": MATH_SYSTEM},
                            {"role": "user", "content": math.draw()}]
                if i % 3 == 0:  # streamed: the app reads chunk.choices[0] on every chunk
                    stream = oai.chat.completions.create(model="gpt-4o", messages=messages, stream=True)
                    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
                else:
                    text = oai.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content
        elif roll < 0.80:
            with tokenproof.tag(feature="marketing-quiz", tier=tier, customer=customer):
                text = oai.chat.completions.create(
                    model="gpt-4o", temperature=0,
                    messages=[{"role": "system", "content": QUIZ_SYSTEM},
                              {"role": "user", "content": quiz.draw()}],
                ).choices[0].message.content
        elif roll < 0.95:
            with tokenproof.tag(feature="writing-assistant", tier=tier, customer=customer):
                with claude.messages.stream(
                    model="claude-sonnet-4-6", max_tokens=1024, system=WRITING_SYSTEM,
                    messages=[{"role": "user", "content": writing.draw()}],
                ) as stream:
                    text = "".join(stream.text_stream)
        else:
            with tokenproof.tag(feature="doc-search", tier=tier, customer=customer):
                oai.embeddings.create(model="text-embedding-3-small", input=documents.draw())
                text = "ok"
        if not text:
            print(f"call {i}: empty answer", file=sys.stderr)
        done += 1
    print(f"support_app: {done} LLM calls made")
    return 0


if __name__ == "__main__":
    sys.exit(main())
