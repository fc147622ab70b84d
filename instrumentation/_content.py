"""Opt-in content capture: prompts, completions and replayable request parameters on the span.

Off unless ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is true (``SPAN_ONLY`` and
``SPAN_AND_EVENT`` also turn it on; we emit no events), read at ``instrument()``. Attributes use the GenAI conventions' JSON shapes
(``gen_ai.input.messages``, ``gen_ai.output.messages``, ``gen_ai.system_instructions``) plus
``tokenproof.request.params`` (what the proof engine needs to replay a prompt). A user redaction
hook runs on every value before anything is serialised; each attribute is capped in size (setting
``content_max_chars``) while staying valid JSON.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from typing import Any

from tokenproof import semconv, settings

from ._safety import internal_error

__all__ = ["capture_enabled", "capture_request", "capture_response", "dumps_capped", "set_redactor"]

_ON = {"true", "1", "yes", "on", "span_only", "span_and_event"}
Redactor = Callable[[str, Any], Any]
_redactor: Redactor | None = None
_redactor_spec: str | None = None


def capture_enabled() -> bool:
    raw = os.environ.get(semconv.ENV_CAPTURE_MESSAGE_CONTENT)
    return raw is not None and raw.strip().lower() in _ON


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
