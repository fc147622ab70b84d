"""Error bodies in each provider's own JSON shape, and the checks every request goes through."""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import JSONResponse

from tokenproof_devkit.provider.faults import Fault, wait_for_disconnect
from tokenproof_devkit.provider.options import ProviderOptions

_OPENAI = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Request not allowed."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", "service_unavailable", "The engine is currently overloaded, please try again later."),
    529: ("server_error", "overloaded", "The engine is currently overloaded, please try again later."),
}
_ANTHROPIC = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "model not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}
BAD_KEYS = {"bad", "invalid"}


class ProviderError(Exception):
    def __init__(self, status: int, message: str | None = None, param: str | None = None) -> None:
        super().__init__(message or "")
        self.status, self.message, self.param = status, message, param


def request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


def openai_error_body(status: int, message: str | None = None, param: str | None = None) -> dict:
    kind, code, default = _OPENAI.get(status, ("server_error", None, "Unexpected error."))
    return {"error": {"message": message or default, "type": kind, "param": param, "code": code}}


def anthropic_error_body(status: int, message: str | None = None) -> dict:
    kind, default = _ANTHROPIC.get(status, ("api_error", "Unexpected error."))
    return {"type": "error", "error": {"type": kind, "message": message or default}, "request_id": request_id()}


def error_response(flavour: str, status: int, options: ProviderOptions, message: str | None = None,
                   param: str | None = None) -> JSONResponse:
    headers = {"x-request-id" if flavour == "openai" else "request-id": request_id()}
    if status in (429, 503, 529):
        headers["retry-after"] = str(int(options.retry_after_s)) if options.retry_after_s == int(options.retry_after_s) \
            else str(options.retry_after_s)
        headers["retry-after-ms"] = str(int(options.retry_after_s * 1000))
    body = openai_error_body(status, message, param) if flavour == "openai" else anthropic_error_body(status, message)
    if status == 529 and flavour == "anthropic":
        headers["x-should-retry"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)


def api_key(request: Request, flavour: str) -> str | None:
    if flavour == "anthropic":
        key = request.headers.get("x-api-key")
        if key:
            return key
    auth = request.headers.get("authorization") or ""
    return auth[7:].strip() if auth.lower().startswith("bearer ") else None


async def admit(request: Request, flavour: str, options: ProviderOptions, fault: Fault) -> dict:
    """Faults, authentication and JSON parsing shared by every POST route; raises ProviderError."""
    if fault.timeout:
        await wait_for_disconnect(request, options.timeout_s)
        raise ProviderError(504, "timed out")
    if fault.status is not None:
        raise ProviderError(fault.status)
    if options.require_api_key:
        key = api_key(request, flavour)
        if not key:
            raise ProviderError(401, "Missing API key: send it as " +
                                ("x-api-key." if flavour == "anthropic" else "Authorization: Bearer <key>."))
        if key.lower() in BAD_KEYS:
            raise ProviderError(401)
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ProviderError(400, "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ProviderError(400, "The request body must be a JSON object.")
    return body
