"""Rebuild the provider's shipped data subset from a RouteLLM checkout (maintainers only).

The provider answers with recorded real model outputs from lm-sys/RouteLLM (commit 0b64fdaf,
Apache-2.0). The project must run without the source tree, so this script copies the subset the
provider needs into ``devkit/tokenproof_devkit/provider/data/`` as gzipped JSONL, excluding every
prompt the source flags as contaminated (``*/contaminated_prompts.jsonl``)::

    python -m tokenproof_devkit.provider.build_data <path to a RouteLLM checkout>

Outputs (one JSON object per line):
- ``gsm8k.jsonl.gz``: id, prompt, gold (reference solution ending in ``#### N``), answers and
  correct labels per recorded model.
- ``mmlu.jsonl.gz``: id, subject, prompt, correct labels per recorded model (no answer text exists
  upstream; see ``corpus.py`` for the synthesized answers).
- ``mt_bench.jsonl.gz``: question_id, category, turns, reference (math/reasoning/coding only),
  answers per model per turn (recovered from the judgements' ``user_prompt``) and GPT-4 grades.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import sys
from pathlib import Path

from tokenproof_devkit.provider.text import normalize

GPT4 = "gpt-4-1106-preview"
MIXTRAL = "mixtral-8x7b-instruct-v0.1"
SOURCE_COLUMNS = {GPT4: "gpt-4-1106-preview", MIXTRAL: "mistralai/Mixtral-8x7B-Instruct-v0.1"}
OUT = Path(__file__).parent / "data"


def _contaminated(folder: Path) -> set[str]:
    path = folder / "contaminated_prompts.jsonl"
    if not path.exists():
        return set()
    return {normalize(json.loads(line)["eval_prompt"]) for line in path.open() if line.strip()}


def _write(name: str, rows: list[dict]) -> None:
    with gzip.open(OUT / name, "wt", encoding="utf-8", compresslevel=9) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{name}: {len(rows)} rows")


def build_gsm8k(root: Path) -> None:
    folder = root / "gsm8k"
    bad = _contaminated(folder)
    gold = {}
    for line in (folder / "test.jsonl").open():
        item = json.loads(line)
        gold[normalize(item["question"])] = item["answer"]
    rows = []
    with (folder / "gsm8k_responses.csv").open(newline="") as fh:
        for i, rec in enumerate(csv.DictReader(fh)):
            key = normalize(rec["prompt"])
            if key in bad:
                continue
            rows.append({
                "id": f"gsm8k-{i}",
                "prompt": rec["prompt"],
                "gold": gold.get(key),
                "answers": {m: rec[f"{c}_response"].strip() for m, c in SOURCE_COLUMNS.items()},
                "correct": {m: rec[c] == "True" for m, c in SOURCE_COLUMNS.items()},
            })
    _write("gsm8k.jsonl.gz", rows)


def build_mmlu(root: Path) -> None:
    folder = root / "mmlu"
    bad = _contaminated(folder)
    rows = []
    for path in sorted((folder / "responses").glob("mmlu_*.csv")):
        subject = path.stem[len("mmlu_"):]
        with path.open(newline="") as fh:
            for i, rec in enumerate(csv.DictReader(fh)):
                if normalize(rec["prompt"]) in bad:
                    continue
                rows.append({
                    "id": f"mmlu-{subject}-{i}",
                    "subject": subject,
                    "prompt": rec["prompt"],
                    "correct": {m: rec[c] == "True" for m, c in SOURCE_COLUMNS.items()},
                })
    _write("mmlu.jsonl.gz", rows)


_ANSWER_1 = re.compile(r"\[The Start of Assistant's Answer\]\n(.*)\n\[The End of Assistant's Answer\]", re.S)
_REF_1 = re.compile(r"\[The Start of Reference Answer\]\n(.*?)\n\[The End of Reference Answer\]", re.S)
_CONV_ANSWER = re.compile(r"### Assistant A:\n(.*?)(?=\n\n### User:|\n\n<\|The End of Assistant A's Conversation)", re.S)
_CONV_REF = re.compile(r"### Reference answer:\n(.*?)(?=\n\n### User:|\n\n<\|The End of Reference Answer)", re.S)


def build_mt_bench(root: Path) -> None:
    folder = root / "mt_bench"
    bad = _contaminated(folder)
    questions = {}
    for line in (folder / "question.jsonl").open():
        q = json.loads(line)
        if normalize(q["turns"][0]) in bad:
            continue
        questions[q["question_id"]] = {
            "question_id": q["question_id"], "category": q["category"], "turns": q["turns"],
            "reference": None, "answers": {GPT4: [None, None], MIXTRAL: [None, None]},
            "scores": {GPT4: [None, None], MIXTRAL: [None, None]},
        }
    for line in (folder / "judgements.jsonl").open():
        j = json.loads(line)
        q = questions.get(j["question_id"])
        if q is None:
            continue
        model = GPT4 if j["model"] == "gpt-4-1106-preview" else MIXTRAL
        turn = j["turn"] - 1
        prompt = j["user_prompt"]
        if turn == 0:
            answer = _ANSWER_1.search(prompt).group(1)
            ref = _REF_1.search(prompt)
            if ref and q["reference"] is None:
                q["reference"] = [ref.group(1), None]
        else:
            answer = _CONV_ANSWER.findall(prompt)[1]
            refs = _CONV_REF.findall(prompt)
            if len(refs) == 2:
                q["reference"] = [refs[0], refs[1]]
        q["answers"][model][turn] = answer.strip()
        q["scores"][model][turn] = j["score"]
    _write("mt_bench.jsonl.gz", sorted(questions.values(), key=lambda q: q["question_id"]))


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tokenproof_devkit.provider.build_data <path to a RouteLLM checkout>", file=sys.stderr)
        return 2
    root = Path(argv[0])
    OUT.mkdir(exist_ok=True)
    build_gsm8k(root)
    build_mmlu(root)
    build_mt_bench(root)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
