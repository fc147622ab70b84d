"""The provider's FastAPI app: OpenAI and Anthropic routes over the recorded corpus."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import JSONResponse

from tokenproof_devkit.provider import sse
from tokenproof_devkit.provider.anthropic_routes import router as anthropic_router
from tokenproof_devkit.provider.faults import FaultPlan
from tokenproof_devkit.provider.models import parse_model_map
from tokenproof_devkit.provider.openai_chat import router as chat_router
from tokenproof_devkit.provider.openai_responses import router as responses_router
from tokenproof_devkit.provider.options import ProviderOptions
from tokenproof_devkit.provider.usage import PromptCache


def create_app(options: ProviderOptions | None = None, **kwargs) -> FastAPI:
    """Build the app; ``options`` or keyword options (see ``ProviderOptions``)."""
    options = options or ProviderOptions.from_kwargs(**kwargs)
    app = FastAPI(title="tokenproof provider", docs_url=None, redoc_url=None, openapi_url=None)
    sse.install_log_filter()
    app.state.options = options
    app.state.model_table = parse_model_map(options.model_map)
    app.state.faults = FaultPlan(options)
    app.state.cache = PromptCache(options.openai_cache_min_tokens, options.anthropic_cache_min_tokens)
    app.include_router(chat_router)
    app.include_router(responses_router)
    app.include_router(anthropic_router)

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return app
