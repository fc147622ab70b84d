"""Example input for `tokenproof prove`: real GSM8K and MMLU questions as OpenAI Batch API lines.

Questions come from the provider's shipped recordings (lm-sys/RouteLLM, Apache-2.0). The baseline is
``gpt-4-1106-preview``; no recorded responses are included, so `prove` replays the baseline too.
Regenerate ``examples/proof_gsm8k_batch.jsonl`` with ``python -m tokenproof.analytics.proof.examples``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from tokenproof.provider.corpus import get_corpus

__all__ = ["SUSPECT_LABELS", "gsm8k_batch_lines", "trusted", "write_gsm8k_batch"]

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


if __name__ == "__main__":  # pragma: no cover
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("examples/proof_gsm8k_batch.jsonl")
    print(write_gsm8k_batch(target, n=int(sys.argv[2]) if len(sys.argv) > 2 else 150,
                            features=("gsm8k", "mmlu:world_religions")))
