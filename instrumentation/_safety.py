"""Our own bookkeeping must never break the host application.

:func:`internal_error` is called from every ``except`` around tokenproof's work (never around the
user's SDK call): it logs once per location, increments the instrumentation-errors counter and
returns, so the call proceeds unchanged. Only when ``TOKENPROOF_RAISE_INTERNAL_ERRORS`` is true
(tests set it) does it re-raise, so bugs surface in tests instead of being swallowed.
"""

from __future__ import annotations

import logging
from typing import Any

from tokenproof import settings

__all__ = ["internal_error", "reraise_enabled", "set_error_counter"]

logger = logging.getLogger("tokenproof.instrumentation")

settings.declare(
    "raise_internal_errors",
    bool,
    False,
    "Re-raise tokenproof's own instrumentation errors instead of logging them (tests only).",
)

_counter: Any = None
_logged: set[str] = set()


def set_error_counter(counter: Any) -> None:
    """Install the metric counter incremented per internal error (None to detach)."""
    global _counter
    _counter = counter


def internal_error(where: str, exc: BaseException) -> None:
    """Record a failure of tokenproof's own code; re-raise only when the setting asks for it."""
    try:
        if where not in _logged:
            _logged.add(where)
            logger.warning("tokenproof instrumentation error in %s (the call proceeds)", where, exc_info=exc)
        else:
            logger.debug("tokenproof instrumentation error in %s", where, exc_info=exc)
        if _counter is not None:
            _counter.add(1, {"location": where, "error.type": type(exc).__qualname__})
    except Exception:  # logging or the metrics SDK itself failed: nothing more we can do
        pass
    if reraise_enabled():
        raise exc


def reraise_enabled() -> bool:
    try:
        return bool(settings.get("raise_internal_errors"))
    except settings.SettingsError:  # a bad value was reported once at instrument(); never raise it here
        return False
