"""Error statuses, retries, timeouts and broken streams, seen through each SDK's own exceptions."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tokenproof_devkit.provider.testing import run_provider

FAULT = "X-Tokenproof-Fault"


def oa(provider, **kw):
    return openai.OpenAI(base_url=provider.base_url_openai, api_key=kw.pop("api_key", "sk-test"),
                         max_retries=kw.pop("max_retries", 0), **kw)


def an(provider, **kw):
    return anthropic.Anthropic(base_url=provider.base_url_anthropic, api_key=kw.pop("api_key", "sk-ant-test"),
                               max_retries=kw.pop("max_retries", 0), **kw)


MSG = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize("fault, exc", [
    ("400", openai.BadRequestError), ("401", openai.AuthenticationError), ("404", openai.NotFoundError),
    ("429", openai.RateLimitError), ("500", openai.InternalServerError), ("529", openai.APIStatusError),
])
def test_openai_fault_statuses(provider, fault, exc):
    with oa(provider) as client, pytest.raises(exc) as info:
        client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers={FAULT: fault})
    assert info.value.status_code == int(fault)
    assert info.value.body["type"] and info.value.body["message"]


@pytest.mark.parametrize("fault, exc, kind", [
    ("400", anthropic.BadRequestError, "invalid_request_error"),
    ("401", anthropic.AuthenticationError, "authentication_error"),
    ("404", anthropic.NotFoundError, "not_found_error"),
    ("429", anthropic.RateLimitError, "rate_limit_error"),
    ("500", anthropic.InternalServerError, "api_error"),
    ("529", anthropic.OverloadedError, "overloaded_error"),
])
def test_anthropic_fault_statuses(provider, fault, exc, kind):
    with an(provider) as client, pytest.raises(exc) as info:
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MSG, extra_headers={FAULT: fault})
    assert info.value.status_code == int(fault)
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == kind


def test_rate_limit_carries_retry_after_and_retries_succeed(provider):
    with oa(provider) as client, pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers={FAULT: "429"})
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.body["code"] == "rate_limit_exceeded"
    # "429:1" fails only the first attempt: a client with one retry waits and succeeds
    with oa(provider, max_retries=1) as client:
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MSG,
                                                                extra_headers={FAULT: "429:1"})
        assert raw.retries_taken == 1 and raw.parse().choices[0].message.content
    with an(provider, max_retries=1) as client:
        assert client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MSG,
                                      extra_headers={FAULT: "529:1"}).content[0].text


def test_real_request_errors(provider):
    with oa(provider, api_key="bad") as client, pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o", messages=MSG)
    with an(provider, api_key="invalid") as client, pytest.raises(anthropic.AuthenticationError):
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MSG)
    with oa(provider) as client:
        with pytest.raises(openai.NotFoundError) as info:
            client.chat.completions.create(model="gpt-99-ultra", messages=MSG)
        assert info.value.body["code"] == "model_not_found"
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt-4o", messages=[])
    with an(provider) as client, pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="claude-nonexistent", max_tokens=64, messages=MSG)
    # raw HTTP: missing key, invalid JSON, missing model
    r = httpx.post(provider.base_url_openai + "/chat/completions", json={"model": "gpt-4o", "messages": MSG})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = httpx.post(provider.base_url_openai + "/chat/completions", content=b"{not json",
                   headers={"Authorization": "Bearer sk-test", "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(provider.url + "/v1/messages", json={"messages": MSG, "max_tokens": 5},
                   headers={"x-api-key": "k"})
    assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
    r = httpx.post(provider.url + "/v1/messages", json={"model": "claude-haiku-4-5", "messages": MSG, "max_tokens": 5})
    assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
    # like the real API: stream_options only with stream=true
    with oa(provider) as client, pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=MSG, stream_options={"include_usage": True})
    assert info.value.body["param"] == "stream_options"


def test_timeouts_surface_as_sdk_timeout_errors(provider):
    with oa(provider, timeout=0.5) as client, pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="gpt-4o", messages=MSG, extra_headers={FAULT: "timeout"})
    with an(provider, timeout=0.5) as client, pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=MSG,
                               extra_headers={FAULT: "timeout"})


def test_midstream_failure(provider):
    with oa(provider) as client:
        stream = client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                                extra_headers={FAULT: "midstream:3"})
        got = []
        with pytest.raises(openai.APIError):
            for chunk in stream:
                got.append(chunk)
        assert len(got) == 4  # role chunk + 3 content chunks
    with an(provider) as client:
        with pytest.raises(anthropic.APIStatusError) as info:
            with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=MSG,
                                        extra_headers={FAULT: "midstream:2"}) as s:
                list(s.text_stream)
        assert info.value.body["error"]["type"] == "overloaded_error"


def test_dropped_connection_midstream(provider):
    with oa(provider) as client:
        stream = client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True,
                                                extra_headers={FAULT: "drop:2"})
        with pytest.raises(openai.APIConnectionError):
            for _ in stream:
                pass


def test_server_wide_fault_rate_and_no_auth_option():
    with run_provider(fault_rate=1.0, fault_status=503, require_api_key=False) as provider:
        with oa(provider) as client, pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(model="gpt-4o", messages=MSG)
        assert info.value.status_code == 503
    with run_provider(require_api_key=False, stream_break_after=1) as provider:
        r = httpx.post(provider.base_url_openai + "/chat/completions", json={"model": "gpt-4o", "messages": MSG})
        assert r.status_code == 200
        with oa(provider) as client, pytest.raises(openai.APIError):
            list(client.chat.completions.create(model="gpt-4o", messages=MSG, stream=True))


def test_responses_stream_midstream_failure(provider):
    with oa(provider) as client:
        with pytest.raises(openai.APIError):
            for _ in client.responses.create(model="gpt-4o", input="hello", stream=True,
                                             extra_headers={FAULT: "midstream:2"}):
                pass
