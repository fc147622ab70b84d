"""The other SDK major: openai 1.x (httpx instead of httpx2), instrumented the same way.

openai 1.68 is installed into a temporary folder (pip, no dependencies: the venv already has httpx,
pydantic, jiter) and put first on the path of a subprocess, so this process keeps openai 3.x. The
subprocess instruments, calls the local provider server with a plain and a streamed chat call, and
prints what it saw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tokenproof import semconv as sc
from tokenproof_devkit.provider.testing import run_provider

OPENAI_V1 = "openai==1.68.2"

SCRIPT = textwrap.dedent('''
    import json, sys
    import openai
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import tokenproof
    from tokenproof.instrumentation import TokenproofInstrumentor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    TokenproofInstrumentor().instrument(tracer_provider=provider)
    client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test")
    messages = [{"role": "user", "content": "Natalia sold clips to 48 of her friends in April, and then she "
                 "sold half as many clips in May. How many clips did Natalia sell altogether in April and May?"}]
    with tokenproof.tag(feature="v1-check", tier="pro"):
        text = client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content
        streamed = "".join(c.choices[0].delta.content or ""
                           for c in client.chat.completions.create(model="gpt-4o", messages=messages, stream=True))
    print(json.dumps({"openai": openai.__version__, "text": text, "streamed": streamed,
                      "spans": [dict(s.attributes) for s in exporter.get_finished_spans()]}, default=list))
''')


@pytest.fixture(scope="module")
def openai_v1_path(tmp_path_factory):
    target = tmp_path_factory.mktemp("openai-v1")
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                          OPENAI_V1, "distro"], capture_output=True, text=True, timeout=240)
    if pip.returncode != 0:
        pytest.skip(f"cannot install {OPENAI_V1} from the package registry: {pip.stderr.strip()[-300:]}")
    return target


def test_openai_1x_calls_are_priced_and_tagged_with_real_stream_usage(openai_v1_path, tmp_path):
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(openai_v1_path)}
    with run_provider() as provider:
        run = subprocess.run([sys.executable, str(script), provider.base_url_openai], env=env,
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout)
    assert seen["openai"].startswith("1.")
    assert seen["text"] and seen["streamed"] == seen["text"]  # the app's stream is intact (usage chunk hidden)
    plain, stream = seen["spans"]
    for span in (plain, stream):
        assert span[sc.GEN_AI_PROVIDER_NAME] == "openai" and span[sc.TP_FEATURE] == "v1-check"
        assert span[sc.TP_COST_STATUS] == sc.COST_PRICED and span[sc.GEN_AI_USAGE_COST] > 0
        assert span[sc.TP_USAGE_SOURCE] == sc.USAGE_PROVIDER
    assert stream[sc.GEN_AI_REQUEST_STREAM] is True
    assert stream[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == plain[sc.GEN_AI_USAGE_OUTPUT_TOKENS]
