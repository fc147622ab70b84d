"""SDK warnings keep pointing at the app's frames, not at tokenproof's wrapper frames.

The SDKs warn with ``warnings.warn(..., stacklevel=N)`` counted from their own method (anthropic's
deprecated-model warning in ``messages.create`` and ``messages.stream()``). Our wrapper frames sit
between the app and that method, so unchanged the warning would be blamed on tokenproof (and then
hidden by Python's default filters, or shown where it was not before). While tokenproof instruments,
the modules of the patched methods see a ``warnings`` module whose ``warn`` counts ``stacklevel``
past our frames: the warning lands on exactly the frame it lands on without tokenproof. Nothing
else changes: every other name is the real ``warnings`` module's.
"""

from __future__ import annotations

import os
import sys
import types
import warnings
from collections.abc import Iterable
from typing import Any

__all__ = ["restore_sdk_warnings", "route_sdk_warnings"]

_OURS = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _warn(message: Any, category: Any = None, stacklevel: int = 1, source: Any = None, **kwargs: Any) -> None:
    frame = sys._getframe(1)  # the SDK frame that warns: level 1
    level = 1
    remaining = stacklevel - 1
    while remaining > 0:
        back = frame.f_back
        if back is None:
            break
        frame = back
        level += 1
        if not frame.f_code.co_filename.startswith(_OURS):
            remaining -= 1
    warnings.warn(message, category, level + 1, source, **kwargs)  # +1: this frame


class _SdkWarnings(types.ModuleType):
    """``warnings`` as the patched SDK modules see it: the real module with our ``warn``."""

    warn = staticmethod(_warn)

    def __getattr__(self, name: str) -> Any:
        return getattr(warnings, name)


_SHIM = _SdkWarnings("warnings")
_routed: list[dict[str, Any]] = []


def route_sdk_warnings(functions: Iterable[Any]) -> None:
    """Give the modules defining ``functions`` (the patched SDK methods) the stacklevel-true ``warn``."""
    for fn in functions:
        namespace = getattr(fn, "__globals__", None)
        if isinstance(namespace, dict) and namespace.get("warnings") is warnings:
            namespace["warnings"] = _SHIM
            _routed.append(namespace)


def restore_sdk_warnings() -> None:
    while _routed:
        namespace = _routed.pop()
        if namespace.get("warnings") is _SHIM:
            namespace["warnings"] = warnings
