"""LangChain with langchain-openai and langchain-anthropic: invoke, stream, async, raw-header forms."""

import asyncio

from _harness import ANTHROPIC_URL, OPENAI_URL, show
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

import tokenproof

QUESTION = "Why is the sky blue?"


def usage(message):
    return getattr(message, "usage_metadata", None)


async def run_async(gpt, claude):
    reply = await gpt.ainvoke(QUESTION)
    show("openai ainvoke", (reply.content, usage(reply)))
    chunks = [c async for c in claude.astream(QUESTION)]
    show("anthropic astream", ("".join(str(c.content) for c in chunks), len(chunks)))


with tokenproof.tag(feature="lib-langchain", tier="pro", customer="acme"):
    gpt = ChatOpenAI(model="gpt-4o-mini", base_url=OPENAI_URL, max_retries=0)
    reply = gpt.invoke(QUESTION)
    show("openai invoke", (reply.content, usage(reply)))
    chunks = list(gpt.stream(QUESTION))
    show("openai stream", ("".join(c.content for c in chunks), len(chunks), [usage(c) for c in chunks]))
    headers = ChatOpenAI(model="gpt-4o-mini", base_url=OPENAI_URL, max_retries=0, include_response_headers=True)
    chunks = list(headers.stream(QUESTION))
    show("openai stream with headers", ("".join(c.content for c in chunks), len(chunks),
                                        [usage(c) for c in chunks]))
    responses = ChatOpenAI(model="gpt-4o-mini", base_url=OPENAI_URL, max_retries=0, use_responses_api=True)
    reply = responses.invoke(QUESTION)
    show("openai responses invoke", (reply.text, usage(reply)))
    embeddings = OpenAIEmbeddings(model="text-embedding-3-small", base_url=OPENAI_URL, max_retries=0,
                                  check_embedding_ctx_length=False)
    show("openai embeddings", len(embeddings.embed_query(QUESTION)))

    claude = ChatAnthropic(model="claude-3-5-haiku-latest", base_url=ANTHROPIC_URL, max_retries=0, max_tokens=200)
    reply = claude.invoke(QUESTION)
    show("anthropic invoke", (reply.content, usage(reply)))
    chunks = list(claude.stream(QUESTION))
    show("anthropic stream", ("".join(str(c.content) for c in chunks), len(chunks)))
    beta = ChatAnthropic(model="claude-3-5-haiku-latest", base_url=ANTHROPIC_URL, max_retries=0, max_tokens=200,
                         betas=["context-1m-2025-08-07"])
    reply = beta.invoke(QUESTION)
    show("anthropic beta invoke", (reply.content, usage(reply)))
    asyncio.run(run_async(gpt, claude))
