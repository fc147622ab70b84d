"""Server-sent events framing and the streaming response used by both providers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterable

from starlette.responses import StreamingResponse


class StreamBroken(Exception):
    """Raised inside a stream body to cut the connection (``stream_break_mode='drop'``)."""


class _HideInjectedDrops(logging.Filter):
    """Keep uvicorn's error log quiet about connections we cut on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], StreamBroken))


def install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideInjectedDrops) for f in logger.filters):
        logger.addFilter(_HideInjectedDrops())


def event(data: dict | str, name: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {payload}\n\n"


def stream(frames: Iterable[str], delay_ms: float = 0.0, headers: dict | None = None) -> StreamingResponse:
    """Stream pre-built SSE frames (a StreamBroken raised by the iterator drops the connection)."""

    async def body() -> AsyncIterator[bytes]:
        for frame in frames:
            if delay_ms:
                await asyncio.sleep(delay_ms / 1000.0)
            yield frame.encode("utf-8")

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", **(headers or {})})
