"""A small HTTP client for the tokenproof service API, used by the CLI (standard library only).

The embedded store has one owning process (the service), so every CLI command that reads or writes
data goes through the service's HTTP API.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from tokenproof import settings

settings.declare("service_url", str, "http://127.0.0.1:4318",
                 "base URL of the tokenproof service (OTLP receiver and API)")
settings.declare("api_token", str, "",
                 "bearer token for the service's write API (routes, budgets, alert actions)")
settings.declare("read_token", str, "",
                 "read-scope bearer token: the instrumentation reads its routes with it, the service requires it "
                 "on every read of /api/v1 when set, and for prompt content or webhook URLs (docs/security.md); "
                 "the api_token reads too")


class ServiceError(RuntimeError):
    """The service could not be reached or answered with an error; the message says which."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def call(method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
         base_url: str | None = None, token: str | None = None, timeout: float = 60.0,
         headers: dict[str, str] | None = None) -> Any:
    """Call the service API and return the decoded JSON (or raw bytes for non-JSON answers)."""
    base = (base_url or settings.get("service_url")).rstrip("/")
    url = base + path
    if params:
        query = {k: v for k, v in params.items() if v is not None}
        url += "?" + urllib.parse.urlencode(query, doseq=True)
    data = None
    headers = {"Accept": "application/json", **(headers or {})}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    token = token if token is not None else settings.get("api_token")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
            ctype = response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        try:
            detail = json.loads(detail).get("detail", detail)
        except (ValueError, AttributeError):
            pass
        raise ServiceError(f"{method} {path}: HTTP {exc.code}: {detail}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ServiceError(f"cannot reach the tokenproof service at {base} ({exc}); "
                           "start it with `tokenproof serve` or set TOKENPROOF_SERVICE_URL") from None
    if "json" in ctype:
        return json.loads(payload)
    return payload
