"""Settings: each declared once with its environment variable, type and default.

Precedence: explicit argument > environment variable > config file > default. The config file is
TOML, found at ``$TOKENPROOF_CONFIG`` or ``./tokenproof.toml``; keys are the setting names, either at
top level or under a ``[tokenproof]`` table. A bad value raises ``SettingsError`` naming the setting
and where the value came from. ``check()`` validates every declared setting at once and returns the
problems instead of raising: the instrumentation calls it once at start-up and, on any problem,
disables itself with one warning rather than ever raising into the host application.

Each area declares its own settings next to its code with ``declare(...)`` (so the instrumentation
does not import the collector's settings) and reads them with ``get(name)``.
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Setting", "SettingsError", "check", "declare", "describe", "get", "reset_cache"]


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the setting and its source."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _parse_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


_PARSERS: dict[type, Callable[[str], Any]] = {
    bool: _parse_bool,
    int: int,
    float: float,
    str: str,
    list: _parse_list,
}


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    type: type
    default: Any
    help: str
    validate: Callable[[Any], None] | None = None

    def parse(self, raw: Any, source: str) -> Any:
        try:
            if isinstance(raw, str):
                value = _PARSERS[self.type](raw)
            elif self.type is float and isinstance(raw, int) and not isinstance(raw, bool):
                value = float(raw)
            elif self.type is list and isinstance(raw, (list, tuple)):
                value = [str(v) for v in raw]
            elif isinstance(raw, self.type) and not (self.type is int and isinstance(raw, bool)):
                value = raw
            else:
                raise ValueError(f"expected {self.type.__name__}, got {type(raw).__name__}")
            if self.validate is not None:
                self.validate(value)
        except (ValueError, TypeError) as exc:
            raise SettingsError(f"setting {self.name!r} from {source}: {exc}") from None
        return value


_REGISTRY: dict[str, Setting] = {}
_lock = threading.Lock()
_file_cache: dict[str, Any] | None = None


def declare(
    name: str,
    type: type,
    default: Any,
    help: str,
    env: str | None = None,
    validate: Callable[[Any], None] | None = None,
) -> Setting:
    """Declare a setting once; re-declaring the same name with the same env is a no-op."""
    setting = Setting(name, env or f"TOKENPROOF_{name.upper()}", type, default, help, validate)
    with _lock:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.env != setting.env:
            raise SettingsError(f"setting {name!r} declared twice with different env vars")
        _REGISTRY[name] = setting
    return setting


def _config_file() -> dict[str, Any]:
    global _file_cache
    if _file_cache is None:
        path = Path(os.environ.get("TOKENPROOF_CONFIG", "tokenproof.toml"))
        data: dict[str, Any] = {}
        if path.is_file():
            try:
                loaded = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise SettingsError(f"config file {path}: {exc}") from None
            data = dict(loaded.get("tokenproof", loaded))
        _file_cache = data
    return _file_cache


def reset_cache() -> None:
    """Forget the parsed config file (tests change TOKENPROOF_CONFIG)."""
    global _file_cache
    _file_cache = None


def get(name: str, override: Any = None) -> Any:
    """The value of a declared setting: override > environment > config file > default."""
    try:
        setting = _REGISTRY[name]
    except KeyError:
        raise SettingsError(f"unknown setting {name!r}") from None
    if override is not None:
        return setting.parse(override, "argument")
    raw = os.environ.get(setting.env)
    if raw is not None:
        return setting.parse(raw, f"environment variable {setting.env}")
    file_values = _config_file()
    if name in file_values:
        return setting.parse(file_values[name], "config file")
    return setting.default


def check(names: list[str] | None = None) -> list[str]:
    """Every problem with the declared settings (or ``names``), one message each; [] when all are valid."""
    problems: list[str] = []
    try:
        _config_file()
    except SettingsError as exc:
        return [str(exc)]  # every value read after this would raise the same error
    for name in names if names is not None else sorted(_REGISTRY):
        try:
            get(name)
        except SettingsError as exc:
            problems.append(str(exc))
    return problems


def describe() -> list[Setting]:
    """Every declared setting, for `tokenproof settings` and the docs."""
    return sorted(_REGISTRY.values(), key=lambda s: s.name)
