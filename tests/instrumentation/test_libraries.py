"""The libraries people build with, run as real apps with and without tokenproof.

Each app in ``library_apps/`` uses one library the way its docs do (several call forms) against the
local provider server, once bare and once instrumented (subprocesses, so each run starts clean).
The provider is wrapped in a recorder that reads the usage it sent in every response, independently
of tokenproof and of the SDKs. Asserted: the app's stdout and stderr are identical in both runs;
one LLM span per provider call; tokens equal to the provider's usage and cost equal to genai-prices
for them; business tags on every span; and where the provider sent no usage for a stream (the app
did not ask for it and tokenproof must not inject it: the stream was read through a raw-response
wrapper), the span says ``estimated`` rather than pretending.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from genai_prices import Usage, calc_price

from tokenproof import semconv as sc
from tokenproof.provider.app import create_app
from tokenproof.provider.options import ProviderOptions
from tokenproof.provider.testing import bind_socket

APPS = Path(__file__).parent / "library_apps"
LLM_PATHS = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/messages")


def _usage_of(path: str, body: bytes) -> dict[str, Any] | None:
    """(input incl. cache, output, cache read, model) the provider reported, or None when it sent none."""
    if body.lstrip().startswith(b"{"):
        events = [json.loads(body)]
    else:
        events = [json.loads(line[6:]) for line in body.decode().splitlines()
                  if line.startswith("data: {")]
    found: dict[str, Any] = {}
    for event in events:
        kind = event.get("type")
        if path == "/v1/messages":
            usage = (event.get("message") or {}).get("usage") if kind == "message_start" else event.get("usage")
            if kind == "message_start" or kind is None or kind == "message":
                model = (event.get("message") or event).get("model")
                usage = usage or event.get("usage")
                found["model"] = model
                found["cache_read"] = usage.get("cache_read_input_tokens") or 0
                found["input"] = usage["input_tokens"] + found["cache_read"] + (
                    usage.get("cache_creation_input_tokens") or 0)
                found["output"] = usage["output_tokens"]
            elif kind == "message_delta" and usage:
                found["output"] = usage["output_tokens"]
        elif path == "/v1/responses":
            response = event.get("response") if kind else event
            if response and response.get("usage"):
                usage = response["usage"]
                found.update(model=response["model"], input=usage["input_tokens"], output=usage["output_tokens"],
                             cache_read=(usage.get("input_tokens_details") or {}).get("cached_tokens") or 0)
        elif event.get("usage"):
            usage = event["usage"]
            found.update(model=event["model"], input=usage["prompt_tokens"],
                         output=usage.get("completion_tokens") or 0,
                         cache_read=(usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
    return found or None


class Recorder:
    """ASGI wrapper of the provider app: the usage of every LLM response, in request order."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls: list[dict[str, Any] | None] = []
        self.lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in LLM_PATHS:
            await self.app(scope, receive, send)
            return
        with self.lock:
            slot = len(self.calls)
            self.calls.append(None)
        body = bytearray()

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.body":
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, recording_send)
        usage = _usage_of(scope["path"], bytes(body))
        self.calls[slot] = {"path": scope["path"], **(usage or {"model": None})}


@pytest.fixture(scope="module")
def recorder():
    app = Recorder(create_app(ProviderOptions.from_kwargs(port=0, latency_ms=0)))
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    app.url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # type: ignore[attr-defined]
    yield app
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


def _run(app: str, recorder: Recorder, spans_file: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENPROOF_"))}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no network at import
    if spans_file is not None:
        env["TOKENPROOF_APP_SPANS"] = str(spans_file)
    run = subprocess.run([sys.executable, str(APPS / app), recorder.url],  # type: ignore[attr-defined]
                         cwd=APPS, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def _expected_cost(attrs: dict[str, Any], call: dict[str, Any]) -> float:
    usage = Usage(input_tokens=call["input"], output_tokens=call["output"],
                  cache_read_tokens=call["cache_read"] or None)
    model = attrs.get(sc.GEN_AI_RESPONSE_MODEL) or attrs[sc.GEN_AI_REQUEST_MODEL]
    return float(calc_price(usage, model_ref=model, provider_id=attrs[sc.GEN_AI_PROVIDER_NAME]).total_price)


def check_library_app(app: str, feature: str, recorder: Recorder, tmp_path: Path) -> list[dict[str, Any]]:
    bare = _run(app, recorder, None)
    recorder.calls.clear()
    instrumented = _run(app, recorder, tmp_path / "spans.json")
    assert instrumented.stdout == bare.stdout  # the app sees exactly what it saw without tokenproof
    assert instrumented.stderr == bare.stderr
    spans = json.loads((tmp_path / "spans.json").read_text())
    llm = [s["attributes"] for s in spans if sc.GEN_AI_OPERATION_NAME in s["attributes"]]
    calls = list(recorder.calls)
    assert len(llm) == len(calls), ([s["name"] for s in spans], calls)  # one span per provider call
    for attrs, call in zip(llm, calls, strict=True):
        assert attrs[sc.TP_FEATURE] == feature and attrs[sc.TP_TIER] == "pro", attrs
        assert attrs[sc.TP_COST_STATUS] == sc.COST_PRICED
        if call.get("input") is None:  # a stream the provider sent no usage for
            assert attrs[sc.TP_USAGE_SOURCE] == sc.USAGE_ESTIMATED, (attrs, call)
            continue
        assert attrs[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER, (attrs, call)
        assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == call["input"], (attrs, call)
        if call["path"] != "/v1/embeddings":
            assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == call["output"], (attrs, call)
        assert attrs[sc.GEN_AI_USAGE_COST] == pytest.approx(_expected_cost(attrs, call), rel=1e-9), (attrs, call)
    return llm


def _needs(*modules: str) -> Any:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"not installed: {missing}")


@_needs("langchain_openai", "langchain_anthropic")
def test_langchain(recorder, tmp_path):
    spans = check_library_app("langchain_app.py", "lib-langchain", recorder, tmp_path)
    assert {s[sc.GEN_AI_PROVIDER_NAME] for s in spans} == {"openai", "anthropic"}



@_needs("litellm")
def test_litellm_openai_handler(recorder, tmp_path):
    """LiteLLM's OpenAI handler posts to the SDK client directly: seen through the generic post()."""
    spans = check_library_app("litellm_app.py", "lib-litellm", recorder, tmp_path)
    assert len(spans) == 6 and {s[sc.GEN_AI_PROVIDER_NAME] for s in spans} == {"openai"}


@_needs("agents")
def test_openai_agents_sdk(recorder, tmp_path):
    spans = check_library_app("agents_app.py", "lib-agents", recorder, tmp_path)
    assert len(spans) == 4


@_needs("pydantic_ai")
def test_pydantic_ai(recorder, tmp_path):
    spans = check_library_app("pydantic_ai_app.py", "lib-pydantic-ai", recorder, tmp_path)
    assert len(spans) == 6 and {s[sc.GEN_AI_PROVIDER_NAME] for s in spans} == {"openai", "anthropic"}
