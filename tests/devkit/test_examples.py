"""The example files built from the recorded corpus: committed copies are current, and every prompt
the example app sends has a recorded answer (so it never sees a fallback)."""

from __future__ import annotations

import json
from pathlib import Path

from tokenproof_devkit.examples import BATCH_FEATURES, write_gsm8k_batch, write_support_app_inputs
from tokenproof_devkit.provider.corpus import get_corpus

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_committed_example_files_are_what_the_builder_writes(tmp_path):
    inputs = write_support_app_inputs(tmp_path / "inputs.jsonl")
    assert inputs.read_bytes() == (EXAMPLES / "support_app_inputs.jsonl").read_bytes()
    batch = write_gsm8k_batch(tmp_path / "batch.jsonl", n=150, features=BATCH_FEATURES)
    assert batch.read_bytes() == (EXAMPLES / "proof_gsm8k_batch.jsonl").read_bytes()


def test_every_example_app_prompt_is_recorded():
    rows = [json.loads(line) for line in (EXAMPLES / "support_app_inputs.jsonl").read_text().splitlines()]
    assert {row["feature"] for row in rows} == {"math-tutor", "marketing-quiz", "writing-assistant"}
    corpus = get_corpus()
    unrecorded = [row["id"] for row in rows if getattr(corpus.find_prompt(row["prompt"]), "id", None) != row["id"]]
    assert unrecorded == []
