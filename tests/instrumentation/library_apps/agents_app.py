"""OpenAI Agents SDK: Runner.run and Runner.run_streamed on the Responses and the Chat Completions models."""

import asyncio

from _harness import OPENAI_URL, show
from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner, set_tracing_disabled
from openai import AsyncOpenAI

import tokenproof

set_tracing_disabled(True)  # the SDK's own traces would go to OpenAI's servers
client = AsyncOpenAI(base_url=OPENAI_URL, api_key="sk-test", max_retries=0)
responses_agent = Agent(name="helper", instructions="Answer briefly.",
                        model=OpenAIResponsesModel(model="gpt-4o-mini", openai_client=client))
chat_agent = Agent(name="helper", instructions="Answer briefly.",
                   model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client))


def usage(result):
    u = result.context_wrapper.usage
    return (u.requests, u.input_tokens, u.output_tokens)


async def streamed(agent):
    result = Runner.run_streamed(agent, "Why is the sky blue?")
    kinds = [event.type async for event in result.stream_events()]
    return result, len(kinds)


async def main():
    for name, agent in (("responses", responses_agent), ("chat", chat_agent)):
        result = await Runner.run(agent, "Why is the sky blue?")
        show(f"{name} run", (result.final_output, usage(result)))
        result, events = await streamed(agent)
        show(f"{name} run_streamed", (result.final_output, events, usage(result)))


with tokenproof.tag(feature="lib-agents", tier="pro"):
    asyncio.run(main())
