"""The model catalogue: which provider serves a model, its family, how it is priced and called.

One place answers "which provider / family is this model" for pricing, the instrumentation, replay
and the judge's self-preference rule (see ``docs/pricing.md``):

- :func:`lookup` turns a model name as callers write it (plus, optionally, the provider name or
  the client's base URL) into a :class:`ModelInfo`: the ``gen_ai.provider.name`` value, the model
  family, the genai-prices provider id and model name to price it with, the SDK that speaks its
  API, and judge defaults (reasoning models take no temperature and need room to think).
- Namespaced names are recognised: ``openrouter/anthropic/claude-3.5-sonnet``, ``anthropic/claude-...``,
  Bedrock ``anthropic.claude-...-v1:0`` and ``us.anthropic.claude-...``, Vertex ``claude-...@date``,
  Fireworks ``accounts/fireworks/models/...``, fine-tunes ``ft:gpt-4o-mini-...:org:name:id``.
- Hosts of OpenAI-compatible endpoints are matched with genai-prices' own provider URL patterns
  (:func:`provider_for_url`); local and self-hosted servers map to no provider.

Only the family prefixes and the semconv names of genai-prices providers are written here; model
matching for prices is genai-prices' own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from genai_prices import data_snapshot

__all__ = [
    "ModelInfo",
    "family",
    "judge_max_tokens",
    "lookup",
    "pricing_provider_id",
    "provider_for_url",
    "same_family",
    "semconv_provider",
]

# gen_ai.provider.name (semconv values, plus the plain names of providers semconv does not list)
# -> genai-prices provider id. Names not listed here are looked up in genai-prices directly.
_PRICING_IDS: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "azure": "azure",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistral_ai": "mistral",
    "perplexity": "perplexity",
    "x_ai": "x-ai",
    "openrouter": "openrouter",
    "together": "together",
    "fireworks": "fireworks",
}
# genai-prices provider id -> gen_ai.provider.name, where they differ (others keep their id)
_SEMCONV_NAMES: dict[str, str] = {
    "aws": "aws.bedrock",
    "azure": "azure.ai.openai",
    "google": "gcp.gemini",
    "mistral": "mistral_ai",
    "x-ai": "x_ai",
    "openai-decisions": "openai",
}
# providers whose API is the OpenAI wire format (an ``openai`` client pointed at their URL)
_OPENAI_COMPATIBLE = frozenset({
    "openai", "azure.ai.openai", "deepseek", "groq", "openrouter", "together", "fireworks", "mistral_ai",
    "x_ai", "perplexity", "cerebras", "novita", "moonshotai", "zai", "avian", "baseten", "ovhcloud",
})

# family -> name prefixes (lower case), matched on the model's own name after any namespace
_FAMILY_PREFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gpt", ("gpt-", "gpt4", "gpt3", "gpt5", "chatgpt", "o1", "o3", "o4", "text-davinci", "davinci",
             "babbage", "text-embedding", "codex")),
    ("claude", ("claude",)),
    ("mistral", ("mistral", "mixtral", "ministral", "codestral", "magistral", "pixtral", "devstral",
                 "voxtral", "open-mistral", "open-mixtral")),
    ("llama", ("llama", "meta-llama", "codellama")),
    ("gemini", ("gemini", "gemma", "palm", "bison", "text-bison", "chat-bison")),
    ("qwen", ("qwen", "qwq")),
    ("deepseek", ("deepseek",)),
    ("command", ("command", "c4ai")),
    ("grok", ("grok",)),
    ("phi", ("phi-", "phi3", "phi4")),
    ("nova", ("nova-", "titan")),
    ("kimi", ("kimi", "moonshot")),
    ("glm", ("glm", "chatglm")),
)
# a namespace (vendor folder or Bedrock vendor) -> family, when the model's own name says nothing
_VENDOR_FAMILIES: dict[str, str] = {
    "openai": "gpt", "anthropic": "claude", "mistralai": "mistral", "mistral": "mistral",
    "meta-llama": "llama", "meta": "llama", "google": "gemini", "qwen": "qwen", "deepseek-ai": "deepseek",
    "deepseek": "deepseek", "cohere": "command", "x-ai": "grok", "xai": "grok", "microsoft": "phi",
    "amazon": "nova", "moonshotai": "kimi",
}
# family -> the provider that serves it when nothing else says (open-weight families have none)
_HOME_PROVIDERS: dict[str, str] = {
    "gpt": "openai", "claude": "anthropic", "gemini": "gcp.gemini", "mistral": "mistral_ai",
    "deepseek": "deepseek", "grok": "x_ai", "command": "cohere", "kimi": "moonshotai",
}
# folder prefixes that name the serving provider: "openrouter/anthropic/claude-3.5-sonnet"
_PROVIDER_FOLDERS: dict[str, str] = {
    "openrouter": "openrouter", "together": "together", "together_ai": "together", "groq": "groq",
    "deepseek": "deepseek", "fireworks_ai": "fireworks", "bedrock": "aws.bedrock", "vertex_ai": "gcp.vertex_ai",
    "azure": "azure.ai.openai", "mistral": "mistral_ai", "xai": "x_ai",
}
_FIREWORKS = re.compile(r"^accounts/[^/]+/models/(?P<name>[^/]+)$")
_BEDROCK = re.compile(
    r"^(?:(?:us|eu|apac|global|jp|au|ca|us-gov|in)\.)?"
    r"(?P<vendor>anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai|qwen|writer|moonshotai)\.(?P<name>.+)$"
)
_REASONING = re.compile(
    r"^(?:o[134](?:$|-)|gpt-5(?!(?:\.\d+)?-chat)|gpt-oss|deepseek-reasoner|deepseek-r1|qwq|magistral|grok-3-mini"
    r"|grok-4)"
)
_LOCAL_HOSTS = ("localhost", "127.0.0.1", "0.0.0.0", "::1", "[::1]", "host.docker.internal")
_VERTEX_HOST = "aiplatform.googleapis.com"

# A judge writes a short explanation before its verdict; a reasoning model spends tokens thinking first.
_JUDGE_MAX_TOKENS = 1024
_REASONING_JUDGE_MAX_TOKENS = 8192


@dataclass(frozen=True)
class ModelInfo:
    """What the catalogue knows about one model name (as given) at one provider."""

    name: str  # the name as given
    provider: str | None  # gen_ai.provider.name (None: unknown, e.g. a self-hosted server)
    family: str | None  # model lineage for the judge's self-preference rule ("gpt", "claude", ...)
    pricing_provider: str | None  # genai-prices provider id (None: match by model name)
    model: str  # the model name to price with (namespace removed where genai-prices needs it)
    sdk: str | None  # "openai" | "anthropic" | None: the SDK that speaks this provider's API
    reasoning: bool  # reasoning model: no judge temperature, larger token limit
    fine_tune: bool = False

    @property
    def judge_temperature(self) -> float | None:
        """Temperature for this model as a judge (None: do not send one; reasoning models refuse it)."""
        return None if self.reasoning else 0.0

    @property
    def judge_max_tokens(self) -> int:
        return judge_max_tokens(self.reasoning)


def judge_max_tokens(reasoning: bool) -> int:
    """Output-token budget of a judge call: a verdict with its explanation, or reasoning first."""
    return _REASONING_JUDGE_MAX_TOKENS if reasoning else _JUDGE_MAX_TOKENS


def pricing_provider_id(provider: str | None) -> str | None:
    """The genai-prices provider id for a ``gen_ai.provider.name`` (or genai-prices id); None if unknown."""
    if not provider:
        return None
    name = provider.strip().lower()
    mapped = _PRICING_IDS.get(name)
    if mapped is not None:
        return mapped
    found = data_snapshot.find_provider_by_id(data_snapshot.get_snapshot().providers, name)
    return found.id if found is not None else None


def semconv_provider(pricing_id: str) -> str:
    """The ``gen_ai.provider.name`` for a genai-prices provider id."""
    return _SEMCONV_NAMES.get(pricing_id, pricing_id)


@lru_cache(maxsize=512)
def _pricing_id_for_url(url: str) -> str | None:
    try:
        return data_snapshot.get_snapshot().find_provider(None, None, url).id
    except LookupError:
        return None


def _host(base_url: str) -> str:
    try:
        return (urlsplit(base_url if "//" in base_url else "https://" + base_url).hostname or "").lower()
    except ValueError:
        return ""


def pricing_provider_for_url(base_url: str | None) -> str | None:
    """The genai-prices provider id whose API URL pattern matches ``base_url`` (None: none does)."""
    if not base_url:
        return None
    url = str(base_url)
    if "//" not in url:
        url = "https://" + url
    return _pricing_id_for_url(url)


def provider_for_url(base_url: str | None) -> str | None:
    """``gen_ai.provider.name`` of the service at ``base_url``; None for local or unknown hosts.

    Matched with genai-prices' provider URL patterns (DeepSeek, Groq, OpenRouter, Together,
    Fireworks, Mistral, xAI, Azure, Bedrock, ...). A Google URL is ``gcp.vertex_ai`` for the Vertex
    AI host and ``gcp.gemini`` otherwise.
    """
    if not base_url:
        return None
    host = _host(str(base_url))
    if not host or host in _LOCAL_HOSTS or host.endswith(".local") or host.endswith(".internal"):
        return None
    pricing_id = pricing_provider_for_url(str(base_url))
    if pricing_id is None:
        return None
    if pricing_id == "google" and host.endswith(_VERTEX_HOST):
        return "gcp.vertex_ai"
    return semconv_provider(pricing_id)


def _family_of_name(name: str) -> str | None:
    for fam, prefixes in _FAMILY_PREFIXES:
        if name.startswith(prefixes):
            return fam
    return None


_DELIMITED = re.compile(r"[-_.]")


def _embedded_model(name: str) -> str | None:
    """A known model name inside a deployment name ("prod-gpt-4o" -> "gpt-4o"), for Azure."""
    for match in _DELIMITED.finditer(name):
        rest = name[match.end():]
        if _family_of_name(rest) is not None:
            return rest
    return None


@dataclass(frozen=True)
class _Parsed:
    provider: str | None  # provider implied by the name's namespace
    family: str | None
    bare: str  # the model's own name (no namespace, no fine-tune suffix)
    stripped: str  # the name without a provider folder (what that provider calls the model)
    fine_tune: bool


@lru_cache(maxsize=4096)
def _parse(model: str) -> _Parsed:
    name = model.strip().lower()
    provider: str | None = None
    fine_tune = False
    stripped = name
    if name.startswith("ft:"):  # ft:gpt-4o-mini-2024-07-18:org:name:id
        fine_tune = True
        name = name[3:].split(":", 1)[0]
    folder, sep, rest = name.partition("/")
    if sep and folder in _PROVIDER_FOLDERS and rest:
        provider = _PROVIDER_FOLDERS[folder]
        name = stripped = rest
    vendor: str | None = None
    match = _FIREWORKS.match(name)
    if match:
        provider = provider or "fireworks"
        name = match["name"]
    elif "/" in name:
        vendor, _, name = name.rpartition("/")
        vendor = vendor.rpartition("/")[2]
    else:
        match = _BEDROCK.match(name)
        if match:
            provider = provider or "aws.bedrock"
            vendor, name = match["vendor"], match["name"]
    if "@" in name:  # Vertex AI names carry the version after "@"
        name = name.partition("@")[0]
        provider = provider or "gcp.vertex_ai"
    if ".ft-" in name:  # older fine-tune spelling: gpt-4o-mini-2024-07-18.ft-<id>
        name = name.partition(".ft-")[0]
        fine_tune = True
    fam = _family_of_name(name)
    if fam is None and vendor is not None:
        fam = _VENDOR_FAMILIES.get(vendor)
    return _Parsed(provider, fam, name, stripped, fine_tune)


def family(model: str) -> str | None:
    """The model's family ("gpt", "claude", "mistral", "llama", "gemini", "qwen", "deepseek", ...)."""
    if not model:
        return None
    return _parse(model).family


def same_family(a: str, b: str) -> bool:
    """Both models are of one known family (a judge of that family prefers its own answers)."""
    fam = family(a)
    return fam is not None and fam == family(b)


def _priced_name(pricing_id: str | None, candidates: tuple[str, ...]) -> str | None:
    """The first candidate name genai-prices finds under ``pricing_id`` (None: none found)."""
    snapshot = data_snapshot.get_snapshot()
    for candidate in candidates:
        try:
            snapshot.find_provider_model(candidate, None, pricing_id, None)
        except LookupError:
            continue
        return candidate
    return None


@lru_cache(maxsize=4096)
def _lookup(model: str, provider: str | None, base_url: str | None) -> ModelInfo | None:
    parsed = _parse(model)
    url_provider = provider_for_url(base_url)
    chosen = provider or url_provider or parsed.provider or (
        _HOME_PROVIDERS.get(parsed.family) if parsed.family else None)
    pricing_id = pricing_provider_id(chosen)
    if pricing_id is None and base_url and url_provider is None:
        pricing_id = pricing_provider_for_url(base_url)
    original = model.strip()
    fam = parsed.family
    names = [original, parsed.stripped, parsed.bare]
    if chosen == "azure.ai.openai" and fam is None:  # deployment names are the user's own
        embedded = _embedded_model(parsed.bare)
        if embedded is not None:
            fam = _family_of_name(embedded)
            names.append(embedded)
    candidates = tuple(dict.fromkeys(names))
    priced = _priced_name(pricing_id, candidates)
    if chosen is None and priced is None:
        # nothing names a provider: let genai-prices match the model name itself
        snapshot = data_snapshot.get_snapshot()
        for candidate in candidates:
            try:
                found, _ = snapshot.find_provider_model(candidate, None, None, None)
            except LookupError:
                continue
            priced, pricing_id, chosen = candidate, found.id, semconv_provider(found.id)
            break
    if chosen is None and fam is None and priced is None:
        return None
    if chosen in _OPENAI_COMPATIBLE:
        sdk: str | None = "openai"
    elif chosen == "anthropic":
        sdk = "anthropic"
    else:
        sdk = None
    bare = parsed.bare
    return ModelInfo(
        name=model,
        provider=chosen,
        family=fam,
        pricing_provider=pricing_id,
        model=priced if priced is not None else (parsed.stripped if parsed.provider else original),
        sdk=sdk,
        reasoning=bool(_REASONING.match(bare)),
        fine_tune=parsed.fine_tune,
    )


def lookup(model: str, *, provider: str | None = None, base_url: str | None = None) -> ModelInfo | None:
    """What the catalogue knows about ``model`` served by ``provider`` or at ``base_url``.

    ``provider`` (a ``gen_ai.provider.name``) wins over the base URL's host, which wins over a
    namespace in the name (``openrouter/...``, Bedrock, Fireworks), which wins over the family's
    own provider. None when nothing about the name, provider or URL is known.
    """
    if not model or not model.strip():
        return None
    return _lookup(model, provider.strip().lower() if provider else None, str(base_url) if base_url else None)
