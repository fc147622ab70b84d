"""Prompt fingerprint: a stable hash of a prompt's *template*, not of its data.

What goes in: the instruction texts (system / developer prompts, Anthropic ``system``, Responses
``instructions``) with their variable parts normalised (numbers, uuids, hex ids, emails, quoted
values, long free text); the sequence of message roles with the *shape* of each non-instruction
message (user, assistant and tool contents are data: only their part types count, not their text);
the tool schemas; the response format. Requests built from the same template with different user
data share a fingerprint; a changed system prompt, tool schema or response format changes it. Multi-
turn conversations of different lengths have different role sequences and so different fingerprints.

Cheap: normalised instruction digests are cached by string, tool / format digests by object
identity (the cache holds a reference, so an id is never reused while cached).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["fingerprint", "normalize_text", "shape"]

_LONG_TEXT = 400  # characters: longer free-text runs inside an instruction become a length bucket
_CACHE_MAX = 2048

_PATTERNS = (
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<uuid>"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "<email>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{12,}\b"), "<hex>"),
    (re.compile(r"\b[A-Za-z]+[_-]?\d[\w-]{5,}\b"), "<id>"),
    (re.compile(r"\"[^\"\n]{0,200}\"|'[^'\n]{0,200}'|`[^`\n]{0,200}`"), "<quoted>"),
    (re.compile(r"\d+(?:[.,:/-]\d+)*"), "<n>"),
)
_PARAGRAPH = re.compile(r"\n\s*\n")

_NOT_GIVEN = ("NotGiven", "Omit")  # the SDKs' "argument not passed" sentinels
_text_cache: dict[str, str] = {}
_object_cache: dict[int, tuple[Any, str]] = {}
_final_cache: dict[str, str] = {}
_fast_cache: dict[tuple[Any, ...], str] = {}


def _bucket(length: int) -> str:
    size = 64
    while size < length:
        size *= 4
    return f"<text:{size}>"


def normalize_text(text: str) -> str:
    """The template of an instruction text: variable parts replaced by placeholders."""
    paragraphs = []
    for para in _PARAGRAPH.split(text):
        for pattern, placeholder in _PATTERNS:
            para = pattern.sub(placeholder, para)
        para = " ".join(para.split())
        if len(para) > _LONG_TEXT and " " in para:
            # long free text embedded in a template (a pasted document): keep its start and size
            para = para[:80] + _bucket(len(para))
        paragraphs.append(para)
    return "\n".join(paragraphs)


def _instruction_digest(text: str) -> str:
    cached = _text_cache.get(text)
    if cached is None:
        cached = _digest(normalize_text(text))
        if len(_text_cache) >= _CACHE_MAX:
            _text_cache.clear()
        _text_cache[text] = cached
    return cached


def _digest(data: str) -> str:
    return hashlib.blake2b(data.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, type):  # a pydantic model class (parse(response_format=MyModel))
        schema = getattr(obj, "model_json_schema", None)
        return schema() if callable(schema) else obj.__qualname__
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    return obj


def object_digest(obj: Any) -> str:
    """Digest of a JSON-like object (tool list, response format), cached by identity."""
    if obj is None or type(obj).__name__ in _NOT_GIVEN:
        return ""
    key = id(obj)
    hit = _object_cache.get(key)
    if hit is not None and hit[0] is obj:
        return hit[1]
    try:
        data = json.dumps(_jsonable(obj), sort_keys=True, default=_default, separators=(",", ":"))
    except (TypeError, ValueError):
        data = repr(obj)
    digest = _digest(data)
    if len(_object_cache) >= _CACHE_MAX:
        _object_cache.clear()
    _object_cache[key] = (obj, digest)
    return digest


def _default(obj: Any) -> Any:
    converted = _jsonable(obj)
    if converted is obj:
        if isinstance(obj, (set, frozenset, tuple)):
            return sorted(map(str, obj))
        if hasattr(obj, "__iter__"):
            return list(obj)
        return str(obj)
    return converted


def shape(content: Any) -> str:
    """The shape of a message's content: its part types, never its text."""
    if content is None or isinstance(content, str):
        return "text"
    if isinstance(content, dict):
        return str(content.get("type", "part"))
    try:
        return "+".join(
            str(part.get("type", "part")) if isinstance(part, dict) else str(getattr(part, "type", "part"))
            for part in content
        )
    except TypeError:
        return "part"


def fingerprint(
    instructions: Iterable[str],
    roles: Iterable[str],
    tools: Any = None,
    response_format: Any = None,
) -> str:
    """Hash of (normalised instructions, role/shape sequence, tool schemas, response format)."""
    tools_digest, format_digest = object_digest(tools), object_digest(response_format)
    # Fast path: the same instruction texts and roles (the usual case: one template, many calls)
    # are found by one tuple lookup, without re-digesting each text or joining the key string.
    fast_key = (tuple(instructions), tuple(roles), tools_digest, format_digest)
    found = _fast_cache.get(fast_key)
    if found is not None:
        return found
    key = "\x1f".join((
        "|".join([_instruction_digest(text) for text in fast_key[0]]),
        ",".join(fast_key[1]),
        tools_digest,
        format_digest,
    ))
    found = _final_cache.get(key)
    if found is None:
        found = _digest(key)
        if len(_final_cache) >= _CACHE_MAX:
            _final_cache.clear()
        _final_cache[key] = found
    if len(_fast_cache) >= _CACHE_MAX:
        _fast_cache.clear()
    _fast_cache[fast_key] = found
    return found
