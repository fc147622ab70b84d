"""The main job (`tokenproof demo`): the whole loop on the embedded store, on this machine alone.

1. start the local provider server (recorded real answers of GPT-4 and Mixtral) on loopback;
2. start the tokenproof service (OTLP receiver + embedded chDB store + API);
3. run an unmodified example app under the real `opentelemetry-instrument` command, exporting OTLP
   to the service;
4. show what a user sees: the priced, tagged calls, cost by feature and model, unpriced coverage,
   alerts, candidate routes mined from the stored traffic;
5. prove a route offline on the app's own kind of prompts (`tokenproof prove`) and print the verdict.

Every step uses the same commands a user would run; the demo only wires them together.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from tokenproof import service_client
from tokenproof_devkit.provider.corpus import get_corpus

HELP = "run the main job: example app under opentelemetry-instrument, spans priced and stored"
# The example app and its inputs live in the checkout's examples/ (devkit/tokenproof_devkit/demo.py -> root).
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# The judge is of a third family: never the candidate's (gpt-4o-mini is of the baseline's family).
JUDGE = "claude-opus-4-1"


def configure(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=240, help="LLM calls the example app makes")
    parser.add_argument("--data-dir", default=None,
                        help="embedded store directory (default: a fresh temporary directory)")
    parser.add_argument("--prove-prompts", type=int, default=200,
                        help="prompts per feature replayed by the offline proof (0 to skip)")
    parser.add_argument("--keep", action="store_true", help="keep the service running until Ctrl-C")


def _bin(name: str) -> str:
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else name


def _start(stack: ExitStack, argv: list[str], pattern: str, what: str, env=None) -> str:
    """Start a long-running command and return the URL it prints on its ready line."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    stack.callback(_stop, proc)
    deadline = time.monotonic() + 120
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline() if proc.stdout is not None else ""
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line.rstrip())
        match = re.search(pattern, line)
        if match:
            return match.group(1)
    raise SystemExit(f"demo: {what} did not start:\n" + "\n".join(seen[-20:]))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)), flush=True)


def _tokenproof(*args: str, env=None, check=True) -> int:
    result = subprocess.run([_bin("tokenproof"), *args], env=env)
    if check and result.returncode not in (0,):
        raise SystemExit(f"demo: `tokenproof {' '.join(args)}` failed with exit status {result.returncode}")
    return result.returncode


def _wait_for_calls(url: str, expected: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = service_client.call("GET", "/api/v1/status", base_url=url)
        if status.get("llm_calls", 0) >= expected:
            break
        time.sleep(0.5)
    return status


def _write_batch_file(path: Path, per_feature: int) -> None:
    """A JSONL export in the OpenAI Batch API input format, as a team would download it."""
    corpus = get_corpus()
    groups = {
        "math-tutor": ("You are a patient maths tutor. Solve the problem step by step and end with the final number.",
                       [r for r in corpus.records if r.dataset == "gsm8k"]),
        "marketing-quiz": ("Answer the multiple-choice question with the letter of the correct option.",
                           [r for r in corpus.records if r.feature == "mmlu:marketing"]),
    }
    with path.open("w", encoding="utf-8") as out:
        for feature, (system, records) in groups.items():
            for i, record in enumerate(records[:per_feature]):
                out.write(json.dumps({
                    "custom_id": f"{feature}-{i}",
                    "method": "POST",
                    "url": "/v1/chat/completions",
                    "body": {"model": "gpt-4o", "messages": [{"role": "system", "content": system},
                                                             {"role": "user", "content": record.prompt}]},
                    "feature": feature,
                }) + "\n")


def run(name: str, args: argparse.Namespace) -> int:
    with ExitStack() as stack:
        work = Path(tempfile.mkdtemp(prefix="tokenproof-demo-"))
        stack.callback(shutil.rmtree, work, True)
        data_dir = Path(args.data_dir) if args.data_dir else work / "store"

        _section("1. local provider server (recorded real GPT-4 and Mixtral answers)")
        provider = _start(stack, [_bin("tokenproof"), "provider", "--port", "0"],
                          r"listening on (http://\S+)", "the provider server")
        print(f"provider: {provider}")

        env = dict(os.environ)
        env.update({
            "OPENAI_BASE_URL": provider.rstrip("/") + "/v1",
            "ANTHROPIC_BASE_URL": provider,
            "OPENAI_API_KEY": env.get("OPENAI_API_KEY", "sk-demo-local"),
            "ANTHROPIC_API_KEY": env.get("ANTHROPIC_API_KEY", "sk-ant-demo-local"),
            # writes to the service (shadow runs, alert actions) need this bearer token
            "TOKENPROOF_API_TOKEN": env.get("TOKENPROOF_API_TOKEN") or secrets.token_urlsafe(24),
            "OTEL_SERVICE_NAME": "support-app",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_LOGS_EXPORTER": "none",
            # the test extra also installs other OpenAI instrumentations (for comparisons); one is enough
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            # capture prompts so the proof engine can replay them (off unless the user opts in)
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
        })

        _section("2. tokenproof service (OTLP receiver, embedded ClickHouse, API)")
        service = _start(stack, [_bin("tokenproof"), "serve", "--port", "0", "--data-dir", str(data_dir)],
                         r"listening on (http://\S+)", "the tokenproof service", env=env)
        print(f"service:  {service}   store: {data_dir}")
        env["TOKENPROOF_SERVICE_URL"] = service
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = service

        _section(f"3. example app under opentelemetry-instrument ({args.calls} calls)")
        app = subprocess.run([_bin("opentelemetry-instrument"), sys.executable,
                              str(EXAMPLES / "support_app.py"), "--calls", str(args.calls),
                              "--inputs", str(EXAMPLES / "support_app_inputs.jsonl")], env=env)
        if app.returncode != 0:
            raise SystemExit(f"demo: the example app failed with exit status {app.returncode}")
        status = _wait_for_calls(service, args.calls)
        print(json.dumps(status, indent=2))
        _section("   the most recent priced spans, as stored")
        _tokenproof("calls", "--limit", "12", env=env)

        _section("4. cost attribution: feature x model (product traffic)")
        _tokenproof("cost", "--by", "feature,model", "--since", "1d", env=env)
        _section("   by tier and customer")
        _tokenproof("cost", "--by", "tier,customer", "--since", "1d", env=env)
        _section("   unpriced coverage")
        _tokenproof("cost", "--coverage", "--since", "1d", env=env)
        _section("   alerts")
        _tokenproof("alerts", "evaluate", env=env, check=False)

        _section("5. candidate routes mined from the stored traffic")
        _tokenproof("candidates", env=env)
        _section("   judged shadow run: marketing-quiz, gpt-4o -> gpt-4o-mini, on its captured prompts")
        _tokenproof("shadow", "--feature", "marketing-quiz", "--baseline", "gpt-4o", "--candidate", "gpt-4o-mini",
                    "--judge", JUDGE, "--budget-usd", "2", "--limit", "200", "--wait", env=env)
        _section("   recommendations")
        _tokenproof("recommendations", env=env)

        if args.prove_prompts > 0:
            _section("6. proof before switch: gpt-4o -> gpt-4o-mini on the app's own kind of prompts")
            batch = work / "requests.jsonl"
            _write_batch_file(batch, args.prove_prompts)
            out = Path.cwd() / "reports" / "demo"
            _tokenproof("prove", str(batch), "--candidate", "gpt-4o-mini", "--judge", JUDGE,
                        "--base-url", provider.rstrip("/") + "/v1", "--anthropic-base-url", provider,
                        "--group-by", "feature", "--monthly-calls", "100000", "--out", str(out), env=env)
            print(f"report: {out}")
        if args.keep:
            print(f"\nservice still running at {service}; Ctrl-C to stop")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0
