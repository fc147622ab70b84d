"""llama-index (openai 2.x environment): llama-index-llms-openai complete, chat, streamed, async."""

import asyncio

import openai
from _harness import OPENAI_URL, show
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai import OpenAI

import tokenproof

llm = OpenAI(model="gpt-4o-mini", api_base=OPENAI_URL, api_key="sk-test", max_retries=0)


async def run_async():
    show("acomplete", (await llm.acomplete("Why is the sky blue?")).text)


show("openai", openai.__version__)
with tokenproof.tag(feature="lib-llama-index", tier="pro"):
    show("complete", llm.complete("Why is the sky blue?").text)
    reply = llm.chat([ChatMessage(role="system", content="Answer briefly."),
                      ChatMessage(role="user", content="Why is the sky blue?")])
    show("chat", reply.message.content)
    show("stream_complete", "".join(piece.delta for piece in llm.stream_complete("Why is the sky blue?")))
    asyncio.run(run_async())
