"""System prompts proposed by an optimiser model from the candidate's losing cases.

The optimiser (any OpenAI-compatible model at a *configured* endpoint) is shown the current prompt,
the format requirements the answers must meet, and a few cases from the optimise set where the
candidate lost or stayed unresolved, each with the baseline's answer; it writes ``n`` variants
between ``<prompt>`` tags. A proposal that pastes a shown request is dropped (it would fit those
cases only). Beside the model's proposals, round 1 adds a rule-based one: the current prompt with
the format requirements spelled out. Its calls are experiment traffic (``shadow``), metered by the ledger.
"""

from __future__ import annotations

import json
import re

from tokenproof.analytics.proof.gates import output_format_of
from tokenproof.analytics.proof.optimize.scoring import Item

__all__ = ["format_requirements", "parse_proposals", "proposal_messages", "propose", "with_requirements"]

_SYSTEM = (
    "You improve system prompts for a small, inexpensive language model so that its answers match a "
    "stronger model's answers on the same requests. You write system prompts only, never answers."
)
_TAG = re.compile(r"<prompt>\s*(.*?)\s*</prompt>", re.S | re.I)
_CLIP = 600


def format_requirements(items: list[Item]) -> list[str]:
    """What every answer must satisfy, from the requests (response format, tools, limits) and the
    baseline's answers (a final ``####`` line)."""
    if not items:
        return []
    body = items[0].body
    needs: list[str] = []
    kind = output_format_of(body)
    fmt = body.get("response_format") or {}
    if kind == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        needs.append("The answer is one JSON object, with no Markdown fence and no text around it, matching "
                     f"this JSON schema: {json.dumps(schema, sort_keys=True)}")
    elif kind == "json":
        needs.append("The answer is one JSON object, with no Markdown fence and no text around it.")
    elif kind == "tool_calls":
        names = [(t.get("function") or {}).get("name") for t in body.get("tools") or []]
        needs.append(f"The answer calls one of the declared tools ({', '.join(n for n in names if n)}) with valid arguments.")
    marked = sum("####" in i.baseline.text for i in items)
    if kind == "text" and marked >= max(1, len(items) // 2):
        needs.append("The answer ends with a final line of the form '#### <number>' (the number alone).")
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    if limit:
        needs.append(f"The whole answer fits in {limit} tokens (longer answers are cut off and fail).")
    needs.append("The answer is in the language of the request and never refuses a request the reference answered.")
    return needs


def proposal_messages(current: str, requirements: list[str], losing: list[dict], n: int) -> list[dict]:
    cases = []
    for number, case in enumerate(losing, start=1):
        cases.append(f"Case {number}\nRequest:\n{case['question'][:_CLIP]}\n\nSmall model's answer:\n"
                     f"{(case['candidate'] or '(empty)')[:_CLIP]}\n\nStronger model's answer:\n"
                     f"{(case['baseline'] or '(empty)')[:_CLIP]}\n\nWhy it lost: {str(case['why'])[:200]}")
    user = (f"The current system prompt:\n<current>\n{current or '(none)'}\n</current>\n\n"
            "Format requirements every answer must meet:\n" + "\n".join(f"- {r}" for r in requirements) + "\n\n"
            + ("Cases where the small model's answer was judged worse than the stronger model's:\n\n"
               + "\n\n".join(cases) if cases else "The small model lost no case; make the prompt more robust.")
            + f"\n\nWrite {n} different improved system prompts for the small model. Each keeps the task "
            "unchanged, states the format requirements explicitly, and adds short general instructions "
            "that address the failures (never the cases' specific content). Put each prompt between "
            "<prompt> and </prompt>.")
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


def _copies_a_case(prompt: str, cases: list[dict]) -> bool:
    """The proposal pastes a shown request (its first 60 characters): it would fit those cases only."""
    squash = " ".join(prompt.split()).lower()
    return any(len(q) >= 30 and q[:60] in squash for q in (" ".join(c["question"].split()).lower() for c in cases))


def parse_proposals(text: str, limit: int, max_chars: int = 4000, cases: list[dict] | None = None) -> list[str]:
    """The prompts between ``<prompt>`` tags: distinct, not too long, not pasting a shown case."""
    seen: list[str] = []
    for raw in _TAG.findall(text or ""):
        prompt = raw.strip()
        if prompt and len(prompt) <= max_chars and prompt not in seen and not _copies_a_case(prompt, cases or []):
            seen.append(prompt)
    return seen[:limit]


def with_requirements(prompt: str, requirements: list[str]) -> str:
    """A rule-based proposal: the current prompt with the format requirements spelled out."""
    return (prompt.rstrip() + "\n\nRequirements for every answer:\n" + "\n".join(f"- {r}" for r in requirements)).strip()


def propose(replayer, model: str, current: str, requirements: list[str], losing: list[dict], n: int,
            feature: str | None = None, max_cases: int = 4, temperature: float = 0.8) -> tuple[list[str], dict]:
    """(proposed prompts, what the call showed and cost) from one optimiser call."""
    cases = losing[:max_cases]
    messages = proposal_messages(current, requirements, cases, n)
    answer = replayer.call({"messages": messages, "temperature": temperature, "max_tokens": 1200}, model,
                           feature=feature, kind="proposal")
    proposals = parse_proposals(answer.text, n, cases=cases) if not answer.error else []
    return proposals, {"cases_shown": [c["ref"] for c in cases], "error": answer.error,
                       "tokens": answer.input_tokens + answer.output_tokens, "proposed": len(proposals)}
