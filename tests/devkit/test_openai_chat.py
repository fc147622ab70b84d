"""Chat Completions through the real openai client: recorded answers, streams, usage, formats."""

from __future__ import annotations

import enum
import json

import openai
import pytest

from tokenproof_devkit.provider.corpus import GPT4, MIXTRAL


@pytest.fixture
def client(provider):
    with openai.OpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0) as c:
        yield c


def ask(client, model, text, **kw):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **kw)


def test_expensive_and_cheap_names_answer_with_different_recorded_models(client, gsm8k_split):
    expensive = ask(client, "gpt-4o", gsm8k_split.prompt)
    cheap = ask(client, "gpt-4o-mini", gsm8k_split.prompt)
    assert expensive.choices[0].message.content == gsm8k_split.answers[GPT4]
    assert cheap.choices[0].message.content == gsm8k_split.answers[MIXTRAL]
    assert expensive.model == "gpt-4o" and cheap.model == "gpt-4o-mini"
    assert expensive.id.startswith("chatcmpl-") and expensive.id != cheap.id
    assert expensive.choices[0].finish_reason == "stop"
    u = expensive.usage
    assert u.prompt_tokens > 10 and u.completion_tokens > 10
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens


def test_question_embedded_in_a_template_is_found(client, gsm8k_split):
    text = f"You are a careful tutor.\n\nProblem:\n  {gsm8k_split.prompt}\n\nShow your work."
    assert ask(client, "gpt-4.1", text).choices[0].message.content == gsm8k_split.answers[GPT4]


def test_same_request_same_answer_and_unknown_prompts_get_a_fallback(client):
    first = ask(client, "gpt-4o", "Write a haiku about invoices.").choices[0].message.content
    second = ask(client, "gpt-4o", "Write a haiku about invoices.").choices[0].message.content
    other = ask(client, "gpt-4o", "Summarise our refund policy.").choices[0].message.content
    assert first == second
    assert first.startswith("[tokenproof replay of ") and len(first) > 80
    assert other != first


def test_stream_without_include_usage_has_no_usage_chunk(client, gsm8k_split):
    chunks = list(ask(client, "gpt-4o", gsm8k_split.prompt, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(len(c.choices) == 1 for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == gsm8k_split.answers[GPT4]


def test_stream_with_include_usage_ends_with_usage_only_chunk(client, gsm8k_split):
    chunks = list(ask(client, "gpt-4o-mini", gsm8k_split.prompt, stream=True,
                      stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"
    plain = ask(client, "gpt-4o-mini", gsm8k_split.prompt)
    assert last.usage.prompt_tokens == plain.usage.prompt_tokens
    assert last.usage.completion_tokens == plain.usage.completion_tokens


def test_stream_context_manager_helper(client, gsm8k_split):
    with client.chat.completions.stream(model="gpt-4o", messages=[{"role": "user", "content": gsm8k_split.prompt}],
                                        stream_options={"include_usage": True}) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == gsm8k_split.answers[GPT4]
    assert final.usage.total_tokens == final.usage.prompt_tokens + final.usage.completion_tokens


def test_max_tokens_truncates_with_finish_reason_length(client, gsm8k_split):
    r = ask(client, "gpt-4o", gsm8k_split.prompt, max_tokens=5)
    assert r.choices[0].finish_reason == "length"
    assert 0 < r.usage.completion_tokens <= 5
    assert gsm8k_split.answers[GPT4].startswith(r.choices[0].message.content)


def test_reasoning_models_report_reasoning_tokens(client, gsm8k_split):
    r = ask(client, "o3", gsm8k_split.prompt)
    details = r.usage.completion_tokens_details
    assert details.reasoning_tokens > 0
    assert r.usage.completion_tokens > details.reasoning_tokens
    assert ask(client, "gpt-4o", gsm8k_split.prompt).usage.completion_tokens_details.reasoning_tokens == 0
    assert ask(client, "o4-mini", gsm8k_split.prompt).choices[0].message.content == gsm8k_split.answers[MIXTRAL]


def test_repeated_long_prefix_reports_cached_tokens(client):
    system = "You are the billing assistant of Acme. " + " ".join(f"Rule {i}: be precise about item {i}."
                                                                 for i in range(200))
    msgs = lambda q: [{"role": "system", "content": system}, {"role": "user", "content": q}]  # noqa: E731
    first = client.chat.completions.create(model="gpt-4.1", messages=msgs("What is invoice 17?"))
    second = client.chat.completions.create(model="gpt-4.1", messages=msgs("What is invoice 18?"))
    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= 1024 and (cached - 1024) % 128 == 0
    assert cached <= second.usage.prompt_tokens
    short = ask(client, "gpt-4.1", "tiny prompt")
    again = ask(client, "gpt-4.1", "tiny prompt")
    assert short.usage.prompt_tokens_details.cached_tokens == again.usage.prompt_tokens_details.cached_tokens == 0


def test_json_formats(client, gsm8k_split):
    obj = ask(client, "gpt-4o", gsm8k_split.prompt, response_format={"type": "json_object"})
    assert json.loads(obj.choices[0].message.content) == {"answer": gsm8k_split.answers[GPT4]}
    schema = {"type": "object", "properties": {"reasoning": {"type": "string"}, "result": {"type": "number"},
                                               "confident": {"type": "boolean"}},
              "required": ["reasoning", "result", "confident"], "additionalProperties": False}
    r = ask(client, "gpt-4o", gsm8k_split.prompt,
            response_format={"type": "json_schema", "json_schema": {"name": "solution", "schema": schema, "strict": True}})
    data = json.loads(r.choices[0].message.content)
    assert set(data) == {"reasoning", "result", "confident"}
    assert isinstance(data["result"], float) and data["confident"] is True


def test_forced_tool_call_has_valid_json_arguments(client):
    tools = [{"type": "function", "function": {"name": "get_invoice", "parameters": {
        "type": "object", "properties": {"invoice_id": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["invoice_id"]}}}]
    r = ask(client, "gpt-4o", "Look up invoice 42", tools=tools, tool_choice="required")
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_invoice" and call.id.startswith("call_")
    args = json.loads(call.function.arguments)
    assert isinstance(args["invoice_id"], str) and isinstance(args["limit"], int)
    # the tool result comes back: the model answers with text
    follow = client.chat.completions.create(model="gpt-4o", tools=tools, messages=[
        {"role": "user", "content": "Look up invoice 42"},
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "{\"total\": 12}"}])
    assert follow.choices[0].finish_reason == "stop" and follow.choices[0].message.content
    # streamed tool calls assemble into the same arguments
    chunks = list(ask(client, "gpt-4o", "Look up invoice 42", tools=tools, tool_choice="required", stream=True))
    streamed = "".join(c.choices[0].delta.tool_calls[0].function.arguments or ""
                       for c in chunks if c.choices and c.choices[0].delta.tool_calls)
    assert json.loads(streamed) == args


def test_n_choices(client, gsm8k_split):
    r = ask(client, "gpt-4o", gsm8k_split.prompt, n=3)
    assert [c.index for c in r.choices] == [0, 1, 2]
    single = ask(client, "gpt-4o", gsm8k_split.prompt)
    assert r.usage.completion_tokens == 3 * single.usage.completion_tokens


def test_mt_bench_second_turn_uses_the_conversation(client):
    from tokenproof_devkit.provider.corpus import get_corpus
    first = next(r for r in get_corpus().records if r.dataset == "mt_bench" and r.turn == 0)
    second = first.extra["next_turn"]
    r = client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "user", "content": first.prompt},
        {"role": "assistant", "content": first.answers[GPT4]},
        {"role": "user", "content": second.prompt}])
    assert r.choices[0].message.content == second.answers[GPT4]


async def test_async_client_stream(provider, gsm8k_split):
    async with openai.AsyncOpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0) as client:
        r = await client.chat.completions.create(model="gpt-4o-mini",
                                                 messages=[{"role": "user", "content": gsm8k_split.prompt}])
        assert r.choices[0].message.content == gsm8k_split.answers[MIXTRAL]
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": gsm8k_split.prompt}], stream=True,
            stream_options={"include_usage": True})
        chunks = [c async for c in stream]
        assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == r.usage.total_tokens


def test_parse_with_a_pydantic_model(client, gsm8k_split):

    from pydantic import BaseModel

    class Kind(enum.StrEnum):
        arithmetic = "arithmetic"
        other = "other"

    class Step(BaseModel):
        explanation: str
        output: str

    class Solution(BaseModel):
        steps: list[Step]
        kind: Kind
        confidence: float | None
        final_answer: float

    from tokenproof_devkit.provider.text import final_number
    r = client.chat.completions.parse(model="gpt-4o", response_format=Solution,
                                      messages=[{"role": "user", "content": gsm8k_split.prompt}])
    parsed = r.choices[0].message.parsed
    assert parsed.steps[0].explanation == gsm8k_split.answers[GPT4]
    assert parsed.final_answer == float(final_number(gsm8k_split.answers[GPT4]))
    resp = client.responses.parse(model="gpt-4o", input=gsm8k_split.prompt, text_format=Solution)
    assert resp.output_parsed == parsed


def test_concurrent_requests_each_get_their_own_recorded_answer(provider):
    from concurrent.futures import ThreadPoolExecutor

    from tokenproof_devkit.provider.corpus import get_corpus
    records = [r for r in get_corpus().records if r.dataset == "gsm8k"][:24]

    def one(record):
        with openai.OpenAI(base_url=provider.base_url_openai, api_key="sk-test", max_retries=0) as c:
            model = "gpt-4o" if len(record.id) % 2 else "gpt-4o-mini"
            text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(
                model=model, messages=[{"role": "user", "content": record.prompt}], stream=True))
            return text == record.answers[GPT4 if model == "gpt-4o" else MIXTRAL]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one, records))
