"""Few-shot demonstrations bootstrapped from baseline answers, under a token budget.

Demonstrations come from the optimise set only: prompts whose baseline answer passes the format
gates and, where a reference exists, is right. The shortest go first, and demonstrations are added
while the rendered block stays within ``token_budget`` (counted with ``tokenproof.tokens``). The
block is appended to the system prompt, so the variant stays one string: the route's candidate
system prompt, hashed into the route id like any other.
"""

from __future__ import annotations

from tokenproof.analytics.proof.gates import check_format
from tokenproof.analytics.proof.judge import question_of
from tokenproof.analytics.proof.optimize.check import final_number
from tokenproof.analytics.proof.optimize.scoring import Item, prompt_tokens

__all__ = ["bootstrap_demos", "system_of", "with_demos"]

_HEADER = "\n\nExamples of requests and good answers (follow their format):"


def system_of(body: dict) -> str:
    """The request's own system (or developer) message text: the route's current prompt."""
    for message in body.get("messages") or []:
        if message.get("role") in {"system", "developer"}:
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _right(item: Item) -> bool:
    if not item.reference:
        return True
    expected = final_number(item.reference)
    return expected is None or final_number(item.baseline.text) == expected


def _request(item: Item) -> str:
    """The request as a demonstration shows it: the user turns, without the system prompt."""
    return question_of({"messages": [m for m in item.body.get("messages") or []
                                     if m.get("role") not in {"system", "developer"}]})


def _render(demos: list[tuple[str, str]]) -> str:
    parts = [_HEADER]
    for number, (question, answer) in enumerate(demos, start=1):
        parts.append(f"\n\n### Example {number}\nRequest:\n{question.strip()}\nAnswer:\n{answer.strip()}")
    return "".join(parts)


def bootstrap_demos(items: list[Item], token_budget: int, max_demos: int = 3) -> tuple[str, list[str]]:
    """(rendered block, prompt refs used); an empty block when nothing fits the budget."""
    usable = [i for i in items if not i.baseline.error and check_format(i.body, i.baseline).valid and _right(i)]
    usable.sort(key=lambda i: (len(_request(i)) + len(i.baseline.rendered()), i.prompt_ref))
    chosen: list[tuple[str, str]] = []
    refs: list[str] = []
    for item in usable:
        if len(chosen) >= max_demos:
            break
        trial = [*chosen, (_request(item), item.baseline.rendered())]
        if prompt_tokens(_render(trial)) > token_budget:
            continue
        chosen, refs = trial, [*refs, item.prompt_ref]
    return (_render(chosen) if chosen else ""), refs


def with_demos(prompt: str, block: str) -> str:
    return prompt.rstrip() + block if block else prompt
