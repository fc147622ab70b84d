"""Probes of the instrumentation: a bad setting or a bad app argument never reaches the app.

Under the real ``opentelemetry-instrument`` with OpenLLMetry's openai instrumentation loaded too, an
invalid tokenproof setting disables tokenproof alone (one warning), the app's calls succeed and the
other instrumentation still records them. An app's invalid argument reaches the SDK unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from tokenproof import semconv as sc
from tokenproof import settings
from tokenproof.instrumentation import TokenproofInstrumentor
from tokenproof_devkit.provider.testing import run_provider

from .test_end_to_end import APP, ROOT, Receiver, _attrs


@pytest.fixture(scope="module")
def provider():
    with run_provider(latency_ms=0) as handle:
        yield handle


def _broken_toml(tmp_path: Path) -> str:
    path = tmp_path / "tokenproof.toml"
    path.write_text("[tokenproof\nstream_usage = ", encoding="utf-8")
    return str(path)


BAD_SETTINGS = {  # each run is a whole app under opentelemetry-instrument (slow): the rest run in-process
    "two at once": lambda tmp: {"TOKENPROOF_RAISE_INTERNAL_ERRORS": "perhaps", "TOKENPROOF_STREAM_USAGE": "sometimes"},
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_a_bad_setting_disables_tokenproof_alone(provider, tmp_path, case):
    with Receiver() as receiver:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TOKENPROOF_"))}
        env.update(OPENAI_BASE_URL=provider.base_url_openai, ANTHROPIC_BASE_URL=provider.base_url_anthropic,
                   OPENAI_API_KEY="sk-test", ANTHROPIC_API_KEY="sk-ant-test", OTEL_SERVICE_NAME="example-app",
                   OTEL_TRACES_EXPORTER="otlp", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
                   OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                   OTEL_BSP_SCHEDULE_DELAY="100", **BAD_SETTINGS[case](tmp_path))
        command = [str(Path(sys.executable).with_name("opentelemetry-instrument")), sys.executable, str(APP)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "answer:" in done.stdout
    assert "Failed to auto initialize" not in done.stderr
    assert done.stderr.count("tokenproof instrumentation disabled") == 1, done.stderr[-3000:]
    llm = [span for _, span in receiver.spans if sc.GEN_AI_OPERATION_NAME in _attrs(span)]
    assert len(llm) >= 2  # the other instrumentation still records the app's openai calls
    assert all(sc.TP_COST_STATUS not in _attrs(span) for span in llm)  # and tokenproof stays out


@pytest.mark.parametrize("env", [{"TOKENPROOF_RAISE_INTERNAL_ERRORS": "perhaps"},
                                 {"TOKENPROOF_STREAM_USAGE": "sometimes"},
                                 {"TOKENPROOF_DEFAULT_TRAFFIC_CLASS": "bogus"},
                                 {"TOKENPROOF_CONTENT_MAX_CHARS": "many"},
                                 {"TOKENPROOF_CONFIG": "broken-toml"}])
def test_a_bad_setting_never_raises_into_the_app(provider, telemetry, monkeypatch, caplog, tmp_path, env):
    for name, value in env.items():
        monkeypatch.setenv(name, _broken_toml(tmp_path) if value == "broken-toml" else value)
    settings.reset_cache()
    instrumentor = TokenproofInstrumentor()
    with caplog.at_level("WARNING", logger="tokenproof.instrumentation"):
        instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        client = openai.OpenAI(api_key="sk-test", base_url=provider.base_url_openai, max_retries=0)
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "2+2?"}])
        assert answer.choices[0].message.content
    finally:
        instrumentor.uninstrument()
        settings.reset_cache()
    warnings = [r for r in caplog.records if "tokenproof instrumentation disabled" in r.getMessage()]
    named = "config file" if "TOKENPROOF_CONFIG" in env else next(iter(env))
    assert len(warnings) == 1 and named in warnings[0].getMessage()
    assert telemetry.llm_spans() == []


def test_an_invalid_messages_argument_reaches_the_sdk_unchanged(telemetry):
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.content)
        return httpx.Response(400, json={"error": {"message": "messages must be an array", "type": "invalid"}})

    instrumentor = TokenproofInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        client = openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9/v1", max_retries=0,
                               http_client=httpx.Client(transport=httpx.MockTransport(handler)))
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt-4o-mini", messages="hello")  # type: ignore[arg-type]
    finally:
        instrumentor.uninstrument()
    assert b'"messages":"hello"' in seen[0].replace(b" ", b"")
