"""Offline tiktoken encodings: counts, model mapping, hash verification, no network."""

from __future__ import annotations

import gzip
import shutil
import threading
from pathlib import Path

import pytest

from tokenproof import tokens


@pytest.fixture
def fresh_encodings(monkeypatch: pytest.MonkeyPatch):
    """Forget loaded encodings for the test (restored afterwards)."""
    monkeypatch.setattr(tokens, "_encodings", {})
    monkeypatch.setattr(tokens, "_file_overrides", {})
    return tokens


def test_known_strings_count_as_tiktoken_does() -> None:
    assert tokens.count_tokens("gpt-4", "hello world") == 2
    assert tokens.count_tokens("gpt-4o", "hello world") == 2
    assert tokens.get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert tokens.get_encoding("o200k_base").encode("hello world") == [24912, 2375]
    # special-token text in user content is counted as text, never rejected
    assert tokens.count_tokens("gpt-4o", "<|endoftext|>") > 1


@pytest.mark.parametrize(("model", "encoding"), [
    ("gpt-4o", "o200k_base"), ("gpt-4o-2024-08-06", "o200k_base"), ("gpt-4.1-mini", "o200k_base"),
    ("o3-mini", "o200k_base"), ("gpt-5", "o200k_base"), ("gpt-4", "cl100k_base"),
    ("gpt-3.5-turbo-0125", "cl100k_base"), ("text-embedding-3-small", "cl100k_base"),
    ("claude-sonnet-4-5", "o200k_base"), ("openai/gpt-4-turbo", "cl100k_base"),
])
def test_models_map_to_their_encoding(model: str, encoding: str) -> None:
    assert tokens.encoding_for_model(model).name == encoding


def test_chat_messages_follow_openai_counting_rules() -> None:
    messages = [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "hello world"}]
    # 3 per message + role + content tokens, plus 3 priming the reply
    assert tokens.count_message_tokens("gpt-4o", messages) == 3 + (1 + 4) + 3 + (1 + 2) + 3
    named = [{"role": "user", "content": "hello world", "name": "bob"}]
    assert tokens.count_message_tokens("gpt-4", named) == 3 + (1 + 2) + (1 + 1) + 3
    parts = [{"role": "user", "content": [{"type": "text", "text": "hello world"}]}]
    assert tokens.count_message_tokens("gpt-4o", parts) == 3 + 1 + 2 + 3
    tool_call = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]}]
    assert tokens.count_message_tokens("gpt-4o", tool_call) > 3 + 1 + 3 + 5


def test_loading_needs_no_network_and_no_cache_dir(fresh_encodings, monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("tried to open a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    assert tokens.count_tokens("gpt-4o", "hello world") == 2
    assert tokens.count_tokens("gpt-4", "hello world") == 2
    assert not (tmp_path / "cache").exists()


def test_corrupted_encoding_file_is_refused_with_a_clear_error(fresh_encodings, tmp_path: Path) -> None:
    original = tokens.encoding_file("o200k_base")
    corrupted = tmp_path / "o200k_base.tiktoken.gz"
    data = bytearray(gzip.decompress(original.read_bytes()))
    data[100] = ord("A") if data[100] != ord("A") else ord("B")
    corrupted.write_bytes(gzip.compress(bytes(data)))
    tokens._file_overrides["o200k_base"] = corrupted
    with pytest.raises(tokens.EncodingUnavailable, match=r"SHA-256 .* but tiktoken expects 446a9538"):
        tokens.count_tokens("gpt-4o", "hello world")
    # the intact cl100k file still loads
    assert tokens.count_tokens("gpt-4", "hello world") == 2


def test_missing_encoding_file_is_a_clear_error(fresh_encodings, tmp_path: Path) -> None:
    tokens._file_overrides["cl100k_base"] = tmp_path / "gone.tiktoken"
    with pytest.raises(tokens.EncodingUnavailable, match="cannot read"):
        tokens.count_tokens("gpt-4", "hi")


def test_verified_copy_elsewhere_loads(fresh_encodings, tmp_path: Path) -> None:
    copy = tmp_path / "cl100k_base.tiktoken"
    shutil.copy(tokens.encoding_file("cl100k_base"), copy)
    tokens._file_overrides["cl100k_base"] = copy
    assert tokens.count_tokens("gpt-4", "hello world") == 2


def test_concurrent_first_use_loads_once(fresh_encodings) -> None:
    seen: list[object] = []

    def work() -> None:
        seen.append(tokens.encoding_for_model("gpt-4o"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 4 and all(enc is seen[0] for enc in seen)


def test_sdk_message_objects_count_like_dicts() -> None:
    from openai.types.chat import ChatCompletionMessage

    as_object = ChatCompletionMessage(role="assistant", content="hello world")
    as_dict = {"role": "assistant", "content": "hello world"}
    assert tokens.count_message_tokens("gpt-4o", [as_object]) == tokens.count_message_tokens("gpt-4o", [as_dict])
