"""OpenAI Responses API (POST /v1/responses, JSON and SSE), embeddings and the model list."""

from __future__ import annotations

import base64
import json
import math
import random
import struct
import time
import uuid

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from tokenproof_devkit.provider import sse
from tokenproof_devkit.provider.answers import Conversation
from tokenproof_devkit.provider.completion import Completion, ToolSpec, complete, pick_tool, replay_headers
from tokenproof_devkit.provider.errors import ProviderError, error_response, openai_error_body, request_id
from tokenproof_devkit.provider.models import known_models
from tokenproof_devkit.provider.openai_chat import begin, content_text
from tokenproof_devkit.provider.text import split_chunks, stable_int
from tokenproof_devkit.provider.usage import count_tokens

router = APIRouter()


def _conversation(body: dict) -> tuple[Conversation, list[str]]:
    conv = Conversation(system=str(body.get("instructions") or ""))
    segments = [conv.system]
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if not isinstance(items, list) or not items:
        raise ProviderError(400, "'input' must be a string or a non-empty array.", "input")
    for item in items:
        if not isinstance(item, dict):
            raise ProviderError(400, "Each input item must be an object.", "input")
        kind = item.get("type", "message")
        if kind == "function_call_output":
            text, role = str(item.get("output") or ""), "tool"
        elif kind == "function_call":
            text, role = json.dumps({"name": item.get("name"), "arguments": item.get("arguments")}), "assistant"
        else:
            role, text = item.get("role", "user"), content_text(item.get("content"))
        if role in ("system", "developer"):
            conv.system += text + "\n"
        else:
            conv.turns.append((role, text))
        segments.append(f"<|{role}|>{text}")
    conv.last_is_tool_result = bool(conv.turns) and conv.turns[-1][0] == "tool"
    return conv, segments


def _tools(body: dict) -> tuple[list[ToolSpec], str | bool | None]:
    tools = [ToolSpec(t["name"], t.get("parameters") or {}) for t in body.get("tools") or []
             if isinstance(t, dict) and t.get("type") == "function" and t.get("name")]
    choice = body.get("tool_choice")
    if choice == "required":
        return tools, True
    if choice == "none":
        return [], None
    if isinstance(choice, dict):
        return tools, choice.get("name") or True
    return tools, None


def _output(c: Completion, reasoning: bool) -> list[dict]:
    items = []
    if reasoning:
        items.append({"id": "rs_" + uuid.uuid4().hex[:24], "type": "reasoning", "summary": []})
    if c.tool_calls:
        items += [{"id": "fc_" + uuid.uuid4().hex[:24], "type": "function_call", "call_id": t.id,
                   "name": t.name, "arguments": t.arguments, "status": "completed"} for t in c.tool_calls]
    else:
        items.append({"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "status": "completed",
                      "role": "assistant",
                      "content": [{"type": "output_text", "text": c.text, "annotations": [], "logprobs": []}]})
    return items


@router.post("/v1/responses")
async def responses(request: Request) -> Response:
    state = request.app.state
    options = state.options
    try:
        body, info, fault = await begin(request)
        conv, segments = _conversation(body)
        tools, forced = _tools(body)
    except ProviderError as exc:
        return error_response("openai", exc.status, options, exc.message, exc.param)
    fmt = ((body.get("text") or {}).get("format") or {})
    json_mode = fmt.get("type") in ("json_object", "json_schema")
    schema = fmt.get("schema") if fmt.get("type") == "json_schema" else None
    segments = [json.dumps({"tools": body.get("tools"), "text": body.get("text")}, sort_keys=True), *segments]
    prompt_tokens = count_tokens("".join(segments), info.requested) + 3 * len(segments)
    cached = state.cache.openai_cached(info.requested, segments)
    c = complete(conv, info, options, max_tokens=body.get("max_output_tokens"),
                 tool=pick_tool(tools, forced, conv), json_mode=json_mode, json_schema=schema)
    incomplete = c.finish == "length"
    response = {
        "id": "resp_" + uuid.uuid4().hex[:40], "object": "response", "created_at": int(time.time()),
        "status": "incomplete" if incomplete else "completed", "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
        "model": info.requested, "output": _output(c, info.reasoning), "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"), "reasoning": {"effort": None, "summary": None},
        "store": bool(body.get("store", True)), "temperature": body.get("temperature", 1.0),
        "text": {"format": fmt or {"type": "text"}}, "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [], "top_p": body.get("top_p", 1.0), "truncation": "disabled",
        "metadata": body.get("metadata") or {}, "service_tier": "default", "user": None,
        "usage": {"input_tokens": prompt_tokens, "input_tokens_details": {"cached_tokens": cached},
                  "output_tokens": c.output_tokens,
                  "output_tokens_details": {"reasoning_tokens": c.reasoning_tokens},
                  "total_tokens": prompt_tokens + c.output_tokens},
    }
    headers = {"x-request-id": request_id(), **replay_headers(c)}
    if not body.get("stream"):
        return JSONResponse(response, headers=headers)
    return sse.stream(_frames(response, fault), options.chunk_delay_ms, headers)


def _frames(response: dict, fault):
    seq = 0

    def ev(kind: str, **data) -> str:
        nonlocal seq
        frame = sse.event(dict(type=kind, sequence_number=seq, **data), kind)
        seq += 1
        return frame

    pending = dict(response, status="in_progress", output=[], usage=None, incomplete_details=None)
    yield ev("response.created", response=pending)
    yield ev("response.in_progress", response=pending)
    sent = 0
    for index, item in enumerate(response["output"]):
        if item["type"] == "message":
            yield ev("response.output_item.added", output_index=index,
                     item=dict(item, status="in_progress", content=[]))
            part = item["content"][0]
            yield ev("response.content_part.added", item_id=item["id"], output_index=index, content_index=0,
                     part=dict(part, text=""))
            for piece in split_chunks(part["text"]) if part["text"] else []:
                if fault.break_after is not None and sent >= fault.break_after:
                    if fault.break_mode == "drop":
                        raise sse.StreamBroken("stream dropped by fault injection")
                    yield sse.event(openai_error_body(500, "The server had an error while streaming."), "error")
                    return
                yield ev("response.output_text.delta", item_id=item["id"], output_index=index,
                         content_index=0, delta=piece, logprobs=[])
                sent += 1
            yield ev("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                     text=part["text"], logprobs=[])
            yield ev("response.content_part.done", item_id=item["id"], output_index=index, content_index=0,
                     part=part)
        elif item["type"] == "function_call":
            yield ev("response.output_item.added", output_index=index,
                     item=dict(item, arguments="", status="in_progress"))
            yield ev("response.function_call_arguments.delta", item_id=item["id"], output_index=index,
                     delta=item["arguments"])
            yield ev("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                     arguments=item["arguments"])
        else:
            yield ev("response.output_item.added", output_index=index, item=item)
        yield ev("response.output_item.done", output_index=index, item=item)
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    yield ev(final, response=response)


def embedding_vector(text: str, dims: int) -> list[float]:
    """A deterministic unit vector for ``text`` (seeded from a stable hash)."""
    rng = random.Random(stable_int("embedding", text))
    vec = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


@router.post("/v1/embeddings")
async def embeddings(request: Request) -> Response:
    state = request.app.state
    options = state.options
    try:
        body, info, _fault = await begin(request)
        if info.recording != "embedding":
            raise ProviderError(400, f"{info.requested} does not support embeddings.", "model")
        raw = body.get("input")
        if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            raise ProviderError(400, "'input' must be a string or a non-empty array.", "input")
        dims = int(body.get("dimensions") or info.embedding_dims)
    except ProviderError as exc:
        return error_response("openai", exc.status, options, exc.message, exc.param)
    texts = [item if isinstance(item, str) else " ".join(map(str, item)) for item in raw]
    tokens = sum(count_tokens(t, "text-embedding-3-small") if isinstance(item, str) else len(item)
                 for t, item in zip(texts, raw, strict=False))
    data = []
    for i, text in enumerate(texts):
        vec = embedding_vector(text, dims)
        if body.get("encoding_format") == "base64":
            value = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode("ascii")
        else:
            value = vec
        data.append({"object": "embedding", "index": i, "embedding": value})
    return JSONResponse({"object": "list", "data": data, "model": info.requested,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
                        headers={"x-request-id": request_id()})


@router.get("/v1/models")
async def models(request: Request) -> Response:
    created = 1_700_000_000
    return JSONResponse({"object": "list", "data": [
        {"id": name, "object": "model", "created": created, "owned_by": "tokenproof-replay"}
        for name in known_models(request.app.state.model_table)]})
