"""wrapt wrapper functions: the generic call path shared by every adapter.

``call_wrapper(adapter, is_async)`` wraps an SDK method that performs one request (``create``,
``parse``); ``manager_wrapper`` wraps a ``.stream()`` helper built on ``create`` (OpenAI);
``request_manager_wrapper`` wraps a ``.stream()`` helper that sends its own request (Anthropic);
``post_wrapper`` wraps the SDK client's generic ``post`` for callers that bypass the resource
methods (LiteLLM's OpenAI handler): a router (:class:`._sdk.PostRouter`) picks the adapter by
request path; a ``post`` reached from inside a wrapped resource method passes straight through,
so no call gets two spans.

Raw-response wrappers (``with_raw_response``, ``with_streaming_response``): a non-streamed one is
parsed at once (the SDK caches the parse, the app's own ``parse()`` gets the same object); a
streamed one is handed to the app behind :class:`._stream.ResponseProxy`, whose ``parse()`` gives
the app our stream proxy.

Around the SDK call we catch BaseException only to mark the span failed, then re-raise it
unchanged. Everything else of ours goes through :func:`._safety.internal_error`.

Double instrumentation: when another GenAI instrumentation (OpenLLMetry, the official OpenAI one)
wrapped the method *inside* us, we call past its wrapper, so it emits nothing (also when it wrapped outside us as well: some of them stack a wrapper per
``instrument()`` call); when it wrapped *outside* us, its span is current and :class:`~._call.Call`
enriches that span instead of starting a second one.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY

from . import _fallback, _runtime
from ._adapter import Adapter
from ._call import Call
from ._safety import internal_error
from ._sdk import FOREIGN_INSTRUMENTATIONS
from ._stream import AsyncStreamProxy, ResponseProxy, StreamManagerProxy, SyncStreamProxy, register_stream

__all__ = ["call_wrapper", "manager_wrapper", "post_wrapper", "request_manager_wrapper"]


def _bypass_foreign(wrapped: Any) -> Any:
    """Skip other GenAI instrumentations' wrappers below ours (they would emit a second span)."""
    while True:
        wrapper = getattr(wrapped, "_self_wrapper", None)
        if wrapper is None:
            return wrapped
        module = getattr(wrapper, "__module__", None) or ""
        if not module.startswith(FOREIGN_INSTRUMENTATIONS):
            return wrapped
        wrapped = wrapped.__wrapped__


# True while one of our wrappers is sending a request: a second tokenproof wrapper further down the
# same call (a stale patch left under another library's wrapper) passes straight through.
_active: contextvars.ContextVar[bool] = contextvars.ContextVar("tokenproof_active", default=False)


def _begin(runtime: Any, adapter: Adapter, kwargs: dict[str, Any], client: Any, raw: bool = False,
           known: Any = None, route_attrs: dict[str, Any] | None = None) -> Call | None:
    if _active.get() or otel_context.get_value(_SUPPRESS_INSTRUMENTATION_KEY):
        return None
    try:
        return Call(runtime, adapter, kwargs, client, raw, known, route_attrs)
    except Exception as exc:
        internal_error("start", exc)
        return None


def _enter(call: Any) -> tuple[Any, Any]:
    """Make the call's span current (when it has one) and mark our wrapper active."""
    token = otel_context.attach(call.context) if call.context is not None else None
    return token, _active.set(True)


def _leave(entered: tuple[Any, Any]) -> None:
    token, active = entered
    _active.reset(active)
    if token is not None:
        otel_context.detach(token)


def _parse_failed(call: Call, exc: Exception) -> None:
    """Parsing a raw-response wrapper failed: the app's own parse() will raise it; we end unread."""
    call.fail(exc)


def run_sync(adapter: Adapter, client: Any, kwargs: dict[str, Any], send: Callable[[dict[str, Any], bool], Any],
             raw: bool = False, routable: bool = True) -> Any:
    """Run ``send(kwargs, we_are_outer)`` as one instrumented call.

    ``routable``: the request may be moved by a route (docs/routing.md); a raw-response call never
    is (the fallback must read the answer to gate it), nor a request built by a stream helper."""
    runtime = _runtime.get()
    known = None
    if routable and not raw and runtime is not None and runtime.router is not None:
        decision = _fallback.plan(runtime.router, adapter, kwargs)
        if decision is not None:
            if decision[2] is not None:
                return _fallback.routed_sync(runtime, adapter, client, kwargs, send, decision)
            known = decision[:2]  # tags and fingerprint, already computed for the lookup
    call = _begin(runtime, adapter, kwargs, client, raw, known) if runtime is not None else None
    if call is None:
        return send(kwargs, False)
    entered = _enter(call)
    try:
        result = send(call.kwargs, not call.foreign)
    except BaseException as exc:
        _leave(entered)
        call.fail(exc)
        raise
    _leave(entered)
    if adapter.is_response_wrapper(result):
        if call.streaming:
            return ResponseProxy(result, call)
        try:
            parsed = result.parse()
        except Exception as exc:
            _parse_failed(call, exc)
            return result
        call.finish_response(parsed)
        return result
    if call.streaming and hasattr(result, "__next__"):
        register_stream(call)
        return SyncStreamProxy(result, call)
    call.finish_response(result)
    return result


async def run_async(
    adapter: Adapter, client: Any, kwargs: dict[str, Any], send: Callable[[dict[str, Any], bool], Any],
    raw: bool = False, routable: bool = True,
) -> Any:
    """Async twin of :func:`run_sync`; ``send`` returns an awaitable."""
    runtime = _runtime.get()
    known = None
    if routable and not raw and runtime is not None and runtime.router is not None:
        decision = _fallback.plan(runtime.router, adapter, kwargs)
        if decision is not None:
            if decision[2] is not None:
                return await _fallback.routed_async(runtime, adapter, client, kwargs, send, decision)
            known = decision[:2]
    call = _begin(runtime, adapter, kwargs, client, raw, known) if runtime is not None else None
    if call is None:
        return await send(kwargs, False)
    entered = _enter(call)
    try:
        result = await send(call.kwargs, not call.foreign)
    except BaseException as exc:
        _leave(entered)
        call.fail(exc)
        raise
    _leave(entered)
    if adapter.is_response_wrapper(result):
        if call.streaming:
            return ResponseProxy(result, call)
        try:
            parsed = result.parse()  # AsyncAPIResponse: a coroutine; LegacyAPIResponse: the object
            if inspect.isawaitable(parsed):
                parsed = await parsed
        except Exception as exc:
            _parse_failed(call, exc)
            return result
        call.finish_response(parsed)
        return result
    if call.streaming and hasattr(result, "__anext__"):
        register_stream(call)
        return AsyncStreamProxy(result, call)
    call.finish_response(result)
    return result


def call_wrapper(adapter: Adapter, is_async: bool) -> Callable[..., Any]:
    """A wrapt wrapper for an SDK method that sends one request."""
    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if _runtime.get() is None:
                return await wrapped(*args, **kwargs)

            def send(call_kwargs: dict[str, Any], _outer: bool) -> Any:
                return _bypass_foreign(wrapped)(*args, **call_kwargs)

            return await run_async(adapter, adapter.client_of(instance), kwargs, send, adapter.raw_requested(kwargs))

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if _runtime.get() is None:
            return wrapped(*args, **kwargs)

        def send(call_kwargs: dict[str, Any], _outer: bool) -> Any:
            return _bypass_foreign(wrapped)(*args, **call_kwargs)

        return run_sync(adapter, adapter.client_of(instance), kwargs, send, adapter.raw_requested(kwargs))

    return wrapper


def manager_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``.stream()`` helpers built on our instrumented ``create``: end spans when the manager exits."""
    manager = wrapped(*args, **kwargs)
    if _runtime.get() is None:
        return manager
    try:
        return StreamManagerProxy(manager)
    except Exception as exc:
        internal_error("stream_manager", exc)
        return manager


def request_manager_wrapper(adapter: Adapter, is_async: bool) -> Callable[..., Any]:
    """``.stream()`` helpers that send their own request (the adapter reads and replaces it)."""

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        manager = wrapped(*args, **kwargs)
        if _runtime.get() is None:
            return manager
        try:
            original, replace = adapter.manager_request(manager)
            call_kwargs = dict(kwargs)
            call_kwargs["stream"] = True
            client = adapter.client_of(instance)
            if is_async:

                async def send_async(_kw: dict[str, Any], _outer: bool) -> Any:
                    return await original

                replace(run_async(adapter, client, call_kwargs, send_async, routable=False))
            else:
                replace(functools.partial(run_sync, adapter, client, call_kwargs, lambda _kw, _o: original(),
                                          routable=False))
            return StreamManagerProxy(manager)
        except Exception as exc:
            internal_error("stream_helper", exc)
            return manager

    return wrapper


def post_wrapper(router: Any, is_async: bool) -> Callable[..., Any]:
    """A wrapt wrapper for an SDK client's generic ``post(path, body=..., ...)``.

    ``router.route(args, kwargs)`` returns ``(adapter, request kwargs, raw)`` for a path that is an
    LLM call (None otherwise); ``router.rebuild(args, kwargs, request kwargs)`` gives the ``post``
    arguments to send (with e.g. the stream usage option the adapter added).
    """

    def routed(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            return router.route(args, kwargs)
        except Exception as exc:
            internal_error("post_route", exc)
            return None

    if is_async:

        async def async_wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            found = None if _active.get() or _runtime.get() is None else routed(args, kwargs)
            if found is None:
                return await wrapped(*args, **kwargs)
            adapter, request, raw = found

            def send(call_kwargs: dict[str, Any], _outer: bool) -> Any:
                post_args, post_kwargs = router.rebuild(args, kwargs, call_kwargs)
                return wrapped(*post_args, **post_kwargs)

            return await run_async(adapter, instance, request, send, raw, routable=False)

        return async_wrapper

    def wrapper(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        found = None if _active.get() or _runtime.get() is None else routed(args, kwargs)
        if found is None:
            return wrapped(*args, **kwargs)
        adapter, request, raw = found

        def send(call_kwargs: dict[str, Any], _outer: bool) -> Any:
            post_args, post_kwargs = router.rebuild(args, kwargs, call_kwargs)
            return wrapped(*post_args, **post_kwargs)

        return run_sync(adapter, instance, request, send, raw, routable=False)

    return wrapper
