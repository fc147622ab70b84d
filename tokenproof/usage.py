"""Usage of one LLM call: named token and tool-use counts, in the GenAI conventions' meaning.

A :class:`Usage` is what the instrumentation reads from a response, what the store keeps per call
and what pricing prices (``docs/pricing.md``). Totals include their parts, as in the semantic
conventions and genai-prices: ``input_tokens`` counts cached and audio input too,
``output_tokens`` counts reasoning and audio output, and ``cache_creation_tokens`` counts all cache
writes of which ``cache_creation_1h_tokens`` are the ones with Anthropic's one-hour lifetime.

It is a ``NamedTuple``: cheap to build on the hot path, hashable (the price cache keys on it) and
read by field name everywhere.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["USAGE_KEYS", "Usage"]


class Usage(NamedTuple):
    """Counts of one call; every field defaults to 0 except the two totals."""

    input_tokens: int  # ALL input tokens: cache reads, cache writes and audio included
    output_tokens: int = 0  # ALL output tokens: reasoning and audio included
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0  # all cache writes (5-minute and 1-hour)
    reasoning_tokens: int = 0
    cache_creation_1h_tokens: int = 0  # the cache writes with a one-hour lifetime (Anthropic)
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    cache_audio_read_tokens: int = 0
    web_searches: int = 0  # server-side web search requests (billed per 1,000)

    def replace(self, **changes: int) -> Usage:
        return self._replace(**changes)


# genai-prices usage key -> our field name (same meaning; genai-prices' totals include their parts)
USAGE_KEYS: dict[str, str] = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_read_tokens": "cache_read_tokens",
    "cache_write_tokens": "cache_creation_tokens",
    "output_reasoning_tokens": "reasoning_tokens",
    "cache_write_1h_tokens": "cache_creation_1h_tokens",
    "input_audio_tokens": "input_audio_tokens",
    "output_audio_tokens": "output_audio_tokens",
    "cache_audio_read_tokens": "cache_audio_read_tokens",
    "web_searches": "web_searches",
}
