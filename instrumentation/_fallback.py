"""Routed calls with instant per-request fallback: the candidate first, the baseline once on failure.

A routed call sends the rewritten request (candidate model, candidate system prompt when the route
has one, the route's timeout) as its own span. When the candidate raises (error, timeout), when its
answer fails a deterministic format check (invalid JSON, schema, tool call, empty or truncated
answer) or refuses, or when a stream fails before its first chunk, the request is sent again exactly
as the app wrote it, inside the same SDK call, as a second span marked ``tokenproof.route.fallback``;
the app receives the baseline's answer (or its error, as it would have without routing). A stream
that fails after its first chunk propagates the error as it would have. Both attempts are priced.

The format rules are those of the proof engine's gates (docs/routing.md): the instrumentation may
not import the analytics package, so they are applied here to the SDK response objects directly.
"""

from __future__ import annotations

import json
from typing import Any

import wrapt

from tokenproof import semconv
from tokenproof.answer_rules import looks_like_refusal_text

from . import _wrappers as _w
from ._adapter import given
from ._routing import Route
from ._safety import internal_error
from ._stream import AsyncStreamProxy, SyncStreamProxy, register_stream

__all__ = ["format_failure", "plan", "routed_async", "routed_sync"]

_NOTHING = object()


def plan(router: Any, adapter: Any, kwargs: dict[str, Any]) -> Any:
    """The router's decision for this call, or None (never raises into the app)."""
    if _w._active.get() or _w.otel_context.get_value(_w._SUPPRESS_INSTRUMENTATION_KEY):
        return None
    try:
        return router.decide(adapter, kwargs)
    except Exception as exc:
        internal_error("route_decide", exc)
        return None


# --- the rewrite ---------------------------------------------------------------------------------
def rewrite(adapter: Any, kwargs: dict[str, Any], route: Route) -> dict[str, Any]:
    new = dict(kwargs)
    new["model"] = route.candidate
    if route.system_prompt:
        if type(adapter).__name__ == "MessagesAdapter":
            new["system"] = route.system_prompt
        else:
            messages = list(kwargs.get("messages") or [])
            if messages and isinstance(messages[0], dict) and messages[0].get("role") in ("system", "developer"):
                messages[0] = {**messages[0], "content": route.system_prompt}
            else:
                messages.insert(0, {"role": "system", "content": route.system_prompt})
            new["messages"] = messages
    if route.timeout_s and not given(kwargs.get("timeout")):
        new["timeout"] = route.timeout_s
    return new


def _candidate_attrs(route: Route) -> dict[str, Any]:
    return {**route.attrs, semconv.TP_ROUTE_ATTEMPT: semconv.ROUTE_ATTEMPT_CANDIDATE}


def _baseline_attrs(route: Route, reason: str) -> dict[str, Any]:
    return {**route.attrs, semconv.TP_ROUTE_ATTEMPT: semconv.ROUTE_ATTEMPT_BASELINE,
            semconv.TP_ROUTE_FALLBACK: True, semconv.TP_ROUTE_FALLBACK_REASON: reason}


def _error_reason(exc: BaseException) -> str:
    return semconv.FALLBACK_TIMEOUT if "Timeout" in type(exc).__name__ else semconv.FALLBACK_ERROR


def _mark(call: Any, reason: str) -> None:
    try:
        call.span.set_attribute(semconv.TP_ROUTE_FALLBACK_REASON, reason)
    except Exception as exc:
        internal_error("route_mark", exc)


# --- deterministic format checks ------------------------------------------------------------------
def _schema_errors(instance: Any, schema: Any) -> bool:
    try:
        import jsonschema
    except ImportError:  # bare install: JSON syntax is still checked
        return False
    try:
        return jsonschema.validators.validator_for(schema)(schema).is_valid(instance) is False
    except Exception:
        return False  # the request's own schema is broken: not the candidate's failure


def _check(kwargs: dict[str, Any], text: str, calls: list[tuple[str, Any]], finish: str | None,
           refused: bool, tools: dict[str, Any], anthropic: bool) -> str | None:
    if refused or looks_like_refusal_text(text):
        return semconv.FALLBACK_REFUSAL
    if finish in ("length", "max_tokens"):
        return semconv.FALLBACK_FORMAT
    if not text.strip() and not calls:
        return semconv.FALLBACK_FORMAT
    for name, args in calls:
        if name not in tools:
            return semconv.FALLBACK_FORMAT
        if isinstance(args, str):
            try:
                args = json.loads(args or "{}")
            except ValueError:
                return semconv.FALLBACK_FORMAT
        if _schema_errors(args, tools[name]):
            return semconv.FALLBACK_FORMAT
    choice = kwargs.get("tool_choice")
    required = choice in ("required", "any") or (isinstance(choice, dict) and choice.get("type") in ("function", "tool", "any"))
    if tools and required and not calls:
        return semconv.FALLBACK_FORMAT
    fmt = kwargs.get("response_format")
    kind = fmt.get("type") if isinstance(fmt, dict) else ("json_schema" if isinstance(fmt, type) else None)
    if not anthropic and kind in ("json_object", "json_schema") and not calls:
        try:  # as the app's own json.loads would: a Markdown fence around the JSON fails (as in the proof)
            parsed = json.loads(text)
        except ValueError:
            return semconv.FALLBACK_FORMAT
        if kind == "json_object" and not isinstance(parsed, dict):
            return semconv.FALLBACK_FORMAT
        if isinstance(fmt, dict) and kind == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema")
            if isinstance(schema, dict) and _schema_errors(parsed, schema):
                return semconv.FALLBACK_FORMAT
    return None


def format_failure(adapter: Any, kwargs: dict[str, Any], response: Any) -> str | None:
    """The fallback reason for a candidate answer that fails a deterministic check, else None."""
    kind = type(response).__name__
    if kind in ("ChatCompletion", "ParsedChatCompletion"):
        if not response.choices:
            return semconv.FALLBACK_FORMAT
        choice = response.choices[0]
        message = choice.message
        calls = [(c.function.name, c.function.arguments) for c in (message.tool_calls or [])
                 if getattr(c, "function", None) is not None]
        tools = {t["function"]["name"]: t["function"].get("parameters") or {"type": "object"}
                 for t in (kwargs.get("tools") if given(kwargs.get("tools")) else None) or []
                 if isinstance(t, dict) and isinstance(t.get("function"), dict)}
        return _check(kwargs, message.content or "", calls, choice.finish_reason,
                      bool(getattr(message, "refusal", None)), tools, False)
    if kind == "Message":
        text = "".join(b.text for b in response.content if b.type == "text")
        calls = [(b.name, b.input) for b in response.content if b.type == "tool_use"]
        tools = {t["name"]: t.get("input_schema") or {"type": "object"}
                 for t in (kwargs.get("tools") if given(kwargs.get("tools")) else None) or []
                 if isinstance(t, dict) and t.get("name")}
        return _check(kwargs, text, calls, response.stop_reason, response.stop_reason == "refusal", tools, True)
    return None  # raw responses and other shapes are passed through unchecked


def _format_reason(adapter: Any, kwargs: dict[str, Any], result: Any) -> str | None:
    try:
        return format_failure(adapter, kwargs, result)
    except Exception as exc:
        internal_error("route_format_check", exc)
        return None


# --- streams whose first chunk we already read -----------------------------------------------------
class _Peeked(wrapt.ObjectProxy):
    def __init__(self, wrapped: Any, first: Any) -> None:
        super().__init__(wrapped)
        self._self_first = first

    def __iter__(self) -> Any:
        def chunks() -> Any:
            if self._self_first is not _NOTHING:
                yield self._self_first
            yield from self.__wrapped__
        return chunks()


class _AsyncPeeked(wrapt.ObjectProxy):
    def __init__(self, wrapped: Any, first: Any) -> None:
        super().__init__(wrapped)
        self._self_first = first

    def __aiter__(self) -> _AsyncPeeked:
        return self

    async def __anext__(self) -> Any:
        first = self._self_first
        if first is not _NOTHING:
            self._self_first = _NOTHING
            return first
        return await self.__wrapped__.__anext__()


def _close_quietly(stream: Any) -> None:
    try:
        stream.close()
    except Exception:
        pass


# --- sync ------------------------------------------------------------------------------------------
def _send_sync(runtime: Any, adapter: Any, instance: Any, kwargs: dict[str, Any], send: Any, known: Any,
               attrs: dict[str, Any]) -> Any:
    """One plain attempt (the baseline's): its span, its stream proxy; errors propagate."""
    call = _w._begin(runtime, adapter, kwargs, instance, known=known, route_attrs=attrs)
    if call is None:
        return send(kwargs, False)
    entered = _w._enter(call)
    try:
        result = send(call.kwargs, not call.foreign)
    except BaseException as exc:
        _w._leave(entered)
        call.fail(exc)
        raise
    _w._leave(entered)
    if call.streaming and hasattr(result, "__next__"):
        register_stream(call)
        return SyncStreamProxy(result, call)
    call.finish_response(result)
    return result


def routed_sync(runtime: Any, adapter: Any, instance: Any, kwargs: dict[str, Any], send: Any, decision: Any) -> Any:
    tags, fingerprint, route = decision
    known = (tags, fingerprint)
    call = _w._begin(runtime, adapter, rewrite(adapter, kwargs, route), instance, known=known,
                     route_attrs=_candidate_attrs(route))
    if call is None:
        return send(kwargs, False)
    entered = _w._enter(call)
    try:
        result = send(call.kwargs, not call.foreign)
    except Exception as exc:
        _w._leave(entered)
        reason = _error_reason(exc)
        _mark(call, reason)
        call.fail(exc)
        return _send_sync(runtime, adapter, instance, kwargs, send, known, _baseline_attrs(route, reason))
    except BaseException as exc:  # KeyboardInterrupt and friends are not the candidate's failure
        _w._leave(entered)
        call.fail(exc)
        raise
    _w._leave(entered)
    if call.streaming and hasattr(result, "__next__"):
        try:
            first = next(result)
        except StopIteration:
            first = _NOTHING
        except Exception as exc:
            _mark(call, semconv.FALLBACK_STREAM)
            call.fail(exc)
            _close_quietly(result)
            return _send_sync(runtime, adapter, instance, kwargs, send, known,
                              _baseline_attrs(route, semconv.FALLBACK_STREAM))
        register_stream(call)
        return SyncStreamProxy(_Peeked(result, first), call)
    failure = _format_reason(adapter, call.kwargs, result)
    if failure is not None:
        reason = failure
        _mark(call, reason)
        call.finish_response(result)
        return _send_sync(runtime, adapter, instance, kwargs, send, known, _baseline_attrs(route, reason))
    call.finish_response(result)
    return result


# --- async -----------------------------------------------------------------------------------------
async def _send_async(runtime: Any, adapter: Any, instance: Any, kwargs: dict[str, Any], send: Any, known: Any,
                      attrs: dict[str, Any]) -> Any:
    call = _w._begin(runtime, adapter, kwargs, instance, known=known, route_attrs=attrs)
    if call is None:
        return await send(kwargs, False)
    entered = _w._enter(call)
    try:
        result = await send(call.kwargs, not call.foreign)
    except BaseException as exc:
        _w._leave(entered)
        call.fail(exc)
        raise
    _w._leave(entered)
    if call.streaming and hasattr(result, "__anext__"):
        register_stream(call)
        return AsyncStreamProxy(result, call)
    call.finish_response(result)
    return result


async def routed_async(runtime: Any, adapter: Any, instance: Any, kwargs: dict[str, Any], send: Any,
                       decision: Any) -> Any:
    tags, fingerprint, route = decision
    known = (tags, fingerprint)
    call = _w._begin(runtime, adapter, rewrite(adapter, kwargs, route), instance, known=known,
                     route_attrs=_candidate_attrs(route))
    if call is None:
        return await send(kwargs, False)
    entered = _w._enter(call)
    try:
        result = await send(call.kwargs, not call.foreign)
    except Exception as exc:
        _w._leave(entered)
        reason = _error_reason(exc)
        _mark(call, reason)
        call.fail(exc)
        return await _send_async(runtime, adapter, instance, kwargs, send, known, _baseline_attrs(route, reason))
    except BaseException as exc:
        _w._leave(entered)
        call.fail(exc)
        raise
    _w._leave(entered)
    if call.streaming and hasattr(result, "__anext__"):
        try:
            first = await result.__anext__()
        except StopAsyncIteration:
            first = _NOTHING
        except Exception as exc:
            _mark(call, semconv.FALLBACK_STREAM)
            call.fail(exc)
            try:
                await result.close()
            except Exception:
                pass
            return await _send_async(runtime, adapter, instance, kwargs, send, known,
                                     _baseline_attrs(route, semconv.FALLBACK_STREAM))
        register_stream(call)
        return AsyncStreamProxy(_AsyncPeeked(result, first), call)
    failure = _format_reason(adapter, call.kwargs, result)
    if failure is not None:
        reason = failure
        _mark(call, reason)
        call.finish_response(result)
        return await _send_async(runtime, adapter, instance, kwargs, send, known, _baseline_attrs(route, reason))
    call.finish_response(result)
    return result
