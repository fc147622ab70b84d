"""Responses API, embeddings and the model list through the real openai client."""

from __future__ import annotations

import base64

import openai
import pytest

from tokenproof_devkit.provider.corpus import GPT4, MIXTRAL


@pytest.fixture
def client(provider):
    with openai.OpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0) as c:
        yield c


def test_responses_create(client, gsm8k_split):
    r = client.responses.create(model="gpt-4.1", input=gsm8k_split.prompt)
    assert r.id.startswith("resp_") and r.status == "completed"
    assert r.output_text == gsm8k_split.answers[GPT4]
    u = r.usage
    assert u.total_tokens == u.input_tokens + u.output_tokens
    assert u.input_tokens_details.cached_tokens == 0 and u.output_tokens_details.reasoning_tokens == 0


def test_responses_reasoning_model_and_message_list_input(client, gsm8k_split):
    r = client.responses.create(model="gpt-5-mini", instructions="Be brief.",
                                input=[{"role": "user", "content": [{"type": "input_text", "text": gsm8k_split.prompt}]}])
    assert r.output_text == gsm8k_split.answers[MIXTRAL]
    assert r.output[0].type == "reasoning"
    assert r.usage.output_tokens_details.reasoning_tokens > 0
    assert r.usage.output_tokens > r.usage.output_tokens_details.reasoning_tokens


def test_responses_stream_events(client, gsm8k_split):
    events = list(client.responses.create(model="gpt-4o", input=gsm8k_split.prompt, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    for kind in ("response.output_item.added", "response.content_part.added", "response.output_text.delta",
                 "response.output_text.done"):
        assert kind in kinds
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == gsm8k_split.answers[GPT4]
    assert events[-1].response.usage.output_tokens > 0


def test_responses_stream_helper_final_response(client, gsm8k_split):
    with client.responses.stream(model="o3", input=gsm8k_split.prompt) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == gsm8k_split.answers[GPT4]
    assert final.usage.output_tokens_details.reasoning_tokens > 0


def test_responses_truncation_is_incomplete(client, gsm8k_split):
    r = client.responses.create(model="gpt-4o", input=gsm8k_split.prompt, max_output_tokens=16)
    assert r.status == "incomplete" and r.incomplete_details.reason == "max_output_tokens"
    assert r.usage.output_tokens <= 16


def test_responses_function_call(client):
    tools = [{"type": "function", "name": "lookup_order", "parameters": {
        "type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}]
    r = client.responses.create(model="gpt-4o", input="Where is my order?", tools=tools, tool_choice="required")
    call = r.output[0]
    assert call.type == "function_call" and call.name == "lookup_order"
    assert isinstance(__import__("json").loads(call.arguments)["order_id"], str)


def test_embeddings_are_deterministic_with_usage(client):
    a = client.embeddings.create(model="text-embedding-3-small", input=["refund policy", "shipping times"])
    b = client.embeddings.create(model="text-embedding-3-small", input="refund policy")
    assert len(a.data) == 2 and len(a.data[0].embedding) == 1536
    assert a.data[0].embedding == b.data[0].embedding
    assert a.data[0].embedding != a.data[1].embedding
    assert a.usage.prompt_tokens == a.usage.total_tokens > b.usage.prompt_tokens > 0
    assert abs(sum(v * v for v in a.data[0].embedding) - 1.0) < 1e-3
    small = client.embeddings.create(model="text-embedding-3-large", input="x", dimensions=256,
                                     encoding_format="float")
    assert len(small.data[0].embedding) == 256


def test_embeddings_base64_wire_format(provider):
    import httpx
    r = httpx.post(provider.base_url_openai + "/embeddings", headers={"Authorization": "Bearer sk-test"},
                   json={"model": "text-embedding-3-small", "input": "hi", "encoding_format": "base64"})
    assert len(base64.b64decode(r.json()["data"][0]["embedding"])) == 1536 * 4


def test_models_list(client):
    ids = {m.id for m in client.models.list()}
    assert {"gpt-4o", "gpt-4o-mini", "claude-haiku-4-5", "text-embedding-3-small"} <= ids
