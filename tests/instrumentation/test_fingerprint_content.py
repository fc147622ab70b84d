"""Prompt fingerprints group requests by template; content capture is opt-in, capped and redacted."""

from __future__ import annotations

import json

from tokenproof import semconv as sc
from tokenproof.instrumentation import set_redactor

from .conftest import chat_completion, openai_client, reinstrument

TOOLS = [{"type": "function", "function": {"name": "lookup_order", "parameters": {
    "type": "object", "properties": {"order_id": {"type": "string"}}}}}]


def _system(customer: str, order: int) -> str:
    return (f"You are the support bot of Acme. The customer is \"{customer}\" (id 3f2b9c1e-8a7d-4e2f-9b1c-"
            f"5d6e7f8a9b0c), email {customer.lower()}@example.com, order #{order}. Answer briefly.")


def _fingerprints(instrumented, requests) -> list[str]:
    client = openai_client(lambda _: (200, chat_completion()))
    for kwargs in requests:
        client.chat.completions.create(model="gpt-4o-mini", **kwargs)
    return [s.attributes[sc.TP_PROMPT_FINGERPRINT] for s in instrumented.llm_spans()]


def test_same_template_different_data_same_fingerprint(instrumented):
    requests = [
        dict(messages=[{"role": "system", "content": _system("Ann", 1234)},
                       {"role": "user", "content": "Where is my parcel?"}], tools=TOOLS),
        dict(messages=[{"role": "system", "content": _system("Bob", 98765)},
                       {"role": "user", "content": "I want a refund for the blue shoes I bought " * 20}],
             tools=[dict(t) for t in TOOLS]),  # equal schema, different object
    ]
    first, second = _fingerprints(instrumented, requests)
    assert first == second


def test_template_changes_change_fingerprint(instrumented):
    base = [{"role": "system", "content": _system("Ann", 1)}, {"role": "user", "content": "hi"}]
    other_system = [{"role": "system", "content": "You are a pirate. " + _system("Ann", 1)},
                    {"role": "user", "content": "hi"}]
    other_tools = [{"type": "function", "function": {"name": "cancel_order", "parameters": {"type": "object"}}}]
    prints = _fingerprints(instrumented, [
        dict(messages=base, tools=TOOLS),
        dict(messages=other_system, tools=TOOLS),
        dict(messages=base, tools=other_tools),
        dict(messages=base, tools=TOOLS, response_format={"type": "json_object"}),
        dict(messages=base, tools=TOOLS),
    ])
    assert len(set(prints[:4])) == 4
    assert prints[4] == prints[0]


def test_content_off_by_default(instrumented, monkeypatch):
    monkeypatch.delenv(sc.ENV_CAPTURE_MESSAGE_CONTENT, raising=False)
    reinstrument(instrumented)
    client = openai_client(lambda _: (200, chat_completion()))
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "secret"}])
    attrs = instrumented.only_span().attributes
    for key in (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_SYSTEM_INSTRUCTIONS,
                sc.TP_REQUEST_PARAMS):
        assert key not in attrs
    assert "secret" not in json.dumps(dict(attrs), default=str)


def test_content_on_records_messages_and_params(instrumented, monkeypatch):
    monkeypatch.setenv(sc.ENV_CAPTURE_MESSAGE_CONTENT, "SPAN_ONLY")
    reinstrument(instrumented)
    client = openai_client(lambda _: (200, chat_completion(content="Hello there!")))
    client.chat.completions.create(model="gpt-4o-mini", temperature=0.3, max_tokens=20, tools=TOOLS,
                                   messages=[{"role": "system", "content": "Be kind."},
                                             {"role": "user", "content": "hi"}])
    attrs = instrumented.only_span().attributes
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be kind."}]},
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
    ]
    assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hello there!"}], "finish_reason": "stop"}]
    assert json.loads(attrs[sc.TP_REQUEST_PARAMS]) == {"temperature": 0.3, "max_tokens": 20, "tools": TOOLS}


def test_content_capped_and_still_json(instrumented, monkeypatch):
    monkeypatch.setenv(sc.ENV_CAPTURE_MESSAGE_CONTENT, "true")
    reinstrument(instrumented)
    monkeypatch.setenv("TOKENPROOF_CONTENT_MAX_CHARS", "500")
    client = openai_client(lambda _: (200, chat_completion()))
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x" * 5000}])
    captured = instrumented.only_span().attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert len(captured) <= 500
    assert "truncated" in json.loads(captured)[0]["parts"][0]["content"]


def _mask(name, value):
    return json.loads(json.dumps(value).replace("4111-1111-1111-1111", "[card]"))


def test_redactor_applied_before_recording(instrumented, monkeypatch):
    monkeypatch.setenv(sc.ENV_CAPTURE_MESSAGE_CONTENT, "true")
    reinstrument(instrumented)
    set_redactor(_mask)
    client = openai_client(lambda _: (200, chat_completion(content="card 4111-1111-1111-1111 saved")))
    client.chat.completions.create(model="gpt-4o-mini",
                                   messages=[{"role": "user", "content": "my card is 4111-1111-1111-1111"}])
    attrs = dict(instrumented.only_span().attributes)
    dumped = json.dumps(attrs, default=str)
    assert "4111" not in dumped and "[card]" in attrs[sc.GEN_AI_INPUT_MESSAGES]
    assert "[card]" in attrs[sc.GEN_AI_OUTPUT_MESSAGES]


def test_redactor_from_setting(instrumented, monkeypatch):
    monkeypatch.setenv(sc.ENV_CAPTURE_MESSAGE_CONTENT, "true")
    reinstrument(instrumented)
    monkeypatch.setenv("TOKENPROOF_CONTENT_REDACTOR", f"{__name__}:_mask")
    client = openai_client(lambda _: (200, chat_completion()))
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "4111-1111-1111-1111"}])
    assert "[card]" in instrumented.only_span().attributes[sc.GEN_AI_INPUT_MESSAGES]


def test_anthropic_content_capture_and_stream_output(instrumented, monkeypatch):
    monkeypatch.setenv(sc.ENV_CAPTURE_MESSAGE_CONTENT, "true")
    reinstrument(instrumented)
    from .conftest import anthropic_client, anthropic_events, sse

    client = anthropic_client(lambda body: (200, sse(anthropic_events(pieces=("Hi", " there")), done=False,
                                                      named=True)))
    with client.messages.stream(model="claude-3-5-haiku-latest", max_tokens=50, system="Be brief.",
                                messages=[{"role": "user", "content": "Hello"}]) as stream:
        stream.get_final_text()
    attrs = instrumented.only_span().attributes
    assert json.loads(attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Hello"}]}]
    assert json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"][0]["content"] == "Hi there"
    assert json.loads(attrs[sc.TP_REQUEST_PARAMS]) == {"max_tokens": 50}


def test_parse_params_captured_in_wire_format_for_replay(instrumented, monkeypatch):
    from pydantic import BaseModel

    class Verdict(BaseModel):
        label: str

    monkeypatch.setenv(sc.ENV_CAPTURE_MESSAGE_CONTENT, "true")
    reinstrument(instrumented)
    client = openai_client(lambda _: (200, chat_completion(content='{"label": "bug"}')))
    helpers = client.chat.completions if hasattr(client.chat.completions, "parse") else client.beta.chat.completions
    helpers.parse(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], response_format=Verdict)
    params = json.loads(instrumented.only_span().attributes[sc.TP_REQUEST_PARAMS])
    fmt = params["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Verdict"
    assert fmt["json_schema"]["schema"]["properties"] == {"label": {"title": "Label", "type": "string"}}
