"""Anthropic adapter: messages.create (streamed or not) and the messages.stream() helper.

Anthropic reports ``input_tokens`` WITHOUT cached tokens; the GenAI conventions (and our pricing)
count all input, so input = input_tokens + cache_read_input_tokens + cache_creation_input_tokens.
Streams carry usage in ``message_start`` (input side) and ``message_delta`` (cumulative output).

Recent anthropic SDKs emit their own GenAI span per API call (scope ``com.anthropic.sdk.python``)
when a global tracer provider exists; with ours that would count every call twice, so while
tokenproof instruments, the clients whose calls it traces get no SDK span (``prepare_client``).
"""

from __future__ import annotations

from typing import Any

from tokenproof import semconv
from tokenproof.usage import Usage

from ._adapter import Accumulator, Adapter
from ._content import to_parts
from ._fingerprint import fingerprint, shape
from ._sdk import count_messages as _count_messages
from ._sdk import dictish as _dictish
from ._sdk import model_and_params as _model_and_params
from ._sdk import unwrap_response as _parsed

__all__ = ["MessagesAdapter"]


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def _usage(usage: Any, previous: Usage | None = None) -> Usage:
    """Usage from a message (or a stream's cumulative ``message_delta``: missing fields keep
    ``previous``). Cache writes are split by lifetime (``cache_creation.ephemeral_1h_input_tokens``)
    and server-side web searches counted (``server_tool_use.web_search_requests``)."""
    base = previous if previous is not None else Usage(0)
    cache_read = _count(getattr(usage, "cache_read_input_tokens", None))
    cache_read = base.cache_read_tokens if cache_read is None else cache_read
    creation = _count(getattr(usage, "cache_creation_input_tokens", None))
    creation = base.cache_creation_tokens if creation is None else creation
    split = getattr(usage, "cache_creation", None)
    one_hour = _count(getattr(split, "ephemeral_1h_input_tokens", None)) if split is not None else None
    one_hour = base.cache_creation_1h_tokens if one_hour is None else min(one_hour, creation)
    tools = getattr(usage, "server_tool_use", None)
    searches = _count(getattr(tools, "web_search_requests", None)) if tools is not None else None
    searches = base.web_searches if searches is None else searches
    uncached = getattr(usage, "input_tokens", None)
    if previous is not None and uncached is None:
        total_input = previous.input_tokens
    else:
        total_input = int(uncached or 0) + cache_read + creation
    output = _count(getattr(usage, "output_tokens", None))
    return Usage(
        input_tokens=total_input,
        output_tokens=base.output_tokens if output is None else output,
        cache_read_tokens=cache_read,
        cache_creation_tokens=creation,
        cache_creation_1h_tokens=one_hour,
        web_searches=searches,
    )


def _output_format(kwargs: dict[str, Any]) -> str:
    config = kwargs.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is None:
        fmt = kwargs.get("output_format")
    if isinstance(fmt, type) or (isinstance(fmt, dict) and fmt.get("type") == "json_schema"):
        return semconv.OUTPUT_JSON_SCHEMA
    return semconv.OUTPUT_TEXT


class MessagesAccumulator(Accumulator):
    __slots__ = ()

    def add(self, event: Any) -> bool:
        call = self.call
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":
            delta = event.delta
            if getattr(delta, "type", None) == "text_delta":
                call.text_parts.append(delta.text)
        elif kind == "message_start":
            message = event.message
            call.response_id = message.id
            call.response_model = message.model
            if message.usage is not None:
                call.usage = _usage(message.usage)
                call.service_tier = getattr(message.usage, "service_tier", None) or call.service_tier
        elif kind == "content_block_start":
            if getattr(event.content_block, "type", None) == "tool_use":
                call.output_format = semconv.OUTPUT_TOOL_CALLS
        elif kind == "message_delta":
            reason = getattr(event.delta, "stop_reason", None)
            if reason:
                call.finish_reasons[:] = [reason]
            if event.usage is not None:
                call.usage = _usage(event.usage, call.usage)
        return False


class MessagesAdapter(Adapter):
    provider = semconv.PROVIDER_ANTHROPIC
    client_providers = {
        name: provider
        for provider, names in (
            ("aws.bedrock", ("AnthropicBedrock", "AsyncAnthropicBedrock", "AnthropicAWS", "AsyncAnthropicAWS")),
            ("gcp.vertex_ai", ("AnthropicVertex", "AsyncAnthropicVertex", "AnthropicGoogleCloud",
                               "AsyncAnthropicGoogleCloud")),
        )
        for name in names
    }
    operation = semconv.OPERATION_CHAT
    accumulator_class = MessagesAccumulator
    _params = (
        ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
        ("top_k", semconv.GEN_AI_REQUEST_TOP_K),
    )

    def prepare_client(self, client: Any) -> None:
        if client is not None and getattr(client, "_lazy_tracer", None) is not None:
            client._lazy_tracer = None  # the SDK's own span for this client would duplicate ours

    def request_attributes(self, kwargs: dict[str, Any], attrs: dict[str, Any]) -> str:
        model = _model_and_params(kwargs, attrs, self._params)
        max_tokens = kwargs.get("max_tokens")
        if type(max_tokens) is int:
            attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        stop = kwargs.get("stop_sequences")
        if isinstance(stop, (list, tuple)):
            attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
        if _output_format(kwargs) == semconv.OUTPUT_JSON_SCHEMA:
            attrs[semconv.GEN_AI_OUTPUT_TYPE] = semconv.OUTPUT_JSON
        return model

    def output_format(self, kwargs: dict[str, Any]) -> str:
        return _output_format(kwargs)

    def read_response(self, call: Any, response: Any) -> None:
        response = _parsed(response)
        call.response = response
        call.response_id = response.id
        call.response_model = response.model
        if response.stop_reason:
            call.finish_reasons.append(response.stop_reason)
        for block in response.content or ():
            if getattr(block, "type", None) == "tool_use":
                call.output_format = semconv.OUTPUT_TOOL_CALLS
        if response.usage is not None:
            call.usage = _usage(response.usage)
            call.service_tier = getattr(response.usage, "service_tier", None) or call.service_tier

    def response_text(self, response: Any) -> str:
        return "".join(getattr(b, "text", "") for b in response.content or () if getattr(b, "type", None) == "text")

    @staticmethod
    def _system_texts(kwargs: dict[str, Any]) -> list[str]:
        system = kwargs.get("system")
        if isinstance(system, str):
            return [system]
        if isinstance(system, (list, tuple)):
            texts = []
            for block in system:
                block = _dictish(block)
                if isinstance(block, dict) and isinstance(block.get("text"), str):
                    texts.append(block["text"])
            return texts
        return []

    def fingerprint(self, kwargs: dict[str, Any]) -> str | None:
        messages = kwargs.get("messages")
        if messages is not None and not isinstance(messages, (list, tuple)):
            messages = kwargs["messages"] = list(messages)
        instructions = self._system_texts(kwargs)
        roles = ["system"] * len(instructions)
        for message in messages or ():
            role = message.get("role") if isinstance(message, dict) else getattr(message, "role", "?")
            content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
            roles.append(f"{role}:{shape(content)}")
        fmt = kwargs.get("output_config")
        return fingerprint(instructions, roles, kwargs.get("tools"), fmt if isinstance(fmt, dict) else None)

    def estimate_input_tokens(self, kwargs: dict[str, Any], model: str) -> int:
        messages = [{"role": "system", "content": t} for t in self._system_texts(kwargs)]
        for message in kwargs.get("messages") or ():
            message = _dictish(message)
            content = message.get("content")
            if not isinstance(content, str):
                content = " ".join(
                    str(p.get("text", "")) for p in (_dictish(c) for c in content or ()) if isinstance(p, dict)
                )
            messages.append({"role": message.get("role", "user"), "content": content})
        return _count_messages(model, messages)

    def capture_input(self, kwargs: dict[str, Any]) -> tuple[list[Any] | None, list[Any] | None]:
        texts = self._system_texts(kwargs)
        system = [{"type": "text", "content": t} for t in texts] or None
        messages = []
        for message in kwargs.get("messages") or ():
            message = _dictish(message)
            messages.append({"role": message.get("role"), "parts": to_parts(message.get("content"))})
        return system, messages

    def capture_params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key in ("temperature", "top_p", "top_k", "max_tokens", "stop_sequences", "tools", "tool_choice",
                    "output_config", "thinking"):
            if key in kwargs:
                value = _dictish(kwargs[key])
                if value is not None:
                    params[key] = value
        return params
