"""Opt-in content capture: prompts, completions and replayable request parameters on the span.

Off unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (read at ``instrument()``,
case-insensitive) asks for it: ``SPAN_ONLY`` or ``true`` put content on the span, ``EVENT_ONLY`` on a
``gen_ai.client.inference.operation.details`` event (OpenTelemetry Logs API, correlated with the
span), ``SPAN_AND_EVENT`` on both; ``NO_CONTENT``, ``false`` or unset capture nothing, and any other
value warns once and captures nothing. Attributes use the GenAI conventions' JSON shapes
(``gen_ai.input.messages``, ``gen_ai.output.messages``, ``gen_ai.system_instructions``) plus
``tokenproof.request.params`` (what the proof engine needs to replay a prompt). A user redaction
hook runs on every value before anything is serialised; each attribute is capped in size (setting
``content_max_chars``) while staying valid JSON.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from tokenproof import semconv, settings

from ._safety import internal_error

__all__ = ["capture_mode", "capture_request", "capture_response", "dumps_capped", "emit_event", "set_redactor"]

logger = logging.getLogger("tokenproof.instrumentation")

# value (lower case) -> (content on the span, content on the event)
_MODES = {
    "span_only": (True, False), "true": (True, False), "1": (True, False), "yes": (True, False),
    "on": (True, False), "event_only": (False, True), "span_and_event": (True, True),
    "no_content": (False, False), "false": (False, False), "0": (False, False), "no": (False, False),
    "off": (False, False), "": (False, False),
}
_warned: set[str] = set()
Redactor = Callable[[str, Any], Any]
_redactor: Redactor | None = None
_redactor_spec: str | None = None


def capture_mode() -> tuple[bool, bool]:
    """(content on spans, content on events) from the environment variable; unknown values warn once."""
    raw = os.environ.get(semconv.ENV_CAPTURE_MESSAGE_CONTENT)
    if raw is None:
        return False, False
    mode = _MODES.get(raw.strip().lower())
    if mode is None:
        if raw not in _warned:
            _warned.add(raw)
            logger.warning("%s=%r is not one of SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT, NO_CONTENT, true, false: "
                           "no content is captured", semconv.ENV_CAPTURE_MESSAGE_CONTENT, raw)
        return False, False
    return mode


def set_redactor(fn: Redactor | None) -> None:
    """Install ``fn(attribute_name, value) -> value`` run on captured content before recording.

    ``value`` is the JSON-like object about to be recorded (a list of messages, a dict of params);
    return the redacted object, or None to drop the attribute. None uninstalls the hook.
    """
    global _redactor
    _redactor = fn


def _configured_redactor() -> Redactor | None:
    global _redactor_spec, _configured
    if _redactor is not None:
        return _redactor
    spec = settings.get("content_redactor")
    if not spec:
        return None
    if spec != _redactor_spec:
        module, _, name = spec.partition(":")
        _configured = getattr(importlib.import_module(module), name)
        _redactor_spec = spec
    return _configured


_configured: Redactor | None = None


def _truncate_texts(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= limit else value[:limit] + f"...[truncated {len(value) - limit} chars]"
    if isinstance(value, list):
        return [_truncate_texts(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: _truncate_texts(v, limit) for k, v in value.items()}
    return value


def dumps_capped(value: Any, cap: int) -> str:
    """JSON of ``value`` at most ``cap`` characters long where possible, still valid JSON."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    limit = max(cap // 2, 16)
    while len(text) > cap and limit > 16:
        text = json.dumps(_truncate_texts(value, limit), ensure_ascii=False, default=str)
        limit //= 2
    if len(text) > cap:
        text = json.dumps({"truncated": True, "chars": len(text)})
    return text


def _record(attrs: dict[str, Any], name: str, value: Any, redactor: Redactor | None, cap: int) -> None:
    if value is None:
        return
    if redactor is not None:
        value = redactor(name, value)
        if value is None:
            return
    attrs[name] = dumps_capped(value, cap)


def capture_request(adapter: Any, kwargs: dict[str, Any], attrs: dict[str, Any]) -> None:
    try:
        redactor = _configured_redactor()
        cap = settings.get("content_max_chars")
        system, messages = adapter.capture_input(kwargs)
        _record(attrs, semconv.GEN_AI_SYSTEM_INSTRUCTIONS, system, redactor, cap)
        _record(attrs, semconv.GEN_AI_INPUT_MESSAGES, messages, redactor, cap)
        _record(attrs, semconv.TP_REQUEST_PARAMS, adapter.capture_params(kwargs) or None, redactor, cap)
    except Exception as exc:
        internal_error("capture_request", exc)


def capture_response(call: Any, attrs: dict[str, Any]) -> None:
    try:
        text = "".join(call.text_parts)
        if not text and call.response is not None:
            text = call.adapter.response_text(call.response)
        if call.adapter.operation == semconv.OPERATION_EMBEDDINGS:
            return
        message: dict[str, Any] = {"role": "assistant", "parts": [{"type": "text", "content": text}]}
        if call.finish_reasons:
            message["finish_reason"] = call.finish_reasons[0]
        _record(attrs, semconv.GEN_AI_OUTPUT_MESSAGES, [message], _configured_redactor(),
                settings.get("content_max_chars"))
    except Exception as exc:
        internal_error("capture_response", exc)


# span attributes repeated on the event, so that it stands on its own in a logs backend
_EVENT_KEYS = (
    semconv.GEN_AI_OPERATION_NAME, semconv.GEN_AI_PROVIDER_NAME, semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_RESPONSE_MODEL, semconv.GEN_AI_RESPONSE_ID, semconv.GEN_AI_RESPONSE_FINISH_REASONS,
    semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS, semconv.ERROR_TYPE,
)


def emit_event(call: Any, span_attrs: dict[str, Any], content: dict[str, Any]) -> None:
    """The GenAI operation-details event of a finished call, with its captured content."""
    try:
        from opentelemetry import trace
        from opentelemetry._logs import LogRecord

        attrs = {k: span_attrs[k] for k in _EVENT_KEYS if k in span_attrs}
        attrs.update(content)
        context = call.context if call.context is not None else trace.set_span_in_context(call.span)
        call.runtime.event_logger.emit(LogRecord(event_name=semconv.EVENT_INFERENCE_DETAILS, attributes=attrs,
                                                 context=context))
    except Exception as exc:
        internal_error("content_event", exc)


def to_parts(content: Any) -> list[dict[str, Any]]:
    """Message content (string or SDK part list) as semantic-convention parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, (list, tuple)) else [content]:
        if not isinstance(part, dict):
            dump = getattr(part, "model_dump", None)
            part = dump(mode="json") if callable(dump) else {"type": "text", "content": str(part)}
        kind = part.get("type", "text")
        if kind in ("text", "input_text", "output_text"):
            parts.append({"type": "text", "content": part.get("text", part.get("content", ""))})
        else:
            parts.append({"type": kind, **{k: v for k, v in part.items() if k != "type"}})
    return parts
