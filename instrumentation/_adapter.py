"""The narrow contract every provider adapter fulfils.

An adapter knows one API of one SDK (OpenAI chat completions, OpenAI Responses, OpenAI embeddings,
Anthropic messages). The generic core (:mod:`._call`, :mod:`._wrappers`, :mod:`._stream`) owns span
lifecycle, streaming, errors, usage/cost, tags, fingerprint, content capture and metrics, and asks
the adapter only: which client is behind a resource and where it points, how to read a request,
whether a result is a raw-response wrapper, how to read a response, and how to accumulate stream
chunks. The core never reads an SDK's private attributes itself: the defaults below do, through the
helpers shared by every Stainless-generated SDK (:mod:`._sdk`); an adapter for another SDK overrides them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import _sdk

__all__ = ["Accumulator", "Adapter", "given"]


def given(value: Any) -> bool:
    """True when an SDK keyword argument was actually passed (not None / NOT_GIVEN / omit)."""
    if value is None:
        return False
    cls_name = type(value).__name__
    return cls_name not in ("NotGiven", "Omit")


class Accumulator:
    """Collects what a stream says about usage, model, id and finish reasons, chunk by chunk.

    ``add`` runs once per chunk while the app waits for it, so it should do as little as possible.
    """

    __slots__ = ("call",)

    def __init__(self, call: Any) -> None:
        self.call = call

    def add(self, chunk: Any) -> bool:
        """Read one chunk; return True when the app must not see it (our injected usage chunk)."""
        raise NotImplementedError


class Adapter:
    """One API of one provider SDK. Subclasses override what differs; the rest are safe defaults."""

    provider: str = ""
    operation: str = ""
    accumulator_class: type[Accumulator] = Accumulator
    # SDK client class name -> gen_ai.provider.name, for clients of the same SDK served elsewhere
    client_providers: dict[str, str] = {}

    def client_of(self, instance: Any) -> Any:
        """The SDK client behind the resource ``instance`` a wrapped method was called on."""
        return _sdk.client_of(instance)

    def server(self, client: Any) -> _sdk.Endpoint:
        """(server.address, server.port, base URL, provider of that host) the SDK ``client`` sends
        to (None when unknown)."""
        return _sdk.server_of(client)

    def provider_for(self, client: Any) -> str:
        """gen_ai.provider.name for a call made through the SDK ``client``."""
        providers = self.client_providers
        if providers:
            return providers.get(type(client).__name__, self.provider)
        return self.provider

    def raw_requested(self, kwargs: dict[str, Any]) -> bool:
        """True when the call asks for a raw-response wrapper (``with_raw_response`` and the like)."""
        return _sdk.raw_response_mode(kwargs.get("extra_headers")) is not None

    def manager_request(self, manager: Any) -> tuple[Any, Callable[[Any], None]]:
        """(the request a ``.stream()`` manager will send on entry, a function replacing it)."""
        return _sdk.manager_request(manager)

    def is_response_wrapper(self, result: Any) -> bool:
        """True when ``result`` is a raw-response wrapper whose ``parse()`` gives the response or stream."""
        return type(result).__name__ in _sdk.RESPONSE_WRAPPERS

    def request_attributes(self, kwargs: dict[str, Any], attrs: dict[str, Any]) -> str:
        """Add request attributes to ``attrs``; return the requested model name."""
        raise NotImplementedError

    def prepare_client(self, client: Any) -> None:
        """Called before each call with the SDK client (e.g. to turn off the SDK's own spans)."""

    def is_streaming(self, kwargs: dict[str, Any]) -> bool:
        return kwargs.get("stream") is True

    def prepare_stream(self, kwargs: dict[str, Any], runtime: Any) -> tuple[dict[str, Any], bool]:
        """Adjust a streaming request (e.g. ask for usage); return (kwargs, hide_usage_chunk)."""
        return kwargs, False

    def output_format(self, kwargs: dict[str, Any]) -> str | None:
        """tokenproof.output.format implied by the request (text / json / json_schema)."""
        return None

    def read_response(self, call: Any, response: Any) -> None:
        """Fill ``call`` (usage, response model/id, finish reasons, output format) from a response."""
        raise NotImplementedError

    def response_text(self, response: Any) -> str:
        """All output text of a non-streamed response (for estimates and content capture)."""
        return ""

    def fingerprint(self, kwargs: dict[str, Any]) -> str | None:
        return None

    def estimate_input_tokens(self, kwargs: dict[str, Any], model: str) -> int:
        return 0

    def capture_input(self, kwargs: dict[str, Any]) -> tuple[list[Any] | None, list[Any] | None]:
        """(system instructions, input messages) in the semantic conventions' JSON shape."""
        return None, None

    def capture_params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The replayable request parameters (temperature, max tokens, tools, response format...)."""
        return {}
