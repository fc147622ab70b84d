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
from tokenproof_devkit.provider.app import create_app
from tokenproof_devkit.provider.options import ProviderOptions
from tokenproof_devkit.provider.testing import bind_socket

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


class RecordingProvider:
    """The provider app behind a :class:`Recorder`, served on a free loopback port in a thread."""

    def __init__(self) -> None:
        self.app = Recorder(create_app(ProviderOptions.from_kwargs(port=0, latency_ms=0)))
        self.sock = bind_socket("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        self.sock.close()


class AppRun:
    """One run of a library app (bare or instrumented) against its own recording provider."""

    def __init__(self, app: str, spans_file: Path | None, path: Path | None = None) -> None:
        self.provider = RecordingProvider()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENPROOF_"))}
        if path is not None:
            env["PYTHONPATH"] = str(path)
        env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no network at import
        if spans_file is not None:
            env["TOKENPROOF_APP_SPANS"] = str(spans_file)
        self.spans_file = spans_file
        self.process = subprocess.Popen([sys.executable, str(APPS / app), self.provider.url], cwd=APPS, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait(self) -> AppRun:
        try:
            self.stdout, self.stderr = self.process.communicate(timeout=300)
        finally:
            self.provider.stop()
        self.calls = list(self.provider.app.calls)
        return self


APP_FILES = {"langchain": "langchain_app.py", "litellm": "litellm_app.py", "agents": "agents_app.py",
             "pydantic_ai": "pydantic_ai_app.py", "instructor": "instructor_app.py",
             "llama_index": "llama_index_app.py"}
NEEDS = {"langchain": ("langchain_openai", "langchain_anthropic"), "litellm": ("litellm",),
         "agents": ("agents",), "pydantic_ai": ("pydantic_ai",), "instructor": ("instructor",),
         "llama_index": ("llama_index/llms/openai",)}
# instructor and llama-index need the openai 2.x major: their packages live in a folder of their own
# (scripts/setup.sh installs tests/instrumentation/openai2-libs.txt there) put first on the app's path
OPENAI2_LIBS = Path(sys.prefix) / "openai2-libs"
OPENAI2_APPS = ("instructor", "llama_index")


def _installed(name: str) -> bool:
    if name in OPENAI2_APPS:
        return all((OPENAI2_LIBS / m).is_dir() for m in NEEDS[name])
    return all(importlib.util.find_spec(m) is not None for m in NEEDS[name])


@pytest.fixture(scope="module")
def app_runs(tmp_path_factory):
    """Every installed app, bare and instrumented, all run at once (the suite waits for the slowest)."""
    folder = tmp_path_factory.mktemp("library-apps")
    started = {}
    for name, app in APP_FILES.items():
        if _installed(name):
            path = OPENAI2_LIBS if name in OPENAI2_APPS else None
            started[name] = (AppRun(app, None, path), AppRun(app, folder / f"{name}.json", path))
    return {name: (bare.wait(), instrumented.wait()) for name, (bare, instrumented) in started.items()}


def _expected_cost(attrs: dict[str, Any], call: dict[str, Any]) -> float:
    usage = Usage(input_tokens=call["input"], output_tokens=call["output"],
                  cache_read_tokens=call["cache_read"] or None)
    model = attrs.get(sc.GEN_AI_RESPONSE_MODEL) or attrs[sc.GEN_AI_REQUEST_MODEL]
    return float(calc_price(usage, model_ref=model, provider_id=attrs[sc.GEN_AI_PROVIDER_NAME]).total_price)


def check_library_app(name: str, feature: str, app_runs: dict[str, Any]) -> list[dict[str, Any]]:
    bare, instrumented = app_runs[name]
    assert bare.process.returncode == 0, bare.stderr[-3000:]
    assert instrumented.process.returncode == 0, instrumented.stderr[-3000:]
    assert instrumented.stdout == bare.stdout  # the app sees exactly what it saw without tokenproof
    assert instrumented.stderr == bare.stderr
    spans = json.loads(instrumented.spans_file.read_text())
    llm = [s["attributes"] for s in spans if sc.GEN_AI_OPERATION_NAME in s["attributes"]]
    calls = instrumented.calls
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


def _needs(name: str) -> Any:
    where = f" in {OPENAI2_LIBS} (scripts/setup.sh installs them)" if name in OPENAI2_APPS else ""
    return pytest.mark.skipif(not _installed(name), reason=f"not installed{where}: {NEEDS[name]}")


@_needs("langchain")
def test_langchain(app_runs):
    spans = check_library_app("langchain", "lib-langchain", app_runs)
    assert {s[sc.GEN_AI_PROVIDER_NAME] for s in spans} == {"openai", "anthropic"}



@_needs("litellm")
def test_litellm_openai_handler(app_runs):
    """LiteLLM's OpenAI handler posts to the SDK client directly: seen through the generic post()."""
    spans = check_library_app("litellm", "lib-litellm", app_runs)
    assert len(spans) == 6 and {s[sc.GEN_AI_PROVIDER_NAME] for s in spans} == {"openai"}


@_needs("agents")
def test_openai_agents_sdk(app_runs):
    spans = check_library_app("agents", "lib-agents", app_runs)
    assert len(spans) == 4


@_needs("pydantic_ai")
def test_pydantic_ai(app_runs):
    spans = check_library_app("pydantic_ai", "lib-pydantic-ai", app_runs)
    assert len(spans) == 6 and {s[sc.GEN_AI_PROVIDER_NAME] for s in spans} == {"openai", "anthropic"}


@_needs("instructor")
def test_instructor_on_openai_2(app_runs):
    spans = check_library_app("instructor", "lib-instructor", app_runs)
    assert len(spans) == 3 and "openai: '2." in app_runs["instructor"][1].stdout


@_needs("llama_index")
def test_llama_index_on_openai_2(app_runs):
    spans = check_library_app("llama_index", "lib-llama-index", app_runs)
    assert len(spans) == 4 and "openai: '2." in app_runs["llama_index"][1].stdout
