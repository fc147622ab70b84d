"""Run the provider in a background thread for tests and scripts.

    from tokenproof_devkit.provider.testing import run_provider

    with run_provider(latency_ms=0) as provider:
        client = openai.OpenAI(base_url=provider.base_url_openai, api_key="sk-test")
        anthropic.Anthropic(base_url=provider.base_url_anthropic, api_key="sk-ant-test")

The server binds a free loopback port (chosen by the OS) and stops when the block exits. Keyword
arguments are ``ProviderOptions`` fields (fault_rate, latency_ms, judge_position_bias, ...).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from tokenproof_devkit.provider.app import create_app
from tokenproof_devkit.provider.corpus import get_corpus
from tokenproof_devkit.provider.options import ProviderOptions


@dataclass
class ProviderHandle:
    host: str
    port: int
    options: ProviderOptions

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url_openai(self) -> str:
        return f"{self.url}/v1"

    @property
    def base_url_anthropic(self) -> str:
        return self.url


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def make_server(options: ProviderOptions, log_level: str = "warning") -> uvicorn.Server:
    get_corpus()  # load the recorded corpus before the first request
    config = uvicorn.Config(create_app(options), log_level=log_level, lifespan="off",
                            timeout_graceful_shutdown=2,
                            access_log=log_level.lower() in ("info", "debug", "trace"))
    return uvicorn.Server(config)


@contextlib.contextmanager
def run_provider(**options) -> Iterator[ProviderHandle]:
    """Start the provider on a free loopback port in a daemon thread; stop it on exit."""
    opts = ProviderOptions.from_kwargs(**{"port": 0, **options})
    sock = bind_socket(opts.host, opts.port)
    port = sock.getsockname()[1]
    server = make_server(opts)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"tokenproof-provider-{port}",
                              daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError("tokenproof provider did not start")
    try:
        yield ProviderHandle(opts.host, port, opts)
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()
