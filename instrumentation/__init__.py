"""tokenproof.instrumentation: the OpenTelemetry instrumentor for OpenAI and Anthropic SDK calls.

Public: :class:`TokenproofInstrumentor` (entry point ``tokenproof`` in the
``opentelemetry_instrumentor`` group) and :func:`set_redactor` (content-capture redaction hook).

Layout (private modules): ``_instrumentor`` patches the SDKs; ``_wrappers`` is the generic call path;
``_call`` one call's span, usage, cost and tags; ``_stream`` stream proxies; ``_openai`` /
``_anthropic`` provider adapters (the only provider-specific code, see ``_adapter``);
``_fingerprint`` prompt-template hashing; ``_content`` opt-in content capture; ``_metrics``
instruments; ``_safety`` internal-error handling; ``_runtime`` per-instrumentation state.

May import only OpenTelemetry, wrapt and the tokenproof core (settings, semconv, _tags, pricing,
tokens); the SDKs are imported only when patched.
"""

from __future__ import annotations

from ._content import set_redactor
from ._instrumentor import TokenproofInstrumentor

__all__ = ["TokenproofInstrumentor", "set_redactor"]
