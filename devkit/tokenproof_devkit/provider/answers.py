"""Choosing the answer text for a request (provider-neutral).

A request is reduced to a ``Conversation`` (system text, user/assistant turns, tool results). The
answer is, in order:
1. a judge verdict when the last user message is a pairwise judge prompt (see JUDGE.md);
2. the recorded answer of the mapped model (see models.py) for the recorded question equal to, or
   embedded in, the last user message (MT-bench second turns through the conversation);
3. a fallback (see fallback.py): a stable pick (hash of the prompt) among the recorded GSM8K /
   MT-bench answers, introduced by a marker line so it is clearly a fallback.
Tools, JSON output formats, truncation and reasoning tokens are applied on top by the routes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tokenproof_devkit.provider import judge
from tokenproof_devkit.provider.corpus import Record, get_corpus
from tokenproof_devkit.provider.fallback import fallback_text, pick_fallback
from tokenproof_devkit.provider.models import ModelInfo
from tokenproof_devkit.provider.options import ProviderOptions
from tokenproof_devkit.provider.schema_values import value_for_schema
from tokenproof_devkit.provider.text import stable_int


@dataclass
class Conversation:
    system: str = ""
    turns: list[tuple[str, str]] = field(default_factory=list)   # (role, text)
    last_is_tool_result: bool = False

    @property
    def last_user(self) -> str:
        for role, text in reversed(self.turns):
            if role == "user":
                return text
        return ""

    def user_texts(self) -> list[str]:
        return [text for role, text in self.turns if role == "user"]

    def full_text(self) -> str:
        return "\n".join([self.system] + [text for _, text in self.turns])


@dataclass
class Answer:
    text: str
    record_id: str | None = None
    source: str = "recorded"    # "recorded" | "fallback" | "judge"


def find_record(conv: Conversation) -> Record | None:
    corpus = get_corpus()
    users = conv.user_texts()
    if not users:
        return None
    record = corpus.find_prompt(users[-1])
    if record is not None:
        return record
    if len(users) >= 2:
        first = corpus.find_prompt(users[0])
        nxt = first.extra.get("next_turn") if first is not None else None
        if nxt is not None:
            return nxt
    return None


def choose_answer(conv: Conversation, info: ModelInfo, options: ProviderOptions) -> Answer:
    if judge.is_judge_prompt(conv.last_user):
        return Answer(judge.verdict_text(conv.last_user, options), source="judge")
    record = find_record(conv)
    if record is not None:
        return Answer(record.answer(info.recording), record_id=record.id)
    pick = pick_fallback(conv.full_text())
    return Answer(fallback_text(pick, pick.answer(info.recording)), record_id=pick.id, source="fallback")


def reasoning_tokens(info: ModelInfo, prompt: str) -> int:
    """Hidden reasoning tokens a reasoning model reports for this prompt (deterministic)."""
    if not info.reasoning:
        return 0
    return 64 * (1 + stable_int("reasoning", info.requested, prompt) % 8)


# -- structured output helpers --------------------------------------------------------------------
def json_answer(text: str, schema: dict | None) -> str:
    """The answer as JSON: ``{"answer": text}`` or a value following ``schema``."""
    value = value_for_schema(schema, text) if schema else {"answer": text}
    if value == {} and schema is not None and not schema.get("properties"):
        value = {"answer": text}
    return json.dumps(value, ensure_ascii=False)


def tool_arguments(parameters: dict | None, user_text: str) -> dict:
    value = value_for_schema(parameters or {"type": "object", "properties": {}}, user_text[:200])
    return value if isinstance(value, dict) else {}
