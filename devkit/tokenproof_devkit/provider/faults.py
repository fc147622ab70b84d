"""Deterministic faults: error statuses, timeouts, latency and mid-stream failures.

Per request, header ``X-Tokenproof-Fault``:
- ``400`` ``401`` ``404`` ``429`` ``500`` ``503`` ``529``: that status in the provider's error shape
  (429 and 529 carry ``Retry-After``). ``429:N`` fails only while the SDK's retry count
  (``x-stainless-retry-count``) is below N, so a client with retries succeeds on attempt N+1.
- ``timeout``: the server waits ``timeout_s`` seconds (until the client gives up and disconnects).
- ``midstream`` / ``midstream:K``: a stream fails after K content chunks (default 2) with the
  provider's error event; ``drop`` / ``drop:K`` cuts the connection instead.
Per server (options): ``fault_rate`` share of requests fail with ``fault_status`` (seeded RNG),
``latency_ms`` before every response, ``stream_break_after`` / ``stream_break_mode`` for every
stream.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass

from starlette.requests import Request

from tokenproof_devkit.provider.options import ProviderOptions

HEADER = "x-tokenproof-fault"


@dataclass
class Fault:
    status: int | None = None          # error status to return now
    timeout: bool = False
    break_after: int | None = None      # stream content chunks before failing
    break_mode: str = "error"


class FaultPlan:
    def __init__(self, options: ProviderOptions) -> None:
        self.options = options
        self._rng = random.Random(options.seed)
        self._lock = threading.Lock()

    def for_request(self, request: Request) -> Fault:
        fault = Fault(break_after=self.options.stream_break_after, break_mode=self.options.stream_break_mode)
        raw = (request.headers.get(HEADER) or "").strip().lower()
        if raw:
            name, _, arg = raw.partition(":")
            if name == "timeout":
                fault.timeout = True
            elif name in ("midstream", "drop"):
                fault.break_after = int(arg) if arg.isdigit() else 2
                fault.break_mode = "error" if name == "midstream" else "drop"
            elif name.isdigit():
                retries = int(request.headers.get("x-stainless-retry-count") or 0)
                if not arg or retries < int(arg):
                    fault.status = int(name)
        if fault.status is None and not fault.timeout and self.options.fault_rate > 0:
            with self._lock:
                hit = self._rng.random() < self.options.fault_rate
            if hit:
                fault.status = int(self.options.fault_status)
        return fault


async def wait_for_disconnect(request: Request, seconds: float) -> None:
    """Sleep up to ``seconds``, returning early once the client has gone away."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.05)


async def apply_latency(options: ProviderOptions) -> None:
    if options.latency_ms > 0:
        await asyncio.sleep(options.latency_ms / 1000.0)
