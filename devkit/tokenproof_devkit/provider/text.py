"""Text helpers shared by the provider: normalisation, stable hashes, numbers, chunking."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def normalize(text: str) -> str:
    """Lower-case, NFKC, straight quotes, one space between words, trimmed."""
    text = unicodedata.normalize("NFKC", text or "").translate(_QUOTES).lower()
    return _SPACE.sub(" ", text).strip()


def stable_hash(*parts: str) -> str:
    """A stable hex digest of the parts (never Python's per-process ``hash``)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def stable_int(*parts: str) -> int:
    return int(stable_hash(*parts)[:15], 16)


def stable_unit(*parts: str) -> float:
    """A deterministic number in [0, 1) derived from the parts."""
    return stable_int(*parts) / float(16**15)


def final_number(text: str) -> str | None:
    """The answer's final number: after ``####`` when present, else the last number in the text."""
    if not text:
        return None
    if "####" in text:
        found = _NUMBER.findall(text.rsplit("####", 1)[1])
        if found:
            return _canonical_number(found[0])
    found = _NUMBER.findall(text)
    return _canonical_number(found[-1]) if found else None


def _canonical_number(raw: str) -> str:
    raw = raw.replace(",", "")
    try:
        value = float(raw)
    except ValueError:
        return raw
    return str(int(value)) if value == int(value) else repr(value)


_PIECE = re.compile(r"\s*\S+|\s+")


def split_chunks(text: str) -> list[str]:
    """Split text into stream deltas (one word with its leading whitespace each); joins back exactly."""
    return _PIECE.findall(text) or [""]
