"""In-process routing: routes fetched in the background, applied with a dict lookup per call.

A :class:`Router` holds the current :class:`RouteTable` (immutable, swapped atomically) and a
daemon thread that polls the routing endpoint (setting ``routes_url``) with the read credential
(``read_token``) and ``If-None-Match``; a new document is validated, applied and written to the
on-disk cache (``routes_cache_path``), which is loaded at start so a restart during an endpoint
outage keeps the last good routes. An unreachable endpoint or a malformed document keeps the last
good table; a malformed route is skipped (its requests go to the baseline exactly as written);
with no good copy at all nothing is routed. Nothing here runs on the request path except
:meth:`Router.decide`: a membership test on the model, then (only for a routed model) the tags,
the fingerprint and one to four dict lookups on precomputed keys.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
import zlib
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY

from tokenproof import semconv, service_client, settings  # service_client declares read_token
from tokenproof._tags import current_tags

from ._safety import internal_error

__all__ = ["Route", "RouteTable", "Router", "parse_document"]

log = logging.getLogger("tokenproof.instrumentation")
_ = service_client

settings.declare("routes_url", str, "",
                 "routing endpoint the instrumentation reads its routes from, e.g. "
                 "http://127.0.0.1:4318/api/v1/routing/routes (empty = no routing)")
settings.declare("routes_cache_path", str, ".tokenproof/routes.json",
                 "last good copy of the routes, kept across restarts and endpoint outages")
settings.declare("routes_poll_seconds", float, 30.0, "how often the instrumentation polls the routing endpoint")

ROUTED_STATES = ("canary", "active")
_ROUTABLE_ADAPTERS = ("ChatAdapter", "MessagesAdapter")  # chat-style calls whose model and prompt we can rewrite
_PRODUCT = (None, "", semconv.TRAFFIC_PRODUCT)


class Route:
    """One route as the instrumentation applies it (built once per document)."""

    __slots__ = ("attrs", "baseline", "candidate", "id", "share", "system_prompt", "threshold", "timeout_s",
                 "version")

    def __init__(self, data: dict[str, Any]) -> None:
        self.id = str(data["id"])
        self.version = int(data["version"])
        self.baseline = str(data["match"]["baseline"])
        self.candidate = str(data["candidate"])
        if not self.id or not self.baseline or not self.candidate:
            raise ValueError("route without id, baseline or candidate")
        self.system_prompt = str(data.get("candidate_system_prompt") or "")
        share = float(data["traffic_share"]) if data["state"] == "canary" else 1.0
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"traffic share {share} outside [0, 1]")
        self.share = share
        self.threshold = int(share * 0xFFFFFFFF)
        self.timeout_s = float(data.get("timeout_s") or 0.0)
        self.attrs = {semconv.TP_ROUTE_ID: self.id, semconv.TP_ROUTE_VERSION: self.version,
                      semconv.TP_ROUTE_BASELINE_MODEL: self.baseline}

    def admits(self, customer: str | None) -> bool:
        """Canary draw: sticky per customer when the call has one, else per request."""
        if self.share >= 1.0:
            return True
        if customer:
            return zlib.crc32(f"{self.id}:{customer}".encode()) <= self.threshold
        return random.random() < self.share


class RouteTable:
    """Routes of one service keyed by (feature, fingerprint, baseline model); "" matches any."""

    __slots__ = ("keys", "models", "revision", "wild_feature", "wild_fingerprint")

    def __init__(self, routes: list[Route], keys: list[tuple[str, str, str]], revision: str = "") -> None:
        self.keys: dict[tuple[str, str, str], Route] = dict(zip(keys, routes, strict=True))
        self.models = frozenset(k[2] for k in keys)
        self.wild_feature = any(not k[0] for k in keys)
        self.wild_fingerprint = any(not k[1] for k in keys)
        self.revision = revision

    def lookup(self, feature: str, fingerprint: str, model: str) -> Route | None:
        keys = self.keys
        route = keys.get((feature, fingerprint, model))
        if route is None and self.wild_fingerprint:
            route = keys.get((feature, "", model))
        if route is None and self.wild_feature:
            route = keys.get(("", fingerprint, model)) or keys.get(("", "", model))
        return route


EMPTY = RouteTable([], [])


def parse_document(doc: Any, service: str) -> RouteTable:
    """The routes of ``service`` that move traffic; malformed routes are skipped. Raises on a bad document."""
    if not isinstance(doc, dict) or not isinstance(doc.get("routes"), list):
        raise ValueError("routes document must be an object with a 'routes' list")
    routes: list[Route] = []
    keys: list[tuple[str, str, str]] = []
    for item in doc["routes"]:
        try:
            match = item["match"]
            if item["state"] not in ROUTED_STATES or (service and match["service"] != service):
                continue
            route = Route(item)
            key = (str(match.get("feature") or ""), str(match.get("fingerprint") or ""), route.baseline)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("tokenproof: skipping a malformed route (%s): its requests go to the baseline", exc)
            continue
        if key in keys:
            log.warning("tokenproof: two routes match %s; neither is applied", key)
            i = keys.index(key)
            del keys[i], routes[i]
            continue
        routes.append(route)
        keys.append(key)
    return RouteTable(routes, keys, str(doc.get("revision") or ""))


def service_name(tracer_provider: Any = None) -> str:
    resource = getattr(tracer_provider, "resource", None)
    if resource is None:
        from opentelemetry import trace

        resource = getattr(trace.get_tracer_provider(), "resource", None)
    name = (getattr(resource, "attributes", None) or {}).get("service.name")
    return str(name or os.environ.get("OTEL_SERVICE_NAME") or "")


class Router:
    """The current route table and the background thread that keeps it fresh."""

    def __init__(self, url: str, service: str, *, cache_path: str = "", poll_s: float = 30.0,
                 token: str = "") -> None:
        self.url = url
        self.service = service
        self.cache_path = cache_path
        self.poll_s = max(poll_s, 0.05)
        self.token = token
        self.table = EMPTY
        self.etag = ""
        self.fetches = {"ok": 0, "not_modified": 0, "failed": 0, "malformed": 0}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._load_cache()

    @classmethod
    def from_settings(cls, tracer_provider: Any = None, **overrides: Any) -> Router | None:
        url = overrides.get("routes_url") or settings.get("routes_url")
        if not url:
            return None
        return cls(url, overrides.get("service") or service_name(tracer_provider),
                   cache_path=overrides.get("routes_cache_path") or settings.get("routes_cache_path"),
                   poll_s=float(overrides.get("routes_poll_seconds") or settings.get("routes_poll_seconds")),
                   token=settings.get("read_token") or settings.get("api_token"))

    # --- request path ----------------------------------------------------------------------------
    def decide(self, adapter: Any, kwargs: dict[str, Any]) -> tuple[Any, str | None, Route | None] | None:
        """(tags, fingerprint, route or None) when the call's model has routes; None otherwise (fast)."""
        table = self.table
        model = kwargs.get("model")
        if model not in table.models or type(adapter).__name__ not in _ROUTABLE_ADAPTERS:
            return None
        tags = current_tags()
        fingerprint = adapter.fingerprint(kwargs)
        if tags.traffic_class not in _PRODUCT:
            return tags, fingerprint, None  # experiment traffic is never routed
        route = table.lookup(tags.feature or "", fingerprint or "", model)
        if route is not None and not route.admits(tags.customer):
            route = None
        return tags, fingerprint, route

    # --- background --------------------------------------------------------------------------------
    def start(self) -> Router:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tokenproof-routes", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def refresh(self) -> None:
        """Ask the background thread to poll now (tests, `tokenproof routes push` followed by a call)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.fetch_once()
            except Exception as exc:  # never let the thread die; the last good table stays
                self.fetches["failed"] += 1
                try:
                    internal_error("routes_fetch", exc)
                except Exception:
                    pass
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def fetch_once(self) -> str:
        """One poll: 'ok' | 'not_modified' | 'failed' | 'malformed' (the table changes only on 'ok')."""
        query = f"?service={urllib.parse.quote(self.service)}" if self.service else ""
        headers = {"Accept": "application/json"}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url + query, headers=headers)
        token = otel_context.attach(otel_context.set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body = response.read()
                etag = response.headers.get("ETag") or ""
        except urllib.error.HTTPError as exc:
            outcome = "not_modified" if exc.code == 304 else "failed"
            self.fetches[outcome] += 1
            return outcome
        except (urllib.error.URLError, OSError, ValueError):
            self.fetches["failed"] += 1
            return "failed"
        finally:
            otel_context.detach(token)
        try:
            doc = json.loads(body)
            table = parse_document(doc, self.service)
        except ValueError as exc:
            log.warning("tokenproof: malformed routes document from %s (%s); keeping the last good routes",
                        self.url, exc)
            self.fetches["malformed"] += 1
            return "malformed"
        self.table, self.etag = table, etag
        self.fetches["ok"] += 1
        self._save_cache(doc, etag)
        return "ok"

    def _load_cache(self) -> None:
        if not self.cache_path:
            return
        try:
            with open(self.cache_path, encoding="utf-8") as handle:
                saved = json.load(handle)
            self.table = parse_document(saved["document"], self.service)
            self.etag = str(saved.get("etag") or "")
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("tokenproof: ignoring the unreadable routes cache %s (%s)", self.cache_path, exc)

    def _save_cache(self, doc: Any, etag: str) -> None:
        if not self.cache_path:
            return
        try:
            folder = os.path.dirname(os.path.abspath(self.cache_path))
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".routes-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"url": self.url, "service": self.service, "etag": etag, "document": doc}, handle)
            os.replace(tmp, self.cache_path)
        except OSError as exc:
            log.warning("tokenproof: cannot write the routes cache %s (%s)", self.cache_path, exc)
