"""OpenAI adapters: chat completions (create / parse / stream), Responses, embeddings, legacy completions.

Reads requests and responses of the ``openai`` SDK (1.x through 3.x: the objects read here kept
their names across majors). Chat streams: when the caller did not ask for usage, we add
``stream_options={"include_usage": True}`` and hide the extra usage-only chunk (empty ``choices``)
so the app sees exactly the stream it asked for.
"""

from __future__ import annotations

from typing import Any

from tokenproof import semconv
from tokenproof.usage import Usage

from ._adapter import Accumulator, Adapter
from ._content import to_parts
from ._estimate import count_text as _count_text
from ._fingerprint import fingerprint, shape
from ._sdk import count_messages as _count_messages
from ._sdk import dictish as _dictish
from ._sdk import model_and_params as _model_and_params
from ._sdk import unwrap_response as _parsed

__all__ = ["ChatAdapter", "CompletionsAdapter", "EmbeddingsAdapter", "ResponsesAdapter"]

_AZURE = {"AzureOpenAI": "azure.ai.openai", "AsyncAzureOpenAI": "azure.ai.openai"}
_INSTRUCTION_ROLES = ("system", "developer")


def _service_tier(kwargs: dict[str, Any], attrs: dict[str, Any]) -> None:
    tier = kwargs.get("service_tier")
    if isinstance(tier, str) and tier:
        attrs[semconv.OPENAI_REQUEST_SERVICE_TIER] = tier


def _format_kind(response_format: Any) -> str | None:
    """text | json | json_schema for a chat/Responses response format (dict or pydantic class)."""
    if response_format is None:
        return None
    if isinstance(response_format, type):
        return semconv.OUTPUT_JSON_SCHEMA
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_schema":
        return semconv.OUTPUT_JSON_SCHEMA
    if kind == "json_object":
        return semconv.OUTPUT_JSON
    if kind == "text":
        return semconv.OUTPUT_TEXT
    return None


_REPLAY_KEYS = (
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "max_output_tokens", "seed",
    "stop", "n", "frequency_penalty", "presence_penalty", "tools", "tool_choice", "response_format",
    "text", "reasoning", "reasoning_effort", "parallel_tool_calls", "instructions",
)


def _replay_params(kwargs: dict[str, Any]) -> dict[str, Any]:
    params = {}
    for key in _REPLAY_KEYS:
        if key in kwargs:
            value = _dictish(kwargs[key])
            if value is not None:
                params[key] = value
    return params


def _usage_tuple(usage: Any) -> Usage:
    """Chat usage: input incl. cached and audio, output incl. reasoning and audio."""
    details = getattr(usage, "prompt_tokens_details", None)
    out_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cache_read_tokens=getattr(details, "cached_tokens", None) or 0,
        reasoning_tokens=getattr(out_details, "reasoning_tokens", None) or 0,
        input_audio_tokens=getattr(details, "audio_tokens", None) or 0,
        output_audio_tokens=getattr(out_details, "audio_tokens", None) or 0,
    )


def _reported_cost(usage: Any) -> float | None:
    """The cost a provider reports in its usage object (OpenRouter's ``usage.cost``, USD)."""
    cost = getattr(usage, "cost", None)
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
        return float(cost)
    return None


def _read_usage(call: Any, usage: Any) -> None:
    """Chat usage onto ``call``, with the cost the provider reported."""
    call.usage = _usage_tuple(usage)
    cost = _reported_cost(usage)
    if cost is not None:
        call.provider_cost = cost


# --- chat completions ----------------------------------------------------------------------------
class ChatAccumulator(Accumulator):
    """Reads each chunk as it passes and keeps no chunk: retaining the chunks until the end of the
    stream was measured slower (the SDK's per-chunk objects can no longer be freed and their
    memory reused while the stream is read)."""

    __slots__ = ()

    def add(self, chunk: Any) -> bool:
        call = self.call
        if call.response_id is None:
            call.response_id = chunk.id
            call.response_model = chunk.model
            call.response_service_tier = getattr(chunk, "service_tier", None)
        usage = chunk.usage
        if usage is not None:
            _read_usage(call, usage)
        choices = chunk.choices
        if not choices:
            return usage is not None and call.hide_usage
        for choice in choices:
            delta = choice.delta
            if delta is not None:
                content = delta.content
                if content:
                    call.text_parts.append(content)
                if delta.tool_calls:
                    call.output_format = semconv.OUTPUT_TOOL_CALLS
            reason = choice.finish_reason
            if reason:
                call.finish_reasons.append(reason)
        return False


class ChatAdapter(Adapter):
    provider = semconv.PROVIDER_OPENAI
    client_providers = _AZURE
    operation = semconv.OPERATION_CHAT
    accumulator_class: type[Accumulator] = ChatAccumulator
    _params = (
        ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
        ("seed", semconv.GEN_AI_REQUEST_SEED),
        ("frequency_penalty", semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY),
        ("presence_penalty", semconv.GEN_AI_REQUEST_PRESENCE_PENALTY),
    )

    def request_attributes(self, kwargs: dict[str, Any], attrs: dict[str, Any]) -> str:
        model = _model_and_params(kwargs, attrs, self._params)
        max_tokens = kwargs.get("max_completion_tokens")
        if type(max_tokens) is not int:
            max_tokens = kwargs.get("max_tokens")
        if type(max_tokens) is int:
            attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        n = kwargs.get("n")
        if type(n) is int and n != 1:
            attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
        stop = kwargs.get("stop")
        if isinstance(stop, str):
            attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = (stop,)
        elif isinstance(stop, (list, tuple)):
            attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
        kind = _format_kind(kwargs.get("response_format"))
        if kind is not None:
            attrs[semconv.GEN_AI_OUTPUT_TYPE] = semconv.OUTPUT_TEXT if kind == "text" else semconv.OUTPUT_JSON
        _service_tier(kwargs, attrs)
        return model

    def output_format(self, kwargs: dict[str, Any]) -> str:
        return _format_kind(kwargs.get("response_format")) or semconv.OUTPUT_TEXT

    def prepare_stream(self, kwargs: dict[str, Any], runtime: Any) -> tuple[dict[str, Any], bool]:
        options = kwargs.get("stream_options")
        if isinstance(options, dict) and "include_usage" in options:
            return kwargs, False  # the caller decided; their usage chunk passes through
        if not runtime.stream_usage:
            return kwargs, False
        new = dict(kwargs)
        new["stream_options"] = {**options, "include_usage": True} if isinstance(options, dict) else {
            "include_usage": True
        }
        return new, True

    def read_response(self, call: Any, response: Any) -> None:
        response = _parsed(response)
        call.response = response
        call.response_id = response.id
        call.response_model = response.model
        reasons = call.finish_reasons
        for choice in response.choices:
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
            message = choice.message
            if message is not None and message.tool_calls:
                call.output_format = semconv.OUTPUT_TOOL_CALLS
        call.response_service_tier = getattr(response, "service_tier", None)
        usage = response.usage
        if usage is not None:
            _read_usage(call, usage)

    def response_text(self, response: Any) -> str:
        return "".join((c.message.content or "") for c in response.choices if c.message is not None)

    def fingerprint(self, kwargs: dict[str, Any]) -> str | None:
        messages: Any = kwargs.get("messages")
        if messages is None or isinstance(messages, (str, bytes, dict)) or not hasattr(messages, "__iter__"):
            messages = []  # not a list of messages: the SDK (or the API) will say so; never rewrite it
        elif not isinstance(messages, (list, tuple)):
            messages = list(messages)  # a one-shot iterable: read it once, hand the SDK the same items
            kwargs["messages"] = messages
        instructions = []
        roles = []
        for message in messages:
            if isinstance(message, dict):
                role = message.get("role")
                content = message.get("content")
            else:
                role = getattr(message, "role", "?")
                content = getattr(message, "content", None)
            if isinstance(content, str):
                if role in _INSTRUCTION_ROLES:
                    instructions.append(content)
                    roles.append(role)
                else:
                    roles.append(f"{role}:text")  # shape() of a string
            else:
                roles.append(f"{role}:{shape(content)}")
        return fingerprint(instructions, roles, kwargs.get("tools"), kwargs.get("response_format"))

    def estimate_input_tokens(self, kwargs: dict[str, Any], model: str) -> int:
        return _count_messages(model, [_dictish(m) for m in kwargs.get("messages") or ()])

    def capture_input(self, kwargs: dict[str, Any]) -> tuple[list[Any] | None, list[Any] | None]:
        messages = []
        for message in kwargs.get("messages") or ():
            message = _dictish(message)
            entry: dict[str, Any] = {"role": message.get("role"), "parts": to_parts(message.get("content"))}
            for call in message.get("tool_calls") or ():
                fn = call.get("function", {})
                entry["parts"].append(
                    {"type": "tool_call", "id": call.get("id"), "name": fn.get("name"), "arguments": fn.get("arguments")}
                )
            if message.get("role") == "tool":
                entry["parts"] = [
                    {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": message.get("content")}
                ]
            messages.append(entry)
        return None, messages

    def capture_params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return _replay_params(kwargs)


# --- Responses API -------------------------------------------------------------------------------
_FINISHED_EVENTS = ("response.completed", "response.incomplete", "response.failed")


class ResponsesAccumulator(Accumulator):
    __slots__ = ()

    def add(self, event: Any) -> bool:
        call = self.call
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            call.text_parts.append(event.delta)
        elif kind in _FINISHED_EVENTS or kind == "response.created":
            _read_response_object(call, event.response)
        return False


def _read_response_object(call: Any, response: Any) -> None:
    call.response_id = response.id
    call.response_model = response.model
    status = response.status
    if status in ("completed", "incomplete", "failed"):
        details = getattr(response, "incomplete_details", None)
        reason = getattr(details, "reason", None)
        call.finish_reasons[:] = [reason or ("stop" if status == "completed" else status)]
    for item in response.output or ():
        if getattr(item, "type", None) == "function_call":
            call.output_format = semconv.OUTPUT_TOOL_CALLS
    tier = getattr(response, "service_tier", None)
    if tier:
        call.response_service_tier = tier
    usage = response.usage
    if usage is not None:
        cost = _reported_cost(usage)
        if cost is not None:
            call.provider_cost = cost
        details = getattr(usage, "input_tokens_details", None)
        out_details = getattr(usage, "output_tokens_details", None)
        searches = sum(1 for item in response.output or () if getattr(item, "type", None) == "web_search_call")
        call.usage = Usage(
            input_tokens=usage.input_tokens or 0,
            output_tokens=usage.output_tokens or 0,
            cache_read_tokens=getattr(details, "cached_tokens", None) or 0,
            reasoning_tokens=getattr(out_details, "reasoning_tokens", None) or 0,
            web_searches=searches,
        )


def _text_format(kwargs: dict[str, Any]) -> Any:
    text = kwargs.get("text")
    if isinstance(text, dict):
        return text.get("format")
    fmt = kwargs.get("text_format")
    return fmt if isinstance(fmt, type) else None


class ResponsesAdapter(Adapter):
    provider = semconv.PROVIDER_OPENAI
    client_providers = _AZURE
    operation = semconv.OPERATION_CHAT
    accumulator_class = ResponsesAccumulator
    _params = (
        ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    )

    def request_attributes(self, kwargs: dict[str, Any], attrs: dict[str, Any]) -> str:
        model = _model_and_params(kwargs, attrs, self._params)
        max_tokens = kwargs.get("max_output_tokens")
        if type(max_tokens) is int:
            attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
        kind = _format_kind(_text_format(kwargs))
        if kind is not None:
            attrs[semconv.GEN_AI_OUTPUT_TYPE] = semconv.OUTPUT_TEXT if kind == "text" else semconv.OUTPUT_JSON
        _service_tier(kwargs, attrs)
        return model

    def output_format(self, kwargs: dict[str, Any]) -> str:
        return _format_kind(_text_format(kwargs)) or semconv.OUTPUT_TEXT

    def read_response(self, call: Any, response: Any) -> None:
        response = _parsed(response)
        call.response = response
        _read_response_object(call, response)

    def response_text(self, response: Any) -> str:
        return getattr(response, "output_text", "") or ""

    def fingerprint(self, kwargs: dict[str, Any]) -> str | None:
        instructions = []
        roles = []
        text = kwargs.get("instructions")
        if isinstance(text, str):
            instructions.append(text)
            roles.append("instructions")
        items = kwargs.get("input")
        if isinstance(items, str):
            roles.append("user:text")
        else:
            for item in items or ():
                item = item if isinstance(item, dict) else _dictish(item)
                role = item.get("role") or item.get("type", "?")
                content = item.get("content")
                if role in _INSTRUCTION_ROLES and isinstance(content, str):
                    instructions.append(content)
                    roles.append(role)
                else:
                    roles.append(f"{role}:{shape(content)}")
        return fingerprint(instructions, roles, kwargs.get("tools"), _text_format(kwargs))

    def estimate_input_tokens(self, kwargs: dict[str, Any], model: str) -> int:
        items = kwargs.get("input")
        messages = [{"role": "user", "content": items}] if isinstance(items, str) else [
            _dictish(i) for i in items or ()
        ]
        if isinstance(kwargs.get("instructions"), str):
            messages.insert(0, {"role": "system", "content": kwargs["instructions"]})
        return _count_messages(model, messages)

    def capture_input(self, kwargs: dict[str, Any]) -> tuple[list[Any] | None, list[Any] | None]:
        system = kwargs.get("instructions")
        system_parts = [{"type": "text", "content": system}] if isinstance(system, str) else None
        items = kwargs.get("input")
        if isinstance(items, str):
            return system_parts, [{"role": "user", "parts": to_parts(items)}]
        messages = []
        for item in items or ():
            item = _dictish(item)
            messages.append({"role": item.get("role", item.get("type")), "parts": to_parts(item.get("content"))})
        return system_parts, messages

    def capture_params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return _replay_params(kwargs)


# --- embeddings ----------------------------------------------------------------------------------
class EmbeddingsAdapter(Adapter):
    provider = semconv.PROVIDER_OPENAI
    client_providers = _AZURE
    operation = semconv.OPERATION_EMBEDDINGS

    def request_attributes(self, kwargs: dict[str, Any], attrs: dict[str, Any]) -> str:
        model = kwargs.get("model")
        model = model if isinstance(model, str) else ""
        attrs[semconv.GEN_AI_REQUEST_MODEL] = model
        fmt = kwargs.get("encoding_format")
        if isinstance(fmt, str):
            attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = (fmt,)
        return model

    def output_format(self, kwargs: dict[str, Any]) -> str | None:
        return None

    def is_streaming(self, kwargs: dict[str, Any]) -> bool:
        return False

    def read_response(self, call: Any, response: Any) -> None:
        response = _parsed(response)
        call.response = response
        call.response_model = response.model
        usage = response.usage
        if usage is not None:
            call.usage = Usage(usage.prompt_tokens or 0)

    def estimate_input_tokens(self, kwargs: dict[str, Any], model: str) -> int:
        data = kwargs.get("input")
        texts = [data] if isinstance(data, str) else [t for t in data or () if isinstance(t, str)]
        return sum(_count_text(model, t) for t in texts)

    def capture_params(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {k: kwargs[k] for k in ("encoding_format", "dimensions") if isinstance(kwargs.get(k), (str, int))}


# --- legacy text completions (/completions) --------------------------------------------------------
class CompletionsAccumulator(Accumulator):
    __slots__ = ()

    def add(self, chunk: Any) -> bool:
        call = self.call
        if call.response_id is None:
            call.response_id = chunk.id
            call.response_model = chunk.model
        usage = chunk.usage
        if usage is not None:
            call.usage = _usage_tuple(usage)
        choices = chunk.choices
        if not choices:
            return usage is not None and call.hide_usage
        for choice in choices:
            if choice.text:
                call.text_parts.append(choice.text)
            if choice.finish_reason:
                call.finish_reasons.append(choice.finish_reason)
        return False


class CompletionsAdapter(ChatAdapter):
    """``completions.create``: same usage, stream options and parameters as chat, a prompt string."""

    operation = semconv.OPERATION_TEXT_COMPLETION
    accumulator_class = CompletionsAccumulator

    def output_format(self, kwargs: dict[str, Any]) -> str:
        return semconv.OUTPUT_TEXT

    def read_response(self, call: Any, response: Any) -> None:
        response = _parsed(response)
        call.response = response
        call.response_id = response.id
        call.response_model = response.model
        for choice in response.choices:
            if choice.finish_reason:
                call.finish_reasons.append(choice.finish_reason)
        if response.usage is not None:
            call.usage = _usage_tuple(response.usage)

    def response_text(self, response: Any) -> str:
        return "".join(c.text or "" for c in response.choices)

    def fingerprint(self, kwargs: dict[str, Any]) -> str | None:
        return None  # a bare prompt string: no template to tell from its data

    def estimate_input_tokens(self, kwargs: dict[str, Any], model: str) -> int:
        prompt = kwargs.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else [p for p in prompt or () if isinstance(p, str)]
        return sum(_count_text(model, p) for p in prompts)

    def capture_input(self, kwargs: dict[str, Any]) -> tuple[list[Any] | None, list[Any] | None]:
        prompt = kwargs.get("prompt")
        return None, [{"role": "user", "parts": to_parts(prompt if isinstance(prompt, str) else _dictish(prompt))}]
