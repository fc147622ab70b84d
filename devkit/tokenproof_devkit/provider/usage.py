"""Token counting and prompt caching for the provider's usage numbers.

Counting uses ``tokenproof.tokens.count_tokens`` (offline tiktoken encodings) when it is importable
and works; otherwise a local approximation ``len(text) // 4 + 1``. ``truncate`` cuts a text to at
most N tokens at a word boundary.

Caching (per server instance, in memory):
- OpenAI style (automatic): the prompt is a sequence of segments (tools/format + each message).
  When a prefix of whole segments of at least 1024 tokens was seen before for the same model,
  ``cached_tokens`` is that prefix rounded down to 1024 + a multiple of 128.
- Anthropic style (explicit): each block marked ``cache_control`` ends a cacheable prefix. The
  first time a prefix of at least ``min_tokens`` tokens is seen it is reported as
  ``cache_creation_input_tokens``; later as ``cache_read_input_tokens``.
"""

from __future__ import annotations

import threading

from tokenproof_devkit.provider.text import split_chunks, stable_hash

_counter = None


def _resolve_counter():
    try:
        from tokenproof.tokens import count_tokens  # type: ignore
        if count_tokens(model="gpt-4o", text="one two three four five six seven eight") < 5:
            return None
        return lambda text, model: int(count_tokens(model=model, text=text))
    except Exception:
        return None


def count_tokens(text: str, model: str = "gpt-4o") -> int:
    """Tokens in ``text`` (tiktoken through tokenproof.tokens when available)."""
    global _counter
    if not text:
        return 0
    if _counter is None:
        _counter = _resolve_counter() or (lambda t, m: len(t) // 4 + 1)
    try:
        return max(1, _counter(text, model))
    except Exception:
        return len(text) // 4 + 1


def truncate(text: str, max_tokens: int, model: str = "gpt-4o") -> tuple[str, bool]:
    """``text`` cut to at most ``max_tokens`` tokens (whole words) and whether it was cut."""
    if max_tokens is None or count_tokens(text, model) <= max_tokens:
        return text, False
    pieces = split_chunks(text)
    lo, hi = 0, len(pieces)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if count_tokens("".join(pieces[:mid]), model) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return "".join(pieces[:lo]), True


class PromptCache:
    """Remembers prompt prefixes seen by this server (thread-safe)."""

    def __init__(self, openai_min_tokens: int = 1024, anthropic_min_tokens: int = 1024) -> None:
        self.openai_min = openai_min_tokens
        self.anthropic_min = anthropic_min_tokens
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def openai_cached(self, model: str, segments: list[str]) -> int:
        """Cached tokens for a prompt made of ``segments``; remembers every prefix of it."""
        cached = 0
        text = ""
        keys = []
        with self._lock:
            for segment in segments:
                text += segment
                key = stable_hash("openai", model, text)
                keys.append(key)
                if key in self._seen:
                    tokens = count_tokens(text, model)
                    if tokens >= self.openai_min:
                        cached = self.openai_min + 128 * ((tokens - self.openai_min) // 128)
            self._seen.update(keys)
        return cached

    def anthropic_cached(self, model: str, prefixes: list[str]) -> tuple[int, int]:
        """(cache_creation, cache_read) tokens for the cache_control prefixes of one request."""
        creation = read = 0
        with self._lock:
            for text in prefixes:  # shortest first
                tokens = count_tokens(text, model)
                if tokens < self.anthropic_min:
                    continue
                key = stable_hash("anthropic", model, text)
                if key in self._seen:
                    read = tokens
                    creation = 0
                else:
                    self._seen.add(key)
                    creation = tokens - read
        return creation, read
