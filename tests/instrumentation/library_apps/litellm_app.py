"""LiteLLM: completion (plain and streamed, sync and async) and embedding through its OpenAI handler.

LiteLLM's OpenAI handler calls the openai client's generic ``post("/chat/completions")`` and
``post("/embeddings")`` with a raw-response header, bypassing the resource methods.
"""

import asyncio

import litellm
from _harness import OPENAI_URL, show

import tokenproof

QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]
COMMON = {"api_base": OPENAI_URL, "api_key": "sk-test", "num_retries": 0}


def usage(response):
    u = getattr(response, "usage", None)
    return None if u is None else (u.prompt_tokens, u.completion_tokens)


async def run_async():
    reply = await litellm.acompletion(model="openai/gpt-4o-mini", messages=QUESTION, **COMMON)
    show("acompletion", (reply.choices[0].message.content, usage(reply)))
    stream = await litellm.acompletion(model="openai/gpt-4o-mini", messages=QUESTION, stream=True,
                                       stream_options={"include_usage": True}, **COMMON)
    chunks = [c async for c in stream]
    show("acompletion stream", ("".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
                                usage(chunks[-1])))


with tokenproof.tag(feature="lib-litellm", tier="pro"):
    reply = litellm.completion(model="openai/gpt-4o", messages=QUESTION, **COMMON)
    show("completion", (reply.choices[0].message.content, usage(reply)))
    chunks = list(litellm.completion(model="gpt-4o-mini", messages=QUESTION, stream=True, **COMMON))
    show("completion stream", "".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
    chunks = list(litellm.completion(model="gpt-4o-mini", messages=QUESTION, stream=True,
                                     stream_options={"include_usage": True}, **COMMON))
    show("completion stream with usage", ("".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
                                          usage(chunks[-1])))
    embedding = litellm.embedding(model="openai/text-embedding-3-small", input=["Why is the sky blue?"], **COMMON)
    show("embedding", (len(embedding.data[0]["embedding"]), embedding.usage.prompt_tokens))
    asyncio.run(run_async())
