"""Example input files built from the recorded corpus (lm-sys/RouteLLM, Apache-2.0).

- ``write_gsm8k_batch``: example input for `tokenproof prove`, real GSM8K (and MMLU) questions as
  OpenAI Batch API lines. The baseline is ``gpt-4-1106-preview``; no recorded responses are
  included, so `prove` replays the baseline too.
- ``write_support_app_inputs``: the example app's own prompts (``examples/support_app_inputs.jsonl``),
  so the app reads a data file of its own and never the corpus.

Regenerate the committed files from the repository root with::

    python -m tokenproof_devkit.examples batch            # examples/proof_gsm8k_batch.jsonl
    python -m tokenproof_devkit.examples support-inputs   # examples/support_app_inputs.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from tokenproof_devkit.provider.corpus import get_corpus

__all__ = ["SUSPECT_LABELS", "gsm8k_batch_lines", "support_app_inputs", "trusted", "write_gsm8k_batch",
           "write_support_app_inputs"]

# Recorded labels that are upstream artefacts, not model quality: the recorded GPT-4 correctness on
# these MMLU subjects is far below GPT-4's published scores (3% on high-school mathematics, against
# 39% or more everywhere else and an 81% average), the signature of a failed answer extraction for
# numeric options upstream. Neither the demo nor the decision benchmark relies on them.
SUSPECT_LABELS: dict[str, str] = {
    "mmlu:high_school_mathematics": "recorded GPT-4 correctness 3% (upstream answer extraction failed)",
    "mmlu:college_chemistry": "recorded GPT-4 correctness 48%, below Mixtral's (numeric options; extraction suspect)",
    "mmlu:college_mathematics": "recorded GPT-4 correctness 39% (numeric options; extraction suspect)",
    "mmlu:college_physics": "recorded GPT-4 correctness 49% (numeric options; extraction suspect)",
    "mmlu:high_school_physics": "recorded GPT-4 correctness 56% (numeric options; extraction suspect)",
    "mmlu:elementary_mathematics": "recorded GPT-4 correctness 56% (numeric options; extraction suspect)",
    "mmlu:abstract_algebra": "recorded GPT-4 correctness 46% (numeric options; extraction suspect)",
}


def trusted(feature: str) -> bool:
    """False for features whose recorded labels are flagged as upstream artefacts."""
    return feature not in SUSPECT_LABELS


MMLU_SYSTEM = "Answer the multiple-choice question with the letter of the correct option."
SYSTEM = "Solve the grade-school maths problem step by step. End with a line '#### <number>'."
# the example app's features -> which recorded prompts feed them
SUPPORT_APP_FEATURES = {
    "math-tutor": lambda r: r.dataset == "gsm8k",
    "marketing-quiz": lambda r: r.feature == "mmlu:marketing",
    "writing-assistant": lambda r: r.feature == "mt_bench:writing" and r.turn == 0,
}


def gsm8k_batch_lines(n: int = 60, seed: int = 0, model: str = "gpt-4-1106-preview",
                      feature: str = "gsm8k") -> list[dict]:
    """Batch lines for ``n`` random questions of one recorded feature ("gsm8k", "mmlu:<subject>")."""
    if not trusted(feature):
        raise ValueError(f"{feature}: {SUSPECT_LABELS[feature]}; choose another feature")
    records = [r for r in get_corpus().records if r.feature == feature]
    chosen = random.Random(seed).sample(records, min(n, len(records)))
    system = SYSTEM if feature == "gsm8k" else MMLU_SYSTEM
    return [{
        "custom_id": record.id, "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": model, "temperature": 0, "max_tokens": 800,
                 "messages": [{"role": "system", "content": system}, {"role": "user", "content": record.prompt}],
                 "metadata": {"feature": feature}},
    } for record in chosen]


def write_gsm8k_batch(path: Path, n: int = 60, seed: int = 0,
                      features: tuple[str, ...] = ("gsm8k",)) -> Path:
    """Write ``n`` requests per feature, interleaved as live traffic would arrive."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [line for feature in features for line in gsm8k_batch_lines(n, seed, feature=feature)]
    random.Random(seed + 1).shuffle(lines)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


# the committed prove sample (examples/proof_gsm8k_batch.jsonl): maths, and a subject with trusted labels
BATCH_FEATURES = ("gsm8k", "mmlu:world_religions")
# prompts per app feature in its inputs file: every recorded marketing question (the demo's shadow
# run needs a few hundred distinct prompts to reach a decision), a sample of the maths problems
SUPPORT_APP_SIZES = {"math-tutor": 200, "marketing-quiz": 1000, "writing-assistant": 1000}


def support_app_inputs(sizes: dict[str, int] | None = None, seed: int = 0) -> list[dict]:
    """``{"feature", "id", "prompt"}`` rows: up to ``sizes[feature]`` recorded prompts per app feature."""
    sizes = sizes or SUPPORT_APP_SIZES
    records = get_corpus().records
    rows = []
    for feature, wanted in SUPPORT_APP_FEATURES.items():
        pool = [r for r in records if wanted(r)]
        chosen = sorted(random.Random(seed).sample(range(len(pool)), min(sizes[feature], len(pool))))
        rows += [{"feature": feature, "id": pool[i].id, "prompt": pool[i].prompt} for i in chosen]
    return rows


def write_support_app_inputs(path: Path, sizes: dict[str, int] | None = None, seed: int = 0) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = support_app_inputs(sizes, seed)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tokenproof_devkit.examples", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    batch = sub.add_parser("batch", help="a Batch API file for `tokenproof prove`")
    batch.add_argument("path", nargs="?", default="examples/proof_gsm8k_batch.jsonl")
    batch.add_argument("n", nargs="?", type=int, default=150, help="questions per feature")
    inputs = sub.add_parser("support-inputs", help="the example app's prompts")
    inputs.add_argument("path", nargs="?", default="examples/support_app_inputs.jsonl")
    args = parser.parse_args(argv)
    if args.what == "batch":
        print(write_gsm8k_batch(Path(args.path), n=args.n, features=BATCH_FEATURES))
    else:
        print(write_support_app_inputs(Path(args.path)))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
