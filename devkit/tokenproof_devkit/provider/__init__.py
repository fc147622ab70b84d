"""Local OpenAI/Anthropic wire-compatible provider server answering with recorded real model outputs.

Entry points: ``tokenproof provider`` (``cli.py``), ``create_app(options)`` (``app.py``) and, for tests,
``run_provider(**options)`` (``testing.py``). See README.md (endpoints, model table, faults) and
JUDGE.md (the judge-mode contract). Data: ``data/`` (RouteLLM subset, Apache-2.0, see data/NOTICE).
"""

__all__ = ["ProviderOptions", "create_app", "run_provider"]


def __getattr__(name: str):
    if name == "create_app":
        from tokenproof_devkit.provider.app import create_app
        return create_app
    if name == "run_provider":
        from tokenproof_devkit.provider.testing import run_provider
        return run_provider
    if name == "ProviderOptions":
        from tokenproof_devkit.provider.options import ProviderOptions
        return ProviderOptions
    raise AttributeError(name)
