"""Alert delivery: generic JSON and Slack-compatible webhooks, signed the Standard Webhooks way, retried.

A ``WebhookWorker`` owns one background thread and a bounded queue. ``submit`` never blocks (a full
queue drops the notification and records it as ``dropped``), so alert evaluation and ingest are never
held up by a slow receiver. Failed attempts (network error or non-2xx) are retried up to
``webhook_max_attempts`` after an exponential backoff with jitter (``retry_delay``); a ``Retry-After``
answer (seconds or an HTTP date) is honoured: the next attempt waits at least that long (capped at an
hour). Every attempt is passed to ``record`` (the service writes it to ``analytics_webhook_deliveries``).

Signature (https://www.standardwebhooks.com, the ``standardwebhooks`` package): headers
``webhook-id`` (the delivery id, the same on every retry), ``webhook-timestamp`` (unix seconds) and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``). The key is
``webhook_secret``: a ``whsec_<base64>`` secret is used as the standard defines it, any other string
as its UTF-8 bytes. Receivers verify with ``standardwebhooks.Webhook`` (docs/webhooks.md).

The previous scheme (``X-Tokenproof-Timestamp`` / ``X-Tokenproof-Signature: sha256=<hex HMAC of
"<timestamp>." + body>``, checked by :func:`verify`) is still sent beside it when
``webhook_legacy_signature`` is on, for one release; it will then be removed.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import ipaddress
import itertools
import json
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from standardwebhooks import Webhook

from tokenproof import settings

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WEBHOOK_ID",
    "WEBHOOK_SIGNATURE",
    "WEBHOOK_TIMESTAMP",
    "Target",
    "WebhookWorker",
    "json_payload",
    "parse_retry_after",
    "retry_delay",
    "sign",
    "slack_payload",
    "standard_headers",
    "targets_from_settings",
    "verify",
]

log = logging.getLogger(__name__)

def validate_webhook_urls(urls: list[str]) -> None:
    """http(s) URLs only, and never a link-local or unspecified host (cloud metadata endpoints such as
    169.254.169.254 hand out credentials to whoever asks from the machine)."""
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        try:
            address = ipaddress.ip_address(parts.hostname.strip("[]"))
        except ValueError:
            continue  # a name: resolved at delivery, like any HTTP client does
        if address.is_link_local or address.is_unspecified or address.is_multicast:
            raise ValueError(f"{url!r}: link-local, unspecified or multicast addresses are not webhook targets")


settings.declare("webhook_urls", list, [], "generic JSON webhook URLs that receive alert notifications",
                 validate=validate_webhook_urls)
settings.declare("slack_webhook_urls", list, [], "Slack-compatible incoming-webhook URLs for alerts",
                 validate=validate_webhook_urls)
settings.declare("webhook_secret", str, "",
                 "Standard Webhooks signing secret (whsec_<base64>, or any string used as its UTF-8 bytes)")
settings.declare("webhook_allow_unsigned", bool, False,
                 "send JSON webhooks without a webhook_secret (unsigned: a receiver cannot tell them from forgeries)")
settings.declare("webhook_legacy_signature", bool, False,
                 "also send the previous X-Tokenproof-Signature / X-Tokenproof-Timestamp headers "
                 "(kept for one release; receivers should verify the Standard Webhooks headers)")
settings.declare("webhook_max_attempts", int, 5, "delivery attempts per notification before giving up")
settings.declare("webhook_backoff_seconds", float, 2.0,
                 "first retry delay; doubles on each attempt, with jitter (a Retry-After answer wins when longer)")
settings.declare("webhook_queue_size", int, 1000, "notifications waiting for delivery before new ones are dropped")
settings.declare("webhook_timeout_seconds", float, 10.0, "HTTP timeout of one delivery attempt")

WEBHOOK_ID = "webhook-id"
WEBHOOK_TIMESTAMP = "webhook-timestamp"
WEBHOOK_SIGNATURE = "webhook-signature"
# the previous scheme (webhook_legacy_signature)
SIGNATURE_HEADER = "X-Tokenproof-Signature"
TIMESTAMP_HEADER = "X-Tokenproof-Timestamp"
MAX_RETRY_AFTER_S = 3600.0


@dataclass(frozen=True)
class Target:
    url: str
    format: str = "json"  # json | slack | raw


def targets_from_settings() -> list[Target]:
    return ([Target(u, "json") for u in settings.get("webhook_urls")]
            + [Target(u, "slack") for u in settings.get("slack_webhook_urls")])


def _webhook(secret: str) -> Webhook:
    return Webhook(secret if secret.startswith("whsec_") else secret.encode("utf-8"))


def standard_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt (no signature without a secret)."""
    headers = {WEBHOOK_ID: msg_id, WEBHOOK_TIMESTAMP: str(timestamp)}
    if secret:
        moment = datetime.fromtimestamp(timestamp, tz=UTC)
        headers[WEBHOOK_SIGNATURE] = _webhook(secret).sign(msg_id, moment, body.decode("utf-8"))
    return headers


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def retry_delay(attempt: int, backoff_s: float, retry_after_s: float | None = None,
                rng: random.Random | None = None) -> float:
    """Delay before attempt ``attempt + 1``: exponential backoff with equal jitter, at least Retry-After."""
    base = backoff_s * (2 ** (attempt - 1))
    delay = base / 2 + (rng or random).uniform(0, base / 2)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_RETRY_AFTER_S))
    return delay


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The previous scheme's signature (``webhook_legacy_signature``)."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, tolerance_s: float = 300,
           now: float | None = None) -> bool:
    """The previous scheme: true when the signature matches and the timestamp is fresh."""
    try:
        age = abs((now or time.time()) - float(timestamp))
    except (TypeError, ValueError):
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature or "")


def json_payload(alert: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tokenproof.alert", "alert": alert}


def slack_payload(alert: dict[str, Any]) -> dict[str, Any]:
    status = alert.get("status", "open")
    title = f"[{alert.get('severity', 'warning')}] tokenproof {alert.get('kind', 'alert')} ({status})"
    text = f"*{title}*\n{alert.get('explanation', '')}"
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
                                     {"type": "context", "elements": [
                                         {"type": "mrkdwn", "text": f"alert id `{alert.get('id', '')}`"}]}]}


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    target: Target
    alert: dict
    delivery_id: str
    attempt: int


class WebhookWorker:
    """A background sender with a bounded queue; ``submit`` returns at once."""

    def __init__(self, targets: list[Target], secret: str = "", *,
                 record: Callable[[dict[str, Any]], None] | None = None, max_attempts: int = 5,
                 backoff_s: float = 2.0, queue_size: int = 1000, timeout_s: float = 10.0,
                 legacy_signature: bool = False, allow_unsigned: bool | None = None):
        self.targets = list(targets)
        self.secret = secret
        self.allow_unsigned = settings.get("webhook_allow_unsigned") if allow_unsigned is None else allow_unsigned
        self.legacy_signature = legacy_signature
        self.record = record
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._inbox: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._retries: list[_Job] = []
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    @classmethod
    def from_settings(cls, record=None) -> WebhookWorker:
        return cls(targets_from_settings(), settings.get("webhook_secret"), record=record,
                   max_attempts=settings.get("webhook_max_attempts"),
                   backoff_s=settings.get("webhook_backoff_seconds"),
                   queue_size=settings.get("webhook_queue_size"),
                   timeout_s=settings.get("webhook_timeout_seconds"),
                   legacy_signature=settings.get("webhook_legacy_signature"))

    def start(self) -> WebhookWorker:
        if self._thread is None and self.targets:
            self._thread = threading.Thread(target=self._run, name="tokenproof-webhooks", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def submit(self, alert: dict[str, Any]) -> bool:
        """Queue one notification per target; False when the queue was full (recorded as dropped)."""
        ok = True
        for target in self.targets:
            job = _Job(0.0, next(self._seq), target, alert, uuid.uuid4().hex, 1)
            try:
                self._inbox.put_nowait(job)
                self._idle.clear()
            except queue.Full:
                ok = False
                self._note(job, "dropped", 0, "queue full")
        return ok

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued notification is delivered or given up (tests, shutdown)."""
        return self._idle.wait(timeout)

    # --- worker ------------------------------------------------------------------------------
    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                job = self._next_job()
                if job is None:
                    continue
                self._attempt(client, job)
                if self._inbox.empty() and not self._retries:
                    self._idle.set()

    def _next_job(self) -> _Job | None:
        now = time.monotonic()
        if self._retries and self._retries[0].due <= now:
            return heapq.heappop(self._retries)
        wait = min(self._retries[0].due - now, 0.5) if self._retries else 0.5
        try:
            return self._inbox.get(timeout=max(wait, 0.01))
        except queue.Empty:
            return None

    def _attempt(self, client: httpx.Client, job: _Job) -> None:
        fmt = job.target.format
        if fmt != "slack" and not self.secret and not self.allow_unsigned:
            # a Slack URL is itself the secret; any other receiver needs the signature to trust us
            self._note(job, "refused", 0, "not sent: no webhook_secret to sign it with (set webhook_secret, or "
                                          "webhook_allow_unsigned to send unsigned JSON webhooks)")
            return
        # "raw": the item is the payload itself (e.g. route-change events, docs/routing.md)
        payload = slack_payload(job.alert) if fmt == "slack" else job.alert if fmt == "raw" else json_payload(job.alert)
        body = json.dumps(payload, separators=(",", ":"), default=str).encode()
        timestamp = int(time.time())
        headers = {"Content-Type": "application/json",
                   **standard_headers(self.secret, job.delivery_id, timestamp, body)}
        if self.legacy_signature:
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers["X-Tokenproof-Delivery"] = job.delivery_id
            if self.secret:
                headers[SIGNATURE_HEADER] = sign(self.secret, str(timestamp), body)
        status, error, retry_after = 0, "", None
        try:
            response = client.post(job.target.url, content=body, headers=headers)
            status = response.status_code
            if 200 <= status < 300:
                self._note(job, "delivered", status, "")
                return
            error = f"HTTP {status}"
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if job.attempt >= self.max_attempts:
            self._note(job, "failed", status, error)
            return
        self._note(job, "retrying", status, error)
        delay = retry_delay(job.attempt, self.backoff_s, retry_after)
        heapq.heappush(self._retries, _Job(time.monotonic() + delay, next(self._seq), job.target,
                                           job.alert, job.delivery_id, job.attempt + 1))

    def _note(self, job: _Job, outcome: str, status: int, error: str) -> None:
        if self.record is None:
            return
        try:
            self.record({"delivery_id": job.delivery_id, "alert_id": str(job.alert.get("id", "")),
                         "url": job.target.url, "format": job.target.format, "attempt": job.attempt,
                         "outcome": outcome, "http_status": status, "error": error[:500]})
        except Exception:  # recording must not stop delivery; the failure is logged, not hidden
            log.exception("could not record webhook delivery %s", job.delivery_id)
