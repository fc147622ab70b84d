"""The real `tokenproof provider` command: starts, prints its address, answers, stops."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import openai

from tokenproof_devkit.provider.corpus import GPT4

_SCRIPT = Path(sys.executable).with_name("tokenproof")
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "tokenproof.cli"]


def test_cli_port_zero_prints_address_and_serves(gsm8k_split):
    proc = subprocess.Popen([*CLI, "provider", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        match = re.fullmatch(r"provider listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, f"unexpected first line {line!r}"
        assert int(match.group(2)) > 0
        with openai.OpenAI(base_url=match.group(1) + "/v1", api_key="sk-test", max_retries=0) as client:
            r = client.chat.completions.create(model="gpt-4o",
                                               messages=[{"role": "user", "content": gsm8k_split.prompt}])
        assert r.choices[0].message.content == gsm8k_split.answers[GPT4]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_cli_refuses_non_loopback_and_bad_model_map():
    out = subprocess.run([*CLI, "provider", "--host", "0.0.0.0", "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "loopback" in out.stderr
    out = subprocess.run([*CLI, "provider", "--port", "0", "--model", "x=gpt9"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "x=gpt9" in out.stderr


def test_custom_model_mapping(gsm8k_split):
    from tokenproof_devkit.provider.corpus import MIXTRAL
    from tokenproof_devkit.provider.testing import run_provider
    with run_provider(model_map=["my-finetune-*=mixtral", "gpt-4o=mixtral"]) as provider:
        with openai.OpenAI(base_url=provider.base_url_openai, api_key="k", max_retries=0) as client:
            for model in ("my-finetune-v2", "gpt-4o"):
                r = client.chat.completions.create(model=model,
                                                   messages=[{"role": "user", "content": gsm8k_split.prompt}])
                assert r.choices[0].message.content == gsm8k_split.answers[MIXTRAL]
