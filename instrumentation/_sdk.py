"""Helpers shared by the SDK adapters: what the ``openai`` and ``anthropic`` SDKs have in common.

Both SDKs are generated from the same template, so their clients, resources and raw-response
wrappers share names and attributes. Everything that reads those SDK internals (a resource's
``_client``, a client's ``base_url``, the ``X-Stainless-Raw-Response`` header, the
``LegacyAPIResponse`` / ``APIResponse`` / ``AsyncAPIResponse`` wrappers) lives here and is reached
only through the adapters (:mod:`._adapter`), never by the generic core.
"""

from __future__ import annotations

from typing import Any

from tokenproof import semconv

from ._estimate import count_messages

__all__ = [
    "FOREIGN_INSTRUMENTATIONS",
    "RESPONSE_WRAPPERS",
    "client_of",
    "count_messages",
    "dictish",
    "manager_request",
    "model_and_params",
    "num_params",
    "raw_response_mode",
    "server_of",
    "unwrap_response",
]

# Other GenAI instrumentations of the same SDKs (module prefix of their wrappers = their tracer
# scope): written once, read by the wrappers (to call past them) and by the call (to enrich their span).
FOREIGN_INSTRUMENTATIONS = ("opentelemetry.instrumentation.openai", "opentelemetry.instrumentation.anthropic")

# The SDKs' raw-response wrappers (``with_raw_response``, ``with_streaming_response``, and the
# legacy one openai's ``with_raw_response`` and LiteLLM's direct ``post`` return).
RESPONSE_WRAPPERS = frozenset({"LegacyAPIResponse", "APIResponse", "AsyncAPIResponse"})
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"

_NUM = (int, float)


def client_of(instance: Any) -> Any:
    """The SDK client behind a resource (``client.chat.completions`` -> ``client``)."""
    return getattr(instance, "_client", None)


_servers: dict[int, tuple[Any, Any]] = {}  # id(base URL) -> (the URL, its Endpoint)


Endpoint = tuple[str | None, int | None, str | None, str | None]
_NO_ENDPOINT: Endpoint = (None, None, None, None)


def server_of(client: Any) -> Endpoint:
    """(server.address, server.port, base URL, provider of that host) of an SDK client, cached per
    base URL object. The provider is the catalogue's ``gen_ai.provider.name`` for the hosts of known
    OpenAI-compatible services (DeepSeek, Groq, OpenRouter...), else None."""
    url = getattr(client, "base_url", None)
    if url is None:
        return _NO_ENDPOINT
    hit = _servers.get(id(url))
    if hit is not None and hit[0] is url:
        return hit[1]
    host = getattr(url, "host", None) or None
    port = getattr(url, "port", None)
    if port is None:
        scheme = getattr(url, "scheme", "")
        port = 443 if scheme == "https" else 80 if scheme == "http" else None
    api_url = str(url)
    from tokenproof import catalogue  # imports genai-prices: only once a call is made

    endpoint: Endpoint = (host, port, api_url, catalogue.provider_for_url(api_url))
    if len(_servers) > 256:
        _servers.clear()
    _servers[id(url)] = (url, endpoint)  # holds the URL, so its id cannot be reused while cached
    return endpoint


def manager_request(manager: Any) -> tuple[Any, Any]:
    """A ``.stream()`` manager's pending request (its private ``__api_request``) and its setter."""
    attr = f"_{type(manager).__name__}__api_request"

    def replace(request: Any) -> None:
        setattr(manager, attr, request)

    return getattr(manager, attr), replace


def raw_response_mode(headers: Any) -> str | None:
    """The raw-response mode a request's headers ask for ("true", "raw", "stream"), else None."""
    if not headers or not hasattr(headers, "get"):
        return None
    value = headers.get(RAW_RESPONSE_HEADER)
    return value if isinstance(value, str) and value else None


def unwrap_response(response: Any) -> Any:
    """The model object inside a non-streamed raw-response wrapper (its parse is cached by the SDK).

    Decided by the class name: probing a pydantic model instance for a missing attribute costs an
    exception on every call. ``AsyncAPIResponse.parse()`` is a coroutine: the async wrapper awaits
    it before the adapter reads the response (see :func:`._wrappers.run_async`).
    """
    if type(response).__name__ in RESPONSE_WRAPPERS:
        return response.parse()
    return response


def num_params(kwargs: dict[str, Any], attrs: dict[str, Any], pairs: tuple[tuple[str, str], ...]) -> None:
    for key, attr in pairs:
        value = kwargs.get(key)
        if type(value) in _NUM:
            attrs[attr] = value


def model_and_params(kwargs: dict[str, Any], attrs: dict[str, Any], pairs: tuple[tuple[str, str], ...]) -> str:
    """Record the requested model and the numeric request parameters; return the model ("" if none)."""
    model = kwargs.get("model")
    model = model if isinstance(model, str) else ""
    attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    num_params(kwargs, attrs, pairs)
    return model


def dictish(value: Any) -> Any:
    """A request value (dict, pydantic model, pydantic class, iterable) as plain JSON-like data."""
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return value
    if isinstance(value, type):  # parse(response_format=MyModel): the wire format the SDK sends
        try:
            from openai.lib._parsing._completions import type_to_response_format_param

            return type_to_response_format_param(value)
        except Exception:
            schema = getattr(value, "model_json_schema", None)
            return {"type": "json_schema", "json_schema": {"name": value.__name__, "schema": schema()}} \
                if callable(schema) else str(value)
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_none=True)
    if isinstance(value, tuple):
        return list(value)
    if type(value).__name__ in ("NotGiven", "Omit"):
        return None
    try:
        return [dictish(v) for v in value]
    except TypeError:
        return str(value)


class PostRouter:
    """Routes an SDK client's generic ``post(path, *, body, options, stream, ...)`` to an adapter.

    ``paths`` maps a request path (query string ignored) to the adapter of that API, e.g.
    ``{"/chat/completions": ChatAdapter()}``; the request kwargs the adapter reads are the JSON
    body, which uses the same names as the resource methods' keyword arguments.
    """

    __slots__ = ("paths",)

    def __init__(self, paths: dict[str, Any]) -> None:
        self.paths = paths

    def route(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any], bool] | None:
        path = args[0] if args else kwargs.get("path")
        if not isinstance(path, str):
            return None
        adapter = self.paths.get(path.partition("?")[0])
        body = kwargs.get("body")
        if adapter is None or not isinstance(body, dict):
            return None
        request = dict(body)
        if kwargs.get("stream") is True:
            request["stream"] = True
        options = kwargs.get("options")
        headers = options.get("headers") if isinstance(options, dict) else None
        return adapter, request, raw_response_mode(headers) is not None

    def rebuild(self, args: tuple[Any, ...], kwargs: dict[str, Any], request: dict[str, Any]) -> tuple[Any, Any]:
        body = kwargs["body"]
        # what the adapter changed, e.g. the stream_options it added (not the stream flag we copied in)
        changed = {k: v for k, v in request.items() if (body[k] is not v if k in body else k != "stream")}
        if not changed:
            return args, kwargs
        return args, {**kwargs, "body": {**body, **changed}}
