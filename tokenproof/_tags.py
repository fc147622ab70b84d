"""Business tags (feature, tier, customer, traffic class) attached to every LLM span.

Three sources, highest precedence first:

1. ``tokenproof.tag(feature=..., ...)`` — a context manager and decorator (sync and async
   functions). Tags live in a :mod:`contextvars` variable, so threads and asyncio tasks never see
   each other's tags; nested ``tag()`` blocks override the outer values and restore them on exit.
2. W3C baggage set by an upstream service: keys ``tokenproof.feature``, ``tokenproof.tier``,
   ``tokenproof.customer``, ``tokenproof.traffic_class``.
3. Defaults from settings / environment (``TOKENPROOF_DEFAULT_FEATURE``, ``..._TIER``,
   ``..._CUSTOMER``, ``..._TRAFFIC_CLASS``), read once (again at each ``instrument()`` or
   :func:`refresh_defaults`), not per call.

Imports only the core (settings, semconv) and the OpenTelemetry API.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from opentelemetry import baggage

from tokenproof import semconv, settings

__all__ = ["Tags", "current_tags", "refresh_defaults", "tag"]

F = TypeVar("F", bound=Callable[..., Any])


class Tags(NamedTuple):
    """The resolved business tags of one call (None = not set)."""

    feature: str | None = None
    tier: str | None = None
    customer: str | None = None
    traffic_class: str | None = None


_FIELDS = Tags._fields
_EMPTY = Tags()
_BAGGAGE_KEYS = (
    semconv.BAGGAGE_FEATURE,
    semconv.BAGGAGE_TIER,
    semconv.BAGGAGE_CUSTOMER,
    semconv.BAGGAGE_TRAFFIC_CLASS,
)
_DEFAULT_SETTINGS = ("default_feature", "default_tier", "default_customer", "default_traffic_class")


def _validate_traffic_class(value: str) -> None:
    if value and value not in semconv.TRAFFIC_CLASSES:
        raise ValueError(f"expected one of {', '.join(semconv.TRAFFIC_CLASSES)}, got {value!r}")


settings.declare("default_feature", str, "", "Feature tag of LLM calls that set none.")
settings.declare("default_tier", str, "", "Tier tag of LLM calls that set none.")
settings.declare("default_customer", str, "", "Customer tag of LLM calls that set none.")
settings.declare(
    "default_traffic_class", str, "", "Traffic class of LLM calls that set none (empty = product).",
    validate=_validate_traffic_class,
)

_defaults: Tags | None = None


def refresh_defaults() -> Tags:
    """Re-read the default tags from settings (the instrumentor calls this at ``instrument()``)."""
    global _defaults
    values = [settings.get(name) or None for name in _DEFAULT_SETTINGS]
    if values[3] is not None and values[3] not in semconv.TRAFFIC_CLASSES:
        values[3] = None
    _defaults = Tags(*values)
    return _defaults


_current: contextvars.ContextVar[Tags] = contextvars.ContextVar("tokenproof_tags", default=_EMPTY)


class tag:
    """Set business tags for the LLM calls made inside a ``with`` block or a decorated function.

    Unset keywords (None) keep the outer value. Works as a decorator of sync and async functions;
    each call of a decorated function gets the tags for its own duration only.
    """

    __slots__ = ("_tokens", "_values")

    def __init__(
        self,
        feature: str | None = None,
        tier: str | None = None,
        customer: str | None = None,
        traffic_class: str | None = None,
    ) -> None:
        if traffic_class is not None:
            try:
                _validate_traffic_class(traffic_class)
            except ValueError as exc:
                raise ValueError(f"tokenproof.tag(traffic_class=...): {exc}") from None
        self._values = Tags(
            None if feature is None else str(feature),
            None if tier is None else str(tier),
            None if customer is None else str(customer),
            traffic_class,
        )
        self._tokens: list[contextvars.Token[Tags]] = []

    def _merged(self) -> Tags:
        outer = _current.get()
        return Tags(*(mine if mine is not None else theirs for mine, theirs in zip(self._values, outer, strict=False)))

    def __enter__(self) -> Tags:
        merged = self._merged()
        self._tokens.append(_current.set(merged))
        return merged

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._tokens.pop())

    async def __aenter__(self) -> Tags:
        return self.__enter__()

    async def __aexit__(self, *exc: object) -> None:
        self.__exit__(*exc)

    def __call__(self, func: F) -> F:
        values = self._values
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with tag(*values):
                    return await func(*args, **kwargs)

            return async_wrapper  # type: ignore[return-value]

        if inspect.isasyncgenfunction(func) or inspect.isgeneratorfunction(func):
            raise TypeError("tokenproof.tag cannot decorate generators; use it as a context manager")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with tag(*values):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def current_tags() -> Tags:
    """The tags for a call made now: tag() > W3C baggage > settings defaults."""
    explicit = _current.get()
    if None not in explicit:
        return explicit
    defaults = _defaults if _defaults is not None else refresh_defaults()
    entries = baggage.get_all()
    if not entries:
        if explicit is _EMPTY:
            return defaults
        return Tags(*(mine if mine is not None else default for mine, default in zip(explicit, defaults, strict=False)))
    values = list(explicit)
    for i, value in enumerate(values):
        if value is None:
            found = entries.get(_BAGGAGE_KEYS[i])
            values[i] = str(found) if found else defaults[i]
    if values[3] is not None and values[3] not in semconv.TRAFFIC_CLASSES:
        values[3] = None  # an unknown class from baggage is ignored rather than recorded
    return Tags(*values)
