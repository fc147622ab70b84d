"""Admission control for OTLP requests: bounded requests and bytes in flight, bounded per client.

A request is admitted only if both budgets have room; otherwise the receiver answers at once with
503 (too many requests in flight) or 429 (too many bytes in flight), both with ``Retry-After``, which
the OTLP exporters treat as retryable. Nothing queues without bound, so memory stays bounded by
roughly ``max_inflight_bytes`` plus the decoded form of those bytes.

Slow senders: a request takes a decode/insert slot only once its whole body has arrived (within
the body read timeout). While it is still arriving it holds a *reader* place of its client address,
at most ``max_per_client`` each (429 above), so a few slow or stalled senders can never hold the
slots every other exporter needs.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Admission", "Overloaded"]


@dataclass
class Overloaded(Exception):
    status: int
    reason: str
    retry_after: int = 1


class Admission:
    def __init__(self, max_requests: int, max_bytes: int, max_per_client: int = 16):
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.max_per_client = max_per_client
        self._readers: dict[str, int] = {}
        self._requests = 0
        self._bytes = 0
        self._lock = threading.Lock()
        self.refused = 0

    def enter(self) -> None:
        """Take a request slot or raise ``Overloaded`` (503)."""
        with self._lock:
            if self._requests >= self.max_requests:
                self.refused += 1
                raise Overloaded(503, f"overloaded: {self._requests} requests in flight, retry later")
            self._requests += 1

    def leave(self) -> None:
        with self._lock:
            self._requests -= 1

    def start_reading(self, client: str) -> None:
        """Take a reader place of ``client`` or raise ``Overloaded`` (429)."""
        with self._lock:
            count = self._readers.get(client, 0)
            if count >= self.max_per_client:
                self.refused += 1
                raise Overloaded(429, f"overloaded: {count} requests of this client still sending, retry later")
            self._readers[client] = count + 1

    def stop_reading(self, client: str) -> None:
        with self._lock:
            count = self._readers.get(client, 1) - 1
            if count <= 0:
                self._readers.pop(client, None)
            else:
                self._readers[client] = count

    def reserve(self, nbytes: int) -> None:
        """Account ``nbytes`` more of request data or raise ``Overloaded`` (429)."""
        with self._lock:
            if self._bytes + nbytes > self.max_bytes and self._bytes > 0:
                self.refused += 1
                raise Overloaded(429, f"overloaded: {self._bytes} bytes in flight, retry later")
            self._bytes += nbytes

    def release(self, nbytes: int) -> None:
        with self._lock:
            self._bytes -= nbytes

    @property
    def reading(self) -> int:
        """Requests whose body is still arriving."""
        with self._lock:
            return sum(self._readers.values())

    @property
    def in_flight(self) -> tuple[int, int]:
        return self._requests, self._bytes
