"""Small pieces of the demo: starting long-running commands, progress bars, sections, waiting.

Nothing here knows what the demo shows; ``tokenproof_devkit.demo`` does.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from tokenproof.client import ServiceClient, Status
from tokenproof_devkit.provider.corpus import get_corpus

__all__ = ["Progress", "bin_path", "free_port", "section", "start", "wait_for_calls", "write_batch_file"]


def bin_path(name: str) -> str:
    """A console script of this environment (the demo runs the user's commands, not our functions)."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else name


def free_port() -> int:
    """A loopback port free right now (for a process that must know its own address at start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 76 - len(title)), flush=True)


def start(stack: ExitStack, argv: list[str], pattern: str, what: str, env=None) -> str:
    """Start a long-running command, stopped when ``stack`` closes; return what its ready line's
    ``pattern`` group matched (its URL)."""
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


class Progress:
    """A one-line progress bar on a terminal; a few plain lines elsewhere (logs, CI)."""

    WIDTH = 30

    def __init__(self, label: str, total: int):
        self.label, self.total = label, max(1, total)
        self.tty = sys.stdout.isatty()
        self.started = time.monotonic()
        self._last_step = -1

    def update(self, done: int, total: int | None = None) -> None:
        if total:
            self.total = max(1, total)
        share = min(1.0, done / self.total)
        if self.tty:
            filled = int(share * self.WIDTH)
            bar = "#" * filled + "." * (self.WIDTH - filled)
            print(f"\r  {self.label:<28} [{bar}] {share:4.0%}", end="", flush=True)
            return
        step = int(share * 4)  # 0%, 25%, 50%, 75%, 100%
        if step > self._last_step:
            self._last_step = step
            print(f"  {self.label}: {share:.0%}", flush=True)

    def done(self, message: str) -> None:
        seconds = time.monotonic() - self.started
        if self.tty:
            print(f"\r  {self.label:<28} [{'#' * self.WIDTH}] done in {seconds:.0f} s: {message}", flush=True)
        else:
            print(f"  {self.label}: done in {seconds:.0f} s: {message}", flush=True)


def wait_for_calls(client: ServiceClient, expected: int, timeout: float = 60) -> Status:
    """The service's status once it holds ``expected`` LLM calls (or at the timeout)."""
    deadline = time.monotonic() + timeout
    status = client.status()
    while status.llm_calls < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        status = client.status()
    return status


def write_batch_file(path: Path, per_feature: int) -> None:
    """A JSONL export in the OpenAI Batch API input format, as a team would download it: the app's
    maths tutor (GSM8K) and its marketing quiz (MMLU marketing), with the app's system prompts."""
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
