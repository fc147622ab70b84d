"""Local token counts for calls whose provider reported no usage (spans marked ``estimated``).

Uses ``tokenproof.tokens`` (offline tiktoken encodings, the ``tokens`` extra). Without it (a bare
install) or without an encoding for the model, falls back to about four characters per token, so
a span always gets an estimate rather than no usage at all.
"""

from __future__ import annotations

from typing import Any

__all__ = ["count_messages", "count_text"]

_tokens: Any = None


def _module() -> Any:
    global _tokens
    if _tokens is None:
        try:
            from tokenproof import tokens
        except ImportError:
            _tokens = False
        else:
            _tokens = tokens
    return _tokens


def _unavailable(tokens: Any) -> tuple[type[BaseException], ...]:
    return (ImportError, getattr(tokens, "EncodingUnavailable", ImportError))


def _approx(text: str) -> int:
    return (len(text) + 3) // 4


def count_text(model: str, text: str) -> int:
    tokens = _module()
    if tokens:
        try:
            return int(tokens.count_tokens(model, text))
        except _unavailable(tokens):
            pass
    return _approx(text)


def count_messages(model: str, messages: list[Any]) -> int:
    tokens = _module()
    if tokens:
        try:
            return int(tokens.count_message_tokens(model, messages))
        except _unavailable(tokens):
            pass
    total = 3
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        total += 3 + _approx(content if isinstance(content, str) else str(content or ""))
    return total
