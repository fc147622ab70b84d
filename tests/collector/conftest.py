"""Fixtures for collector tests: a real embedded chDB store in tmp_path.

chDB hosts one engine path per process, so the in-process store is module-scoped (closed before
another area's tests open theirs) and each test that needs a clean slate truncates the tables;
tests that need their own data directory run the service in a subprocess.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from tokenproof.collector.store import Store

_TABLES = ("otel_traces", "otel_traces_trace_id_ts", "llm_calls", "llm_calls_hourly")


@pytest.fixture(scope="module")
def session_store(tmp_path_factory):
    store = Store.open(data_dir=tmp_path_factory.mktemp("chdb"))
    try:
        yield store
    finally:
        store.close()


@pytest.fixture()
def store(session_store):
    for table in _TABLES:
        session_store.command(f"TRUNCATE TABLE {table}")
    return session_store


class ServiceProcess:
    """`tokenproof serve` in a subprocess on loopback; restartable on the same port and data dir."""

    def __init__(self, data_dir, *extra_args: str, env: dict | None = None):
        self.data_dir = str(data_dir)
        self.extra_args = list(extra_args)
        self.env = {**os.environ, **(env or {})}
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        cmd = [sys.executable, "-m", "tokenproof.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--data-dir", self.data_dir, *self.extra_args]
        self._stderr = open(  # noqa: SIM115 - closed in stop()
            os.path.join(self.data_dir, "..", f"serve-{os.getpid()}-{time.time_ns()}.err"), "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=self.env)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in self.proc.stdout], daemon=True).start()
        try:
            line = lines.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            raise RuntimeError("tokenproof serve did not start") from None
        match = re.search(r"listening on (http://\S+)", line)
        assert match, line
        self.url = match.group(1)
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture()
def service_factory(tmp_path):
    started: list[ServiceProcess] = []

    def make(*args: str, env: dict | None = None, data_dir=None) -> ServiceProcess:
        directory = data_dir or tmp_path / f"data{len(started)}"
        os.makedirs(directory, exist_ok=True)
        svc = ServiceProcess(directory, *args, env=env)
        started.append(svc)
        return svc.start()

    yield make
    for svc in started:
        svc.stop()
