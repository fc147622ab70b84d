"""Provider endpoints of the proof engine: service configuration, never request fields.

Shadow and judge calls go to endpoints the operator configured, with the service's own credentials
(the SDKs read ``OPENAI_API_KEY`` / ``ANTHROPIC_API_KEY``, or the keys set here). An API caller picks
an endpoint *by name* only; a URL in a request is refused, so no credential is ever sent to a URL a
caller chose (docs/proof.md "Endpoints").

- ``default``: ``proof_base_url`` / ``proof_anthropic_base_url`` (empty = the SDK's own default).
- more: ``proof_endpoints``, a list of ``name=https://openai-compatible/v1`` entries (their calls use
  ``proof_api_key`` or ``OPENAI_API_KEY``); Claude models always use the Anthropic endpoint.
"""

from __future__ import annotations

from tokenproof import settings
from tokenproof.analytics.proof.replay import Replayer

__all__ = ["UnknownEndpoint", "names", "replayer"]

settings.declare("proof_base_url", str, "", "OpenAI-compatible base URL for shadow and judge calls (empty = SDK default)")
settings.declare("proof_anthropic_base_url", str, "", "Anthropic base URL for shadow and judge calls (empty = SDK default)")
settings.declare("proof_api_key", str, "", "API key for the OpenAI-compatible endpoints (empty = OPENAI_API_KEY)")
settings.declare("proof_anthropic_api_key", str, "", "API key for the Anthropic endpoint (empty = ANTHROPIC_API_KEY)")


def _valid_endpoints(entries: list[str]) -> None:
    for entry in entries:
        name, sep, url = entry.partition("=")
        if not sep or not name.strip() or not url.strip().startswith(("http://", "https://")):
            raise ValueError(f"expected name=http(s)://url entries, got {entry!r}")


settings.declare("proof_endpoints", list, [], "extra named OpenAI-compatible endpoints: name=url, comma separated",
                 validate=_valid_endpoints)


class UnknownEndpoint(ValueError):
    """The caller named an endpoint the service does not configure."""


def _table() -> dict[str, tuple[str | None, str | None]]:
    table = {"default": (settings.get("proof_base_url") or None, settings.get("proof_anthropic_base_url") or None)}
    for entry in settings.get("proof_endpoints"):
        name, _, url = entry.partition("=")
        table[name.strip()] = (url.strip(), table["default"][1])
    return table


def names() -> list[str]:
    return sorted(_table())


def replayer(name: str = "default", feature: str | None = None) -> Replayer:
    """A :class:`Replayer` for a configured endpoint; :class:`UnknownEndpoint` for any other name."""
    table = _table()
    if name not in table:
        raise UnknownEndpoint(f"unknown endpoint {name!r}; configured: {', '.join(sorted(table))}")
    base_url, anthropic_url = table[name]
    return Replayer(base_url=base_url, anthropic_base_url=anthropic_url,
                    api_key=settings.get("proof_api_key") or None,
                    anthropic_api_key=settings.get("proof_anthropic_api_key") or None, feature=feature)
