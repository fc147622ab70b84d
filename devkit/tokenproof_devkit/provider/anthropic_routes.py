"""Anthropic Messages: POST /v1/messages (JSON and the SSE event stream) with prompt caching."""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from tokenproof_devkit.provider import sse
from tokenproof_devkit.provider.answers import Conversation
from tokenproof_devkit.provider.completion import Completion, ToolSpec, complete, pick_tool, replay_headers
from tokenproof_devkit.provider.errors import ProviderError, admit, anthropic_error_body, error_response, request_id
from tokenproof_devkit.provider.faults import apply_latency
from tokenproof_devkit.provider.models import resolve
from tokenproof_devkit.provider.text import split_chunks
from tokenproof_devkit.provider.usage import count_tokens

router = APIRouter()
STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


def _block_text(block) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text") or "")
    if kind == "tool_result":
        inner = block.get("content")
        if isinstance(inner, list):
            return "\n".join(_block_text(b) for b in inner)
        return str(inner or "")
    if kind == "tool_use":
        return json.dumps({"name": block.get("name"), "input": block.get("input")}, sort_keys=True)
    return ""


def _blocks(content) -> list:
    if content is None:
        return []
    return [content] if isinstance(content, str) else list(content)


def parse_request(body: dict) -> tuple[Conversation, str, list[str], list[ToolSpec], str | bool | None]:
    """(conversation, full prompt text, cache_control prefixes, tools, forced tool)."""
    conv = Conversation()
    rendered = ""
    prefixes: list[str] = []

    def add(text: str, block) -> None:
        nonlocal rendered
        rendered += text
        if isinstance(block, dict) and block.get("cache_control"):
            prefixes.append(rendered)

    tools = []
    for tool in body.get("tools") or []:
        if not isinstance(tool, dict) or not tool.get("name"):
            raise ProviderError(400, "tools: each tool needs a name")
        tools.append(ToolSpec(tool["name"], tool.get("input_schema") or {}))
        add(json.dumps(tool, sort_keys=True, default=str), tool)
    for block in _blocks(body.get("system")):
        text = _block_text(block)
        conv.system += text + "\n"
        add(text, block)
    for msg in body["messages"]:
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise ProviderError(400, "messages: each message needs role 'user' or 'assistant'")
        texts = []
        tool_result = False
        for block in _blocks(msg.get("content")):
            text = _block_text(block)
            tool_result = tool_result or (isinstance(block, dict) and block.get("type") == "tool_result")
            texts.append(text)
            add(f"<|{msg['role']}|>{text}", block)
        conv.turns.append(("tool" if tool_result else msg["role"], "\n".join(texts)))
    conv.last_is_tool_result = bool(conv.turns) and conv.turns[-1][0] == "tool"
    choice = body.get("tool_choice") or {}
    forced: str | bool | None = None
    if choice.get("type") == "any":
        forced = True
    elif choice.get("type") == "tool":
        forced = choice.get("name") or True
    elif choice.get("type") == "none":
        tools = []
    return conv, rendered, prefixes, tools, forced


def _content(c: Completion) -> list[dict]:
    if c.tool_calls:
        return [{"type": "tool_use", "id": "toolu_" + t.id[5:], "name": t.name, "input": t.input}
                for t in c.tool_calls]
    return [{"type": "text", "text": c.text}]


@router.post("/v1/messages")
async def messages(request: Request) -> Response:
    state = request.app.state
    options = state.options
    await apply_latency(options)
    fault = state.faults.for_request(request)
    try:
        body = await admit(request, "anthropic", options, fault)
        model = body.get("model")
        if not model or not isinstance(model, str):
            raise ProviderError(400, "model: Field required")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise ProviderError(400, "messages: Field required (a non-empty list)")
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ProviderError(400, "max_tokens: Field required (a positive integer)")
        info = resolve(model, state.model_table)
        if info is None or info.recording == "embedding":
            raise ProviderError(404, f"model: {model}")
        conv, rendered, prefixes, tools, forced = parse_request(body)
    except ProviderError as exc:
        return error_response("anthropic", exc.status, options, exc.message)

    total = count_tokens(rendered, info.requested) + 4 * len(body["messages"])
    creation, read = state.cache.anthropic_cached(info.requested, prefixes)
    tool = pick_tool(tools, forced, conv)
    c = complete(conv, info, options, max_tokens=max_tokens, tool=tool)
    ident = "msg_" + uuid.uuid4().hex[:24]
    usage = {
        "input_tokens": max(0, total - creation - read), "output_tokens": c.output_tokens,
        "cache_creation_input_tokens": creation, "cache_read_input_tokens": read,
        "cache_creation": {"ephemeral_5m_input_tokens": creation, "ephemeral_1h_input_tokens": 0},
        "server_tool_use": None, "service_tier": "standard",
    }
    message = {"id": ident, "type": "message", "role": "assistant", "model": info.requested,
               "content": _content(c), "stop_reason": STOP[c.finish], "stop_sequence": None, "usage": usage}
    headers = {"request-id": request_id(), **replay_headers(c)}
    if not body.get("stream"):
        return JSONResponse(message, headers=headers)
    return sse.stream(_frames(message, c, fault), options.chunk_delay_ms, headers)


def _frames(message: dict, c: Completion, fault):
    usage = message["usage"]
    start = dict(message, content=[], stop_reason=None, usage=dict(usage, output_tokens=1))
    yield sse.event({"type": "message_start", "message": start}, "message_start")
    sent = 0
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            first = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in split_chunks(block["text"]) if p]
        else:
            first = dict(block, input={})
            raw = json.dumps(block["input"], ensure_ascii=False)
            deltas = [{"type": "input_json_delta", "partial_json": raw[i:i + 12]} for i in range(0, len(raw), 12)]
        yield sse.event({"type": "content_block_start", "index": index, "content_block": first},
                        "content_block_start")
        if index == 0:
            yield sse.event({"type": "ping"}, "ping")
        for delta in deltas:
            if fault.break_after is not None and sent >= fault.break_after:
                if fault.break_mode == "drop":
                    raise sse.StreamBroken("stream dropped by fault injection")
                yield sse.event(anthropic_error_body(529), "error")
                return
            yield sse.event({"type": "content_block_delta", "index": index, "delta": delta}, "content_block_delta")
            sent += 1
        yield sse.event({"type": "content_block_stop", "index": index}, "content_block_stop")
    final_usage = {k: usage[k] for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                         "cache_read_input_tokens")}
    yield sse.event({"type": "message_delta",
                     "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                     "usage": final_usage}, "message_delta")
    yield sse.event({"type": "message_stop"}, "message_stop")


@router.post("/v1/messages/count_tokens")
async def count_message_tokens(request: Request) -> Response:
    """Input tokens a /v1/messages request would be billed for (before caching)."""
    state = request.app.state
    options = state.options
    fault = state.faults.for_request(request)
    try:
        body = await admit(request, "anthropic", options, fault)
        model = body.get("model")
        if not model or resolve(model, state.model_table) is None:
            raise ProviderError(404 if model else 400, f"model: {model}" if model else "model: Field required")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise ProviderError(400, "messages: Field required (a non-empty list)")
        _conv, rendered, _prefixes, _tools, _forced = parse_request(body)
    except ProviderError as exc:
        return error_response("anthropic", exc.status, options, exc.message)
    return JSONResponse({"input_tokens": count_tokens(rendered, model) + 4 * len(body["messages"])})
