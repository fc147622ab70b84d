"""pydantic-ai: Agent.run_sync and run_stream on OpenAI chat, OpenAI Responses and Anthropic models."""

import asyncio

from _harness import ANTHROPIC_URL, OPENAI_URL, show
from pydantic_ai import Agent
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

import tokenproof

openai_provider = OpenAIProvider(base_url=OPENAI_URL, api_key="sk-test")
models = {
    "openai chat": OpenAIChatModel("gpt-4o-mini", provider=openai_provider),
    "openai responses": OpenAIResponsesModel("gpt-4o-mini", provider=openai_provider),
    "anthropic": AnthropicModel("claude-3-5-haiku-latest",
                                provider=AnthropicProvider(base_url=ANTHROPIC_URL, api_key="sk-ant-test")),
}


def usage(result):
    u = result.usage()
    return (u.requests, u.input_tokens, u.output_tokens)


async def streamed(agent):
    async with agent.run_stream("Why is the sky blue?") as result:
        text = "".join([piece async for piece in result.stream_text(delta=True)])
    return text, usage(result)


with tokenproof.tag(feature="lib-pydantic-ai", tier="pro"):
    for name, model in models.items():
        agent = Agent(model, instructions="Answer briefly.")
        result = agent.run_sync("Why is the sky blue?")
        show(f"{name} run_sync", (result.output, usage(result)))
        show(f"{name} run_stream", asyncio.run(streamed(agent)))
