"""A stand-in small model for the optimiser's tests, served over the OpenAI wire format.

The replay server (``tokenproof provider``) answers from recordings and ignores the system prompt,
so it cannot show a prompt change doing anything. This stand-in plays an external candidate model
whose answers *do* depend on the system prompt: it solves a recorded GSM8K question (the gold answer)
but ends with the app's ``#### <number>`` line only when its system prompt asks for one. The same
server plays the optimiser (it proposes a prompt that asks for that line) and an LLM judge that
always answers a tie. Model names it serves are unpriced. Loopback, port 0.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI, Request

from tokenproof_devkit.provider.corpus import get_corpus
from tokenproof_devkit.provider.testing import bind_socket

PROPOSAL = "Solve the maths problem step by step. End with a final line of the form '#### <number>'."
_GOLD = re.compile(r"####\s*(-?[\d,]*\.?\d+)")


def _answer(messages: list[dict]) -> str:
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    if system.startswith("You improve system prompts"):
        return f"Here are my proposals.\n<prompt>{PROPOSAL}</prompt>\n<prompt>Be brief.</prompt>"
    if "[The Start of Assistant A's Answer]" in user:
        return "Both answers are equally good.\n[[C]]"
    record = get_corpus().find_prompt(user)
    gold = _GOLD.findall(record.reference or "")[-1] if record is not None and record.reference else "0"
    if "####" in system:
        return f"Working it out carefully.\n#### {gold}"
    return f"I reckon it comes to {gold} in the end."


def create_app() -> FastAPI:
    app = FastAPI()
    calls: list[dict] = []
    app.state.calls = calls

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict:
        body = await request.json()
        calls.append(body)
        text = _answer(body.get("messages") or [])
        return {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 10, "total_tokens": 60}}
    return app


@contextlib.contextmanager
def run_standin() -> Iterator[tuple[str, list[dict]]]:
    """(OpenAI base URL, the request bodies it received) while the block runs."""
    sock = bind_socket("127.0.0.1", 0)
    app = create_app()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1", app.state.calls
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
