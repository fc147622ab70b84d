"""``TokenproofInstrumentor``: the OpenTelemetry entry point (``opentelemetry_instrumentor`` group).

Patches, for whichever of ``openai`` / ``anthropic`` is installed, the methods listed in
:data:`TARGETS` with wrapt ``FunctionWrapper`` objects set on the resource classes, and restores
exactly the original functions on ``uninstrument()`` (even when another instrumentation wrapped the
same method on top of ours later: we splice ourselves out of its chain).

Every setting is validated once, at ``instrument()``: an invalid one (or a broken ``tokenproof.toml``)
disables tokenproof alone with one warning; it never raises into OpenTelemetry's auto-initialisation
or into an SDK call.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Callable, Collection
from typing import Any, NamedTuple

import wrapt
from opentelemetry import _logs, metrics, trace
from opentelemetry.instrumentation.dependencies import DependencyConflict, get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]  # mypy misreads this module

from tokenproof import semconv, settings

from . import _runtime
from ._anthropic import MessagesAdapter
from ._metrics import Instruments
from ._openai import ChatAdapter, CompletionsAdapter, EmbeddingsAdapter, ResponsesAdapter
from ._routing import Router
from ._safety import reraise_enabled, set_error_counter
from ._sdk import PostRouter
from ._warnings import restore_sdk_warnings, route_sdk_warnings
from ._wrappers import call_wrapper, manager_wrapper, post_wrapper, request_manager_wrapper

__all__ = ["TARGETS", "TokenproofInstrumentor"]

logger = logging.getLogger("tokenproof.instrumentation")
_VERSION = "0.1.0"
_INSTRUMENTS = ("openai >= 1.0.0, < 4", "anthropic >= 0.30")

_chat, _responses, _embeddings, _messages = ChatAdapter(), ResponsesAdapter(), EmbeddingsAdapter(), MessagesAdapter()
_completions = CompletionsAdapter()


class Target(NamedTuple):
    module: str
    cls: str
    method: str
    wrapper: Callable[..., Any]


def _calls(module: str, sync_cls: str, async_cls: str, method: str, adapter: Any) -> list[Target]:
    return [
        Target(module, sync_cls, method, call_wrapper(adapter, False)),
        Target(module, async_cls, method, call_wrapper(adapter, True)),
    ]


# (module, class, method, wrapper). Modules that do not exist in the installed SDK version are skipped.
TARGETS: list[Target] = [
    *_calls("openai.resources.chat.completions", "Completions", "AsyncCompletions", "create", _chat),
    *_calls("openai.resources.chat.completions", "Completions", "AsyncCompletions", "parse", _chat),
    Target("openai.resources.chat.completions", "Completions", "stream", manager_wrapper),
    Target("openai.resources.chat.completions", "AsyncCompletions", "stream", manager_wrapper),
    # openai 1.x kept parse()/stream() under beta
    *_calls("openai.resources.beta.chat.completions", "Completions", "AsyncCompletions", "parse", _chat),
    Target("openai.resources.beta.chat.completions", "Completions", "stream", manager_wrapper),
    Target("openai.resources.beta.chat.completions", "AsyncCompletions", "stream", manager_wrapper),
    *_calls("openai.resources.responses", "Responses", "AsyncResponses", "create", _responses),
    *_calls("openai.resources.responses", "Responses", "AsyncResponses", "parse", _responses),
    Target("openai.resources.responses", "Responses", "stream", manager_wrapper),
    Target("openai.resources.responses", "AsyncResponses", "stream", manager_wrapper),
    *_calls("openai.resources.embeddings", "Embeddings", "AsyncEmbeddings", "create", _embeddings),
    *_calls("openai.resources.completions", "Completions", "AsyncCompletions", "create", _completions),
    *_calls("anthropic.resources.messages", "Messages", "AsyncMessages", "create", _messages),
    *_calls("anthropic.resources.messages", "Messages", "AsyncMessages", "parse", _messages),
    Target("anthropic.resources.messages", "Messages", "stream", request_manager_wrapper(_messages, False)),
    Target("anthropic.resources.messages", "AsyncMessages", "stream", request_manager_wrapper(_messages, True)),
    # the beta resource (langchain-anthropic uses it whenever `betas` are given)
    *_calls("anthropic.resources.beta.messages", "Messages", "AsyncMessages", "create", _messages),
    *_calls("anthropic.resources.beta.messages", "Messages", "AsyncMessages", "parse", _messages),
    Target("anthropic.resources.beta.messages", "Messages", "stream", request_manager_wrapper(_messages, False)),
    Target("anthropic.resources.beta.messages", "AsyncMessages", "stream", request_manager_wrapper(_messages, True)),
    # the clients' generic post(), for callers that bypass the resource methods (LiteLLM's OpenAI
    # handler): keyed by request path; a post made by a wrapped method above passes through
    *[Target(f"{sdk}._base_client", cls, "post", post_wrapper(router, cls.startswith("Async")))
      for sdk, router in (
          ("openai", PostRouter({"/chat/completions": _chat, "/responses": _responses, "/embeddings": _embeddings,
                                 "/completions": _completions})),
          ("anthropic", PostRouter({"/v1/messages": _messages})),
      )
      for cls in ("SyncAPIClient", "AsyncAPIClient")],
]


_PROXY = getattr(wrapt, "BaseObjectProxy", wrapt.ObjectProxy)  # the C base of every wrapt proxy (1.x and 2.x)


class _Wrapper(wrapt.FunctionWrapper):
    """A FunctionWrapper we can recognise in a chain of wrappers."""


def _is_ours(obj: Any) -> bool:
    # type(), not isinstance() or getattr(): a wrapt proxy forwards both to the object it wraps.
    return type(obj) is _Wrapper


def _unpatch(cls: type, name: str) -> bool:
    current = cls.__dict__.get(name)
    if current is None:
        return False
    if _is_ours(current):
        setattr(cls, name, current.__wrapped__)
        return True
    node = current  # someone wrapped on top of us (wrapt proxies): splice ourselves out of their chain
    while isinstance(node, _PROXY):
        inner = node.__wrapped__
        if _is_ours(inner):
            node.__wrapped__ = inner.__wrapped__
            return True
        node = inner
    return False


class TokenproofInstrumentor(BaseInstrumentor):
    """Priced, tagged GenAI spans for every OpenAI and Anthropic call (sync, async, streamed)."""

    _patched: list[tuple[type, str]]

    def instrumentation_dependencies(self) -> Collection[str]:
        """The SDKs we instrument; any one of them is enough (see ``_check_dependency_conflicts``)."""
        return _INSTRUMENTS

    def _check_dependency_conflicts(self) -> DependencyConflict | None:
        return get_dependency_conflicts((), deps_any=_INSTRUMENTS)

    def _instrument(self, **kwargs: Any) -> None:
        # Called by OpenTelemetry's auto-initialisation among other instrumentations: nothing here may
        # raise, or every instrumentation of the process is lost. A bad setting disables us alone.
        self._patched = []
        problems = settings.check()
        if problems:
            logger.warning("tokenproof instrumentation disabled (the application runs uninstrumented by "
                           "tokenproof): %s", "; ".join(problems))
            return
        try:
            self._install(**kwargs)
        except Exception:
            logger.warning("tokenproof instrumentation disabled: it failed to start", exc_info=True)
            with contextlib.suppress(Exception):
                self._uninstrument()
            if reraise_enabled():
                raise

    def _install(self, **kwargs: Any) -> None:
        tracer = trace.get_tracer(
            semconv.INSTRUMENTATION_SCOPE, _VERSION, tracer_provider=kwargs.get("tracer_provider")
        )
        meter = metrics.get_meter(semconv.INSTRUMENTATION_SCOPE, _VERSION, meter_provider=kwargs.get("meter_provider"))
        instruments = Instruments(meter)
        set_error_counter(instruments.errors)
        event_logger = _logs.get_logger(semconv.INSTRUMENTATION_SCOPE, _VERSION,
                                        logger_provider=kwargs.get("logger_provider"))
        runtime = _runtime.Runtime(tracer, instruments, event_logger)
        routing_options = {k: kwargs[k] for k in ("routes_url", "routes_cache_path", "routes_poll_seconds", "service")
                           if kwargs.get(k) is not None}
        try:  # routing is an optimisation: without it every request goes to its baseline as written
            runtime.router = Router.from_settings(kwargs.get("tracer_provider"), **routing_options)
            if runtime.router is not None:
                runtime.router.start()
        except Exception:
            if reraise_enabled():
                raise
            logger.warning("tokenproof routing disabled: the routes could not be loaded", exc_info=True)
            runtime.router = None
        _runtime.install(runtime)
        for target in TARGETS:
            try:
                module = importlib.import_module(target.module)
            except ImportError:
                continue
            cls = getattr(module, target.cls, None)
            original = cls.__dict__.get(target.method) if cls is not None else None
            if cls is None or original is None or _is_ours(original):
                continue
            setattr(cls, target.method, _Wrapper(original, target.wrapper))
            self._patched.append((cls, target.method))
        # their warnings.warn(..., stacklevel=N) must keep pointing at the app's frames
        route_sdk_warnings(cls.__dict__[name].__wrapped__ for cls, name in self._patched)

    def _uninstrument(self, **kwargs: Any) -> None:
        for cls, name in getattr(self, "_patched", []):
            if not _unpatch(cls, name):
                logger.warning("tokenproof could not restore %s.%s", cls.__qualname__, name)
        self._patched = []
        restore_sdk_warnings()
        runtime = _runtime.get()
        if runtime is not None and runtime.router is not None:
            runtime.router.stop()
        _runtime.clear()
        set_error_counter(None)
