"""OpenAI Chat Completions: POST /v1/chat/completions (JSON and SSE ``chat.completion.chunk``)."""

from __future__ import annotations

import json
import time
import uuid

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from tokenproof_devkit.provider import sse
from tokenproof_devkit.provider.answers import Conversation
from tokenproof_devkit.provider.completion import Completion, ToolSpec, complete, pick_tool, replay_headers
from tokenproof_devkit.provider.errors import ProviderError, admit, error_response, openai_error_body, request_id
from tokenproof_devkit.provider.faults import apply_latency
from tokenproof_devkit.provider.models import ModelInfo, resolve
from tokenproof_devkit.provider.text import split_chunks
from tokenproof_devkit.provider.usage import count_tokens

router = APIRouter()


def content_text(content) -> str:
    """Text of an OpenAI message content (a string or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                parts.append(str(part.get("text") or part.get("input_text") or part.get("refusal") or ""))
        return "\n".join(p for p in parts if p)
    return str(content)


def conversation(messages: list[dict]) -> tuple[Conversation, list[str]]:
    """The conversation and its cache segments (one per message)."""
    conv = Conversation()
    segments = []
    for msg in messages:
        if not isinstance(msg, dict) or "role" not in msg:
            raise ProviderError(400, "Each message needs a 'role'.", "messages")
        role = msg["role"]
        text = content_text(msg.get("content"))
        if msg.get("tool_calls"):
            text += json.dumps(msg["tool_calls"], sort_keys=True)
        if role in ("system", "developer"):
            conv.system += text + "\n"
        elif role in ("tool", "function"):
            conv.turns.append(("tool", text))
        else:
            conv.turns.append((role, text))
        segments.append(f"<|{role}|>{text}")
    conv.last_is_tool_result = bool(conv.turns) and conv.turns[-1][0] == "tool"
    return conv, segments


def resolve_model(request: Request, body: dict) -> ModelInfo:
    model = body.get("model")
    if not model or not isinstance(model, str):
        raise ProviderError(400, "you must provide a model parameter", "model")
    info = resolve(model, request.app.state.model_table)
    if info is None:
        raise ProviderError(404, f"The model `{model}` does not exist or you do not have access to it.", "model")
    return info


def tools_of(body: dict) -> tuple[list[ToolSpec], str | bool | None]:
    tools = []
    for item in body.get("tools") or []:
        fn = item.get("function") if isinstance(item, dict) and "function" in item else item
        if isinstance(fn, dict) and fn.get("name"):
            tools.append(ToolSpec(fn["name"], fn.get("parameters") or {}))
    choice = body.get("tool_choice")
    forced: str | bool | None = None
    if choice == "required":
        forced = True
    elif choice == "none":
        tools = []
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        forced = name or True
    return tools, forced


def output_format(body: dict) -> tuple[bool, dict | None]:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_object":
        return True, None
    if fmt.get("type") == "json_schema":
        return True, (fmt.get("json_schema") or {}).get("schema") or {}
    return False, None


def usage(prompt: int, cached: int, completions: list[Completion]) -> dict:
    out = sum(c.output_tokens for c in completions)
    reasoning = sum(c.reasoning_tokens for c in completions)
    return {
        "prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }


def message_of(c: Completion) -> dict:
    msg = {"role": "assistant", "content": c.text if not c.tool_calls else None, "refusal": None,
           "annotations": []}
    if c.tool_calls:
        msg["tool_calls"] = [{"id": t.id, "type": "function",
                              "function": {"name": t.name, "arguments": t.arguments}} for t in c.tool_calls]
    return msg


async def begin(request: Request) -> tuple[dict, ModelInfo, object]:
    """What every OpenAI route does first: latency, faults, admission (auth, JSON body), the model.

    Raises ``ProviderError`` for the route to answer in the provider's error shape.
    """
    state = request.app.state
    await apply_latency(state.options)
    fault = state.faults.for_request(request)
    body = await admit(request, "openai", state.options, fault)
    return body, resolve_model(request, body), fault


@router.post("/v1/chat/completions")
async def chat_completions(request: Request) -> Response:
    state = request.app.state
    options = state.options
    try:
        body, info, fault = await begin(request)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ProviderError(400, "'messages' must be a non-empty array.", "messages")
        if info.recording == "embedding":
            raise ProviderError(400, f"{info.requested} is an embeddings model, not a chat model.", "model")
        conv, segments = conversation(messages)
        tools, forced = tools_of(body)
        json_mode, schema = output_format(body)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if body.get("stream_options") is not None and not body.get("stream"):
            raise ProviderError(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                                "stream_options")
        n = int(body.get("n") or 1)
        if n < 1 or n > 8:
            raise ProviderError(400, "'n' must be between 1 and 8.", "n")
    except ProviderError as exc:
        return error_response("openai", exc.status, options, exc.message, exc.param)

    head = json.dumps({"tools": body.get("tools"), "response_format": body.get("response_format")}, sort_keys=True)
    segments = [head, *segments]
    prompt_tokens = count_tokens("".join(segments), info.requested) + 3 * len(messages) + 3
    cached = state.cache.openai_cached(info.requested, segments)
    tool = pick_tool(tools, forced, conv)
    completions = [complete(conv, info, options, max_tokens=max_tokens, tool=tool, json_mode=json_mode,
                            json_schema=schema) for _ in range(n)]
    ident = "chatcmpl-" + uuid.uuid4().hex[:29]
    created = int(time.time())
    headers = {"x-request-id": request_id(), "openai-processing-ms": "1", **replay_headers(completions[0])}
    if not body.get("stream"):
        return JSONResponse({
            "id": ident, "object": "chat.completion", "created": created, "model": info.requested,
            "choices": [{"index": i, "message": message_of(c), "logprobs": None, "finish_reason": c.finish}
                        for i, c in enumerate(completions)],
            "usage": usage(prompt_tokens, cached, completions),
            "service_tier": "default", "system_fingerprint": "fp_tokenproof",
        }, headers=headers)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    frames = _stream_frames(ident, created, info, completions, usage(prompt_tokens, cached, completions),
                            include_usage, fault)
    return sse.stream(frames, options.chunk_delay_ms, headers)


def _stream_frames(ident, created, info, completions, total_usage, include_usage, fault):
    base = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": info.requested,
            "service_tier": "default", "system_fingerprint": "fp_tokenproof"}

    def chunk(index: int, delta: dict, finish=None) -> str:
        data = dict(base, choices=[{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}])
        if include_usage:
            data["usage"] = None
        return sse.event(data)

    sent = 0
    for i, c in enumerate(completions):
        yield chunk(i, {"role": "assistant", "content": "" if not c.tool_calls else None, "refusal": None})
        pieces = []
        if c.tool_calls:
            for k, t in enumerate(c.tool_calls):
                pieces.append({"tool_calls": [{"index": k, "id": t.id, "type": "function",
                                               "function": {"name": t.name, "arguments": ""}}]})
                pieces += [{"tool_calls": [{"index": k, "function": {"arguments": part}}]}
                           for part in _split_json(t.arguments)]
        else:
            pieces = [{"content": p} for p in sse_pieces(c.text)]
        for delta in pieces:
            if fault.break_after is not None and sent >= fault.break_after:
                if fault.break_mode == "drop":
                    raise sse.StreamBroken("stream dropped by fault injection")
                yield sse.event(openai_error_body(500, "The server had an error while streaming the response."))
                return
            yield chunk(i, delta)
            sent += 1
        yield chunk(i, {}, c.finish)
    if include_usage:
        yield sse.event(dict(base, choices=[], usage=total_usage))
    yield sse.event("[DONE]")


def sse_pieces(text: str) -> list[str]:
    return split_chunks(text) if text else []


def _split_json(text: str, size: int = 12) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]
