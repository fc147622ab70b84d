"""Stream proxies: the app reads the SDK stream through us; the span ends when the stream does.

A proxy forwards every attribute to the SDK's stream object, feeds each chunk to the adapter's
accumulator, hides the usage-only chunk we asked for (so the app sees exactly the stream it asked
for), and finishes the :class:`~._call.Call` when the stream is exhausted, raises, is closed, is
left through its context manager, or is garbage collected. Errors from the stream are re-raised
unchanged.

:class:`StreamManagerProxy` wraps the SDKs' ``.stream()`` helper managers: their ``__exit__`` closes
the underlying HTTP response without going through our proxy, so the manager proxy finishes the
calls started inside its ``with`` block.

:class:`ResponseProxy` wraps a raw-response wrapper around a stream (``with_raw_response`` /
``with_streaming_response`` with ``stream=True``): its ``parse()`` gives the app our stream proxy;
an app that reads the raw bytes instead ends the call (estimated) when it closes the response.
"""

from __future__ import annotations

import contextvars
import inspect
from typing import Any

import wrapt

from ._call import Call
from ._safety import internal_error

__all__ = ["AsyncStreamProxy", "ResponseProxy", "StreamManagerProxy", "SyncStreamProxy", "register_stream"]

# Calls started inside a stream helper manager's __enter__ (None outside any manager).
_manager_calls: contextvars.ContextVar[list[Call] | None] = contextvars.ContextVar(
    "tokenproof_manager_calls", default=None
)


def register_stream(call: Call) -> None:
    calls = _manager_calls.get()
    if calls is not None:
        calls.append(call)


def _iterate(stream: Any, call: Call, add: Any) -> Any:
    """The chunks of ``stream`` the app should see; ends the call when the stream ends or fails.

    A generator, so that per chunk there is one generator resume and one ``add`` call and no
    attribute lookups on the proxy (every attribute access on a wrapt proxy subclass goes through a
    slow getattr hook). It is primed (run to its first ``yield``) at once, so that dropping it at
    any point raises GeneratorExit in it: that is how an abandoned stream ends its span, also when
    the app iterates a temporary (``for chunk in client...create(stream=True)``), where the proxy
    itself is gone before the first chunk.
    """
    try:
        yield None  # priming
        nxt = iter(stream).__next__  # what ``for chunk in stream`` would use
        while True:
            try:
                chunk = nxt()
            except StopIteration:
                call._end()
                return
            except BaseException as exc:
                call.fail(exc)
                raise
            try:
                hidden = add(chunk)
            except Exception as exc:
                internal_error("stream_chunk", exc)
                hidden = False
            if not hidden:
                yield chunk
    except GeneratorExit:  # dropped or closed before the end of the stream
        call.close_early()
        raise


class SyncStreamProxy(wrapt.ObjectProxy):
    """Proxy of an SDK ``Stream``: iterate, close and use as a context manager like the original.

    Iterating it iterates :func:`_iterate`'s generator, which also ends the call when the stream
    is garbage collected unread or half read.
    """

    def __init__(self, wrapped: Any, call: Call) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_chunks = chunks = _iterate(wrapped, call, call.adapter.accumulator_class(call).add)
        next(chunks)

    def __iter__(self) -> Any:
        return self._self_chunks

    def __next__(self) -> Any:
        return next(self._self_chunks)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_call.close_early()

    def __enter__(self) -> SyncStreamProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStreamProxy(wrapt.ObjectProxy):
    """Proxy of an SDK ``AsyncStream``."""

    def __init__(self, wrapped: Any, call: Call) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_add = call.adapter.accumulator_class(call).add
        self._self_next = wrapped.__anext__

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        call = self._self_call
        nxt = self._self_next
        add = self._self_add
        while True:
            try:
                chunk = await nxt()
            except StopAsyncIteration:
                call._end()
                raise
            except BaseException as exc:
                call.fail(exc)
                raise
            try:
                if not add(chunk):
                    return chunk
            except Exception as exc:
                internal_error("stream_chunk", exc)
                return chunk

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_call.close_early()

    async def aclose(self) -> None:
        await self.close()

    async def __aenter__(self) -> AsyncStreamProxy:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __del__(self) -> None:
        try:
            self._self_call.close_early()
        except Exception:
            pass


class StreamManagerProxy(wrapt.ObjectProxy):
    """Proxy of a ``.stream()`` helper manager (OpenAI chat/Responses, Anthropic messages)."""

    def __init__(self, wrapped: Any) -> None:
        super().__init__(wrapped)
        self._self_calls: list[Call] = []

    def __enter__(self) -> Any:
        token = _manager_calls.set(self._self_calls)
        try:
            return self.__wrapped__.__enter__()
        finally:
            _manager_calls.reset(token)

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc)
        finally:
            self._finish()

    async def __aenter__(self) -> Any:
        token = _manager_calls.set(self._self_calls)
        try:
            return await self.__wrapped__.__aenter__()
        finally:
            _manager_calls.reset(token)

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc)
        finally:
            self._finish()

    def _finish(self) -> None:
        for call in self._self_calls:
            call.close_early()  # no-op for a stream that was read to its end
        self._self_calls.clear()


class ResponseProxy(wrapt.ObjectProxy):
    """Proxy of an SDK raw-response wrapper (sync or async) around a streamed call."""

    def __init__(self, wrapped: Any, call: Call) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_parsed: tuple[Any, Any] | None = None  # (the SDK's stream, our proxy of it)

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        result = self.__wrapped__.parse(*args, **kwargs)
        if inspect.isawaitable(result):  # AsyncAPIResponse.parse() is a coroutine
            return self._awaited(result)
        return self._proxied(result)

    async def _awaited(self, awaitable: Any) -> Any:
        return self._proxied(await awaitable)

    def _proxied(self, stream: Any) -> Any:
        parsed = self._self_parsed
        if parsed is not None:
            return parsed[1] if parsed[0] is stream else stream  # the SDK caches its parse: so do we
        call = self._self_call
        try:
            if hasattr(stream, "__next__"):
                proxy: Any = SyncStreamProxy(stream, call)
            elif hasattr(stream, "__anext__"):
                proxy = AsyncStreamProxy(stream, call)
            else:
                return stream
        except Exception as exc:
            internal_error("raw_stream", exc)
            return stream
        self._self_parsed = (stream, proxy)
        return proxy

    def close(self) -> Any:
        result = self.__wrapped__.close()
        if inspect.isawaitable(result):
            return self._closed_async(result)
        self._self_call.close_early()  # no-op once the stream was read to its end
        return result

    async def _closed_async(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        finally:
            self._self_call.close_early()

    def __del__(self) -> None:
        try:
            if self._self_parsed is None:  # never parsed: nobody else will end the call
                self._self_call.close_early()
        except Exception:
            pass
