"""Deterministic rules about an answer's text, shared by the proof engine's gates and the
instrumentation's per-request fallback, so that "the candidate failed" means the same in both.

- a refusal: the common phrasings, matched after typographic quotes and dashes are made plain;
- a Markdown fence around JSON: the app's own ``json.loads`` fails on it, so it is a format failure
  unless the route says the app strips fences.
"""

from __future__ import annotations

import re

__all__ = ["is_fenced", "looks_like_refusal_text", "normalise_typography", "strip_fence"]

_REFUSAL = re.compile(
    r"^\s*(?:(?:i'?m sorry|i am sorry|sorry|i apologi[sz]e|unfortunately|apologies)[,.!]?\s*)?"
    r"(?:but\s+|however,?\s+)?(?:"
    r"i\s*(?:can(?:no|')?t|cannot|won'?t|will\s+not|am\s+not|'m\s+not|am\s+unable|'m\s+unable|am|'m)"
    r"(?:\s+be)?(?:\s+(?:able|allowed|permitted))?\s+(?:to\s+)?"
    r"(?:help|assist|comply|provide|do\s+that|answer|fulfil|fulfill|share|create|generate|complete|support|review)"
    r"|as\s+an\s+ai(?:\s+language\s+model)?\b"
    r"|i\s*(?:'m|am)\s+(?:unable|not\s+able)\s+to\b"
    r")",
    re.I,
)
_TYPOGRAPHY = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"',
                             "\u00a0": " ", "\u2013": "-", "\u2014": "-"})


def normalise_typography(text: str) -> str:
    """Curly quotes, non-breaking spaces and dashes as plain ASCII (for phrase matching only)."""
    return (text or "").translate(_TYPOGRAPHY)


def looks_like_refusal_text(text: str) -> bool:
    """The answer opens with a refusal ("I'm sorry, but I can't...", "As an AI...")."""
    return bool(text) and bool(_REFUSAL.match(normalise_typography(text[:300])))


def is_fenced(text: str) -> bool:
    return (text or "").strip().startswith("```")


def strip_fence(text: str) -> str:
    """The text inside a Markdown fence (for routes that declare fences tolerated)."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped
