"""Exports of the routed routes for other gateways: a LiteLLM router config.

LiteLLM routes by model group only. Each canary or active route becomes the group
``tp-<route id>`` with two deployments weighted by the route's traffic share (candidate and
baseline, LiteLLM's ``weight`` with the default simple-shuffle strategy) and a fallback to the group
``tp-<route id>-baseline``. A route that matches on its baseline model alone (no feature, no
fingerprint) is also exported under the baseline's own name, so unchanged apps calling that model
are routed. Feature- or fingerprint-specific routes cannot be expressed in LiteLLM's config: the app
(or a LiteLLM pre-call hook) must call their ``tp-`` group for matching requests.
"""

from __future__ import annotations

from typing import Any

from tokenproof.analytics.routing.model import ROUTED_STATES

__all__ = ["litellm_config"]

_PREFIX = {"openai": "openai", "azure.ai.openai": "azure", "anthropic": "anthropic"}


def _model(provider: str, model: str) -> str:
    return f"{_PREFIX.get(provider, provider)}/{model}"


def litellm_config(routes: list[dict[str, Any]], provider: str = "openai") -> dict[str, Any]:
    """``model_list`` and ``router_settings`` (with fallbacks) for the routes that move traffic."""
    model_list: list[dict[str, Any]] = []
    fallbacks: list[dict[str, list[str]]] = []
    for route in routes:
        if route["state"] not in ROUTED_STATES:
            continue
        share = max(0.0, min(1.0, float(route["traffic_share"])))
        baseline, candidate = route["match"]["baseline"], route["candidate"]
        group = f"tp-{route['id']}"
        names = [group]
        if not route["match"]["feature"] and not route["match"]["fingerprint"]:
            names.append(baseline)
        for name in names:
            info = {"id": f"{name}-candidate", "tokenproof_route_id": route["id"],
                    "tokenproof_route_version": route["version"]}
            model_list.append({"model_name": name, "litellm_params": {
                "model": _model(provider, candidate), "weight": round(share * 1000) or 1}, "model_info": info})
            if share < 1.0:
                model_list.append({"model_name": name, "litellm_params": {
                    "model": _model(provider, baseline), "weight": round((1 - share) * 1000) or 1},
                    "model_info": {**info, "id": f"{name}-baseline-share"}})
            fallbacks.append({name: [f"{group}-baseline"]})
        model_list.append({"model_name": f"{group}-baseline", "litellm_params": {"model": _model(provider, baseline)},
                           "model_info": {"id": f"{group}-baseline", "tokenproof_route_id": route["id"]}})
    return {"model_list": model_list,
            "router_settings": {"routing_strategy": "simple-shuffle", "num_retries": 0, "fallbacks": fallbacks},
            "litellm_settings": {"drop_params": False}}
