"""Anthropic Messages through the real anthropic client: create, streams, cache tokens, tool use."""

from __future__ import annotations

import anthropic
import pytest

from tokenproof_devkit.provider.corpus import GPT4, MIXTRAL


@pytest.fixture
def client(provider):
    with anthropic.Anthropic(base_url=provider.base_url_anthropic, api_key="sk-ant-test", max_retries=0) as c:
        yield c


def user(text):
    return [{"role": "user", "content": text}]


def test_create_maps_claude_names_to_recorded_models(client, gsm8k_split):
    big = client.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=user(gsm8k_split.prompt))
    small = client.messages.create(model="claude-haiku-4-5", max_tokens=1024, messages=user(gsm8k_split.prompt))
    assert big.content[0].text == gsm8k_split.answers[GPT4]
    assert small.content[0].text == gsm8k_split.answers[MIXTRAL]
    assert big.id.startswith("msg_") and big.id != small.id
    assert big.stop_reason == "end_turn" and big.model == "claude-sonnet-4-5"
    assert big.usage.input_tokens > 10 and big.usage.output_tokens > 10
    assert big.usage.cache_read_input_tokens == 0 and big.usage.cache_creation_input_tokens == 0


def test_max_tokens_stop_reason(client, gsm8k_split):
    r = client.messages.create(model="claude-opus-4-1", max_tokens=8, messages=user(gsm8k_split.prompt))
    assert r.stop_reason == "max_tokens" and r.usage.output_tokens <= 8


def test_raw_stream_events(client, gsm8k_split):
    events = list(client.messages.create(model="claude-sonnet-4-5", max_tokens=1024,
                                         messages=user(gsm8k_split.prompt), stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds[1] == "content_block_start" and "content_block_stop" in kinds
    assert kinds[-2] == "message_delta" and events[-2].delta.stop_reason == "end_turn"
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == gsm8k_split.answers[GPT4]
    plain = client.messages.create(model="claude-sonnet-4-5", max_tokens=1024, messages=user(gsm8k_split.prompt))
    assert events[-2].usage.output_tokens == plain.usage.output_tokens
    assert events[0].message.usage.input_tokens == plain.usage.input_tokens


def test_stream_helper_final_message_usage(client, gsm8k_split):
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=1024, messages=user(gsm8k_split.prompt)) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == final.content[0].text == gsm8k_split.answers[MIXTRAL]
    assert final.usage.output_tokens > 10 and final.usage.input_tokens > 10
    assert final.stop_reason == "end_turn"


def test_cache_control_creation_then_read(client):
    long_system = "You answer questions about the Acme handbook. " + " ".join(
        f"Section {i}: employees must file form {i} before day {i % 28 + 1}." for i in range(150))
    system = [{"type": "text", "text": long_system, "cache_control": {"type": "ephemeral"}}]
    first = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, system=system,
                                   messages=user("When is form 3 due?"))
    second = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, system=system,
                                    messages=user("When is form 9 due?"))
    assert first.usage.cache_creation_input_tokens >= 1024 and first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens < 50  # only the uncached question remains
    # without cache_control nothing is cached, however long the prompt
    plain = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, system=long_system,
                                   messages=user("When is form 3 due?"))
    assert plain.usage.cache_read_input_tokens == plain.usage.cache_creation_input_tokens == 0
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=256, system=system,
                                messages=user("When is form 11 due?")) as s:
        final = s.get_final_message()
    assert final.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens


def test_forced_tool_use(client):
    tools = [{"name": "get_weather", "description": "weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"]}}]
    r = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, tools=tools,
                               tool_choice={"type": "tool", "name": "get_weather"}, messages=user("Weather in Paris?"))
    block = r.content[0]
    assert r.stop_reason == "tool_use" and block.type == "tool_use" and block.name == "get_weather"
    assert isinstance(block.input["city"], str) and isinstance(block.input["days"], int)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=256, tools=tools,
                                tool_choice={"type": "any"}, messages=user("Weather in Paris?")) as s:
        final = s.get_final_message()
    assert final.content[0].type == "tool_use" and final.content[0].input == block.input
    follow = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, tools=tools, messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [block.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id, "content": "sunny"}]}])
    assert follow.stop_reason == "end_turn" and follow.content[0].type == "text"


async def test_async_create_and_stream(provider, gsm8k_split):
    async with anthropic.AsyncAnthropic(base_url=provider.base_url_anthropic, api_key="k", max_retries=0) as client:
        r = await client.messages.create(model="claude-3-haiku-20240307", max_tokens=1024,
                                         messages=user(gsm8k_split.prompt))
        assert r.content[0].text == gsm8k_split.answers[MIXTRAL]
        async with client.messages.stream(model="claude-3-haiku-20240307", max_tokens=1024,
                                          messages=user(gsm8k_split.prompt)) as s:
            final = await s.get_final_message()
        assert final.content[0].text == r.content[0].text
        assert final.usage.output_tokens == r.usage.output_tokens


def test_count_tokens_matches_billed_input(client, gsm8k_split):
    counted = client.messages.count_tokens(model="claude-sonnet-4-5", messages=user(gsm8k_split.prompt))
    billed = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=user(gsm8k_split.prompt))
    assert counted.input_tokens == billed.usage.input_tokens


def test_replay_headers_name_the_recorded_question(client, gsm8k_split):
    raw = client.messages.with_raw_response.create(model="claude-haiku-4-5", max_tokens=64,
                                                   messages=user(gsm8k_split.prompt))
    assert raw.headers["x-tokenproof-record"] == gsm8k_split.id
    assert raw.headers["x-tokenproof-source"] == "recorded"
