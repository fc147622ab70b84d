"""The recorded corpus: real answers of GPT-4-1106-preview and Mixtral-8x7B with ground truth.

Loaded once per process from ``data/*.jsonl.gz`` (see ``data/NOTICE`` for the source and licence).
Three datasets:

- GSM8K: each model's full recorded answer, its correctness label and the gold solution.
- MT-bench: two-turn questions, each model's recorded answers and their GPT-4 grades (1-10).
- MMLU: only correctness labels exist upstream, no answer text. The provider therefore synthesizes
  a short answer: every question gets a deterministic *synthetic key letter* (a stable hash of the
  prompt, A-D); a model whose label is True answers with that letter, a model whose label is False
  answers with a different, deterministic letter. The letters are synthetic; the right/wrong pattern
  per model and subject is real.

Lookups:
- ``find_prompt(text)``: the record whose question equals the (normalised) text, or is embedded in
  it (a longer prompt or template). Embedded questions are found through an index of the first
  ``_WINDOW`` normalised characters of each question, probed at every word start of the text.
- ``find_answer(text)``: which recorded answer a text is (normalised hash), with its label.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from tokenproof_devkit.provider.text import normalize, stable_int

DATA = Path(__file__).parent / "data"
GPT4 = "gpt-4-1106-preview"
MIXTRAL = "mixtral-8x7b-instruct-v0.1"
RECORDED_MODELS = (GPT4, MIXTRAL)
LETTERS = "ABCD"
_WINDOW = 40


@dataclass
class Record:
    """One recorded question (for MT-bench: one turn of a question)."""

    dataset: str                      # "gsm8k" | "mmlu" | "mt_bench"
    id: str
    prompt: str
    feature: str                      # "gsm8k", "mmlu:<subject>", "mt_bench:<category>"
    answers: dict[str, str]           # recorded model -> answer text
    labels: dict[str, float]          # recorded model -> quality (1/0 for correctness, grade/10)
    reference: str | None = None      # gold / reference answer when one exists
    turn: int = 0
    previous_turn: Record | None = None
    key_letter: str | None = None     # MMLU synthetic key
    extra: dict = field(default_factory=dict)

    def answer(self, model: str) -> str:
        return self.answers[model]


@dataclass(frozen=True)
class AnswerMatch:
    record: Record
    model: str
    label: float


def _read(name: str) -> list[dict]:
    with gzip.open(DATA / name, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def mmlu_letters(prompt: str, correct: dict[str, bool]) -> tuple[str, dict[str, str]]:
    """The synthetic key letter of an MMLU question and each model's answer letter."""
    key = LETTERS[stable_int("mmlu-key", prompt) % 4]
    chosen = {}
    for model, ok in correct.items():
        if ok:
            chosen[model] = key
        else:
            wrong = [c for c in LETTERS if c != key]
            chosen[model] = wrong[stable_int("mmlu-wrong", prompt, model) % 3]
    return key, chosen


def mmlu_answer_text(letter: str) -> str:
    return f"The answer is {letter}."


class Corpus:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self._exact: dict[str, Record] = {}
        self._window: dict[str, list[tuple[str, Record]]] = {}
        self._answers: dict[str, AnswerMatch] = {}
        self._load()

    # -- loading -------------------------------------------------------------------------------
    def _add(self, record: Record, index_prompt: bool = True) -> None:
        self.records.append(record)
        if index_prompt:
            key = normalize(record.prompt)
            self._exact.setdefault(key, record)
            core = key[: -len("answer:")].rstrip() if key.endswith("answer:") else key
            if core != key:
                self._exact.setdefault(core, record)
            self._window.setdefault(core[:_WINDOW], []).append((core, record))
        if record.dataset != "mmlu":
            for model, text in record.answers.items():
                self._answers.setdefault(normalize(text), AnswerMatch(record, model, record.labels[model]))

    def _load(self) -> None:
        for row in _read("gsm8k.jsonl.gz"):
            self._add(Record(
                dataset="gsm8k", id=row["id"], prompt=row["prompt"], feature="gsm8k",
                answers=row["answers"], labels={m: float(v) for m, v in row["correct"].items()},
                reference=row["gold"],
            ))
        for row in _read("mmlu.jsonl.gz"):
            key, chosen = mmlu_letters(row["prompt"], row["correct"])
            self._add(Record(
                dataset="mmlu", id=row["id"], prompt=row["prompt"], feature=f"mmlu:{row['subject']}",
                answers={m: mmlu_answer_text(letter) for m, letter in chosen.items()},
                labels={m: float(v) for m, v in row["correct"].items()},
                reference=mmlu_answer_text(key), key_letter=key,
            ))
        for row in _read("mt_bench.jsonl.gz"):
            previous = None
            for turn, prompt in enumerate(row["turns"]):
                ref = row["reference"][turn] if row.get("reference") else None
                record = Record(
                    dataset="mt_bench", id=f"mt_bench-{row['question_id']}-t{turn + 1}", prompt=prompt,
                    feature=f"mt_bench:{row['category']}",
                    answers={m: row["answers"][m][turn] for m in RECORDED_MODELS},
                    labels={m: row["scores"][m][turn] / 10.0 for m in RECORDED_MODELS},
                    reference=ref, turn=turn, previous_turn=previous,
                    extra={"question_id": row["question_id"], "category": row["category"]},
                )
                # only first turns are looked up by prompt; second turns through the conversation
                self._add(record, index_prompt=(turn == 0))
                if turn == 0:
                    first = record
                else:
                    first.extra["next_turn"] = record
                previous = record

    # -- lookups -------------------------------------------------------------------------------
    def find_prompt(self, text: str) -> Record | None:
        """The recorded question equal to, or embedded in, ``text`` (longest embedded match wins)."""
        norm = normalize(text)
        if not norm:
            return None
        hit = self._exact.get(norm)
        if hit is not None:
            return hit
        best: tuple[int, Record] | None = None
        starts = [0] + [i + 1 for i, ch in enumerate(norm) if ch == " "]
        for start in starts:
            bucket = self._window.get(norm[start:start + _WINDOW])
            if not bucket:
                continue
            for core, record in bucket:
                if norm.startswith(core, start) and (best is None or len(core) > best[0]):
                    best = (len(core), record)
        return best[1] if best else None

    def find_answer(self, text: str) -> AnswerMatch | None:
        """Which recorded GSM8K / MT-bench answer ``text`` is (whitespace/case-insensitive)."""
        return self._answers.get(normalize(text))


_corpus: Corpus | None = None
_lock = threading.Lock()


def get_corpus() -> Corpus:
    global _corpus
    if _corpus is None:
        with _lock:
            if _corpus is None:
                _corpus = Corpus()
    return _corpus
