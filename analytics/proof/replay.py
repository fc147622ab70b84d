"""Replaying requests on a model through the real provider SDKs, tagged as experiment traffic.

A request is an OpenAI chat-completions body. :class:`Replayer` sends it, with the model swapped and
every other parameter (tools, response_format, temperature, max_tokens...) kept, through the
``openai`` SDK, or for Claude models through the ``anthropic`` SDK after a translation of the body.
Each call runs inside ``tokenproof.tag(traffic_class=...)`` (shadow for replays, judge for judge
calls) so the instrumentation counts it as experiment cost, never as product spend. Costs come from
``tokenproof.pricing``; an unknown price stays ``None`` (unpriced), never $0.

The two SDK adapters are the only place that knows a provider's wire shape.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from tokenproof import catalogue, pricing, semconv, tag
from tokenproof.analytics.proof.answer import Answer, ToolCall
from tokenproof.analytics.proof.judge import judge_sampling

__all__ = ["Replayer", "price_answer", "provider_of", "transient"]

# Provider-side failures that say nothing about an answer: rate limits, overload, server errors, an
# endpoint that cannot be reached or refuses the service's credentials. A timeout is not among them
# (a candidate too slow to answer has failed). The SDKs name them in ``Answer.error``'s prefix.
_TRANSIENT = ("RateLimitError", "InternalServerError", "APIConnectionError", "OverloadedError",
              "ServiceUnavailableError", "AuthenticationError", "PermissionDeniedError")
_TRANSIENT_CODE = re.compile(r"\bError code: (?:401|403|429|5\d\d)\b")


def transient(error: str | None) -> bool:
    """Whether a call's error is the provider's, not the answer's (retry later, do not judge)."""
    if not error:
        return False
    name = error.partition(":")[0].strip()
    if name == "APITimeoutError":
        return False
    return name in _TRANSIENT or bool(_TRANSIENT_CODE.search(error))


def provider_of(model: str) -> str:
    """The provider name a model is priced under (semconv values), from the model catalogue."""
    info = catalogue.lookup(model)
    return info.provider if info is not None and info.provider else "openai"


def price_answer(answer: Answer, *, batch: bool = False) -> None:
    """Price ``answer`` (``batch``: at the provider's Batch API rates)."""
    usage = pricing.Usage(input_tokens=answer.input_tokens, output_tokens=answer.output_tokens,
                          cache_read_tokens=min(answer.cache_read_tokens, answer.input_tokens))
    cost = pricing.price(provider_of(answer.model), answer.model, usage, batch=batch)
    answer.cost_usd = cost.usd


class _OpenAIAdapter:
    def __init__(self, base_url: str | None, api_key: str | None, timeout: float):
        import openai
        if api_key is None and base_url and not os.environ.get("OPENAI_API_KEY"):
            api_key = "not-needed"  # a local or self-hosted OpenAI-compatible server
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=2)
        self._known = set(inspect.signature(self.client.chat.completions.create).parameters)

    def send(self, body: dict, model: str) -> Answer:
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in body.items():
            if key in {"model", "stream", "stream_options", "n"}:
                continue
            (kwargs if key in self._known else extra)[key] = value
        if extra:
            kwargs["extra_body"] = extra
        response = self.client.chat.completions.create(model=model, **kwargs)
        choice = response.choices[0]
        message = choice.message
        usage = response.usage
        cached = 0
        if usage is not None and usage.prompt_tokens_details is not None:
            cached = usage.prompt_tokens_details.cached_tokens or 0
        return Answer(
            model=model,
            text=message.content or "",
            tool_calls=[ToolCall(c.function.name, c.function.arguments or "")
                        for c in (message.tool_calls or []) if getattr(c, "function", None)],
            finish_reason=choice.finish_reason,
            refusal=getattr(message, "refusal", None),
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            cache_read_tokens=cached,
        )


class _AnthropicAdapter:
    def __init__(self, base_url: str | None, api_key: str | None, timeout: float):
        import anthropic
        if api_key is None and base_url and not os.environ.get("ANTHROPIC_API_KEY"):
            api_key = "not-needed"
        self.client = anthropic.Anthropic(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=2)
        self._known = set(inspect.signature(self.client.messages.create).parameters)

    @staticmethod
    def translate(body: dict) -> dict:
        system, messages = [], []
        for message in body.get("messages") or []:
            role, content = message.get("role"), message.get("content")
            text = content if isinstance(content, str) else "\n".join(
                p.get("text", "") for p in content or [] if isinstance(p, dict))
            if role in {"system", "developer"}:
                system.append(text)
            elif role in {"user", "assistant"}:
                messages.append({"role": role, "content": text})
        kwargs: dict[str, Any] = {"messages": messages,
                                  "max_tokens": body.get("max_tokens") or body.get("max_completion_tokens") or 1024}
        if system:
            kwargs["system"] = "\n\n".join(system)
        for key in ("temperature", "top_p"):
            if body.get(key) is not None:
                kwargs[key] = body[key]
        if body.get("stop"):
            stop = body["stop"]
            kwargs["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if body.get("tools"):
            kwargs["tools"] = [{"name": t["function"]["name"], "description": t["function"].get("description", ""),
                                "input_schema": t["function"].get("parameters") or {"type": "object"}}
                               for t in body["tools"] if t.get("type") == "function"]
        return kwargs

    def send(self, body: dict, model: str) -> Answer:
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in self.translate(body).items():  # e.g. temperature: wire field, not an SDK argument
            (kwargs if key in self._known else extra)[key] = value
        if extra:
            kwargs["extra_body"] = extra
        response = self.client.messages.create(model=model, **kwargs)
        text = "".join(block.text for block in response.content if block.type == "text")
        calls = [ToolCall(block.name, json.dumps(block.input)) for block in response.content
                 if block.type == "tool_use"]
        finish = {"max_tokens": "length", "tool_use": "tool_calls", "end_turn": "stop",
                  "stop_sequence": "stop"}.get(response.stop_reason or "", response.stop_reason)
        usage = response.usage
        cache_read = getattr(usage, "cache_read_input_tokens", 0) or 0
        cache_write = getattr(usage, "cache_creation_input_tokens", 0) or 0
        return Answer(model=model, text=text, tool_calls=calls, finish_reason=finish,
                      refusal="refused" if response.stop_reason == "refusal" else None,
                      input_tokens=usage.input_tokens + cache_read + cache_write,
                      output_tokens=usage.output_tokens, cache_read_tokens=cache_read)


class Replayer:
    """Sends requests to models; thread-safe (one SDK client per adapter, created lazily)."""

    def __init__(self, base_url: str | None = None, anthropic_base_url: str | None = None,
                 api_key: str | None = None, anthropic_api_key: str | None = None,
                 timeout: float = 120.0, feature: str | None = None):
        self.base_url, self.anthropic_base_url = base_url, anthropic_base_url
        self.api_key, self.anthropic_api_key = api_key, anthropic_api_key
        self.timeout = timeout
        self.feature = feature
        self._adapters: dict[str, Any] = {}
        self._lock = threading.Lock()
        # called with the model before every call (a scheduler's per-provider rate limit)
        self.before_call: Callable[[str], None] | None = None

    def _adapter(self, model: str):
        info = catalogue.lookup(model)
        kind = "anthropic" if info is not None and info.sdk == "anthropic" else "openai"
        with self._lock:
            if kind not in self._adapters:
                if kind == "anthropic":
                    self._adapters[kind] = _AnthropicAdapter(self.anthropic_base_url, self.anthropic_api_key, self.timeout)
                else:
                    self._adapters[kind] = _OpenAIAdapter(self.base_url, self.api_key, self.timeout)
            return self._adapters[kind]

    def call(self, body: dict, model: str, traffic_class: str = semconv.TRAFFIC_SHADOW,
             feature: str | None = None) -> Answer:
        """One call; errors become ``Answer.error`` (a failed candidate call is a format loss)."""
        if self.before_call is not None:
            self.before_call(model)
        started = time.perf_counter()
        try:
            with tag(traffic_class=traffic_class, feature=feature or self.feature):
                answer = self._adapter(model).send(body, model)
        except Exception as exc:
            answer = Answer(model=model, error=f"{type(exc).__name__}: {exc}"[:500])
        answer.latency_s = time.perf_counter() - started
        price_answer(answer)
        return answer

    def judge(self, model: str, feature: str | None = None):
        """A judge function (``messages -> Answer``) with the judge model's own sampling settings."""
        sampling = judge_sampling(model)

        def run(messages: list[dict]) -> Answer:
            return self.call({"messages": messages, **sampling}, model,
                             traffic_class=semconv.TRAFFIC_JUDGE, feature=feature)
        return run


def answer_from_completion(completion: dict, model: str) -> Answer:
    """An :class:`Answer` from a recorded chat.completion JSON (e.g. a Batch API output line's body)."""
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    usage = completion.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    answer = Answer(
        model=completion.get("model") or model,
        text=message.get("content") or "",
        tool_calls=[ToolCall((c.get("function") or {}).get("name", ""), (c.get("function") or {}).get("arguments", ""))
                    for c in message.get("tool_calls") or []],
        finish_reason=choice.get("finish_reason"),
        refusal=message.get("refusal"),
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cache_read_tokens=int(details.get("cached_tokens") or 0),
        recorded=True,
    )
    price_answer(answer)
    return answer
