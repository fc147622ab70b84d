"""instructor (openai 2.x environment): structured outputs through from_openai, sync and async."""

import asyncio

import instructor
import openai
from _harness import OPENAI_URL, show
from openai import AsyncOpenAI, OpenAI
from pydantic import BaseModel

import tokenproof


class Answer(BaseModel):
    answer: str
    confidence: int


QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]


async def run_async():
    client = instructor.from_openai(AsyncOpenAI(base_url=OPENAI_URL, api_key="sk-test", max_retries=0))
    answer = await client.chat.completions.create(model="gpt-4o-mini", response_model=Answer, messages=QUESTION,
                                                  max_retries=0)
    show("async create", answer)


show("openai", openai.__version__)
with tokenproof.tag(feature="lib-instructor", tier="pro"):
    client = instructor.from_openai(OpenAI(base_url=OPENAI_URL, api_key="sk-test", max_retries=0))
    answer, completion = client.chat.completions.create_with_completion(
        model="gpt-4o-mini", response_model=Answer, messages=QUESTION, max_retries=0)
    show("create_with_completion", (answer, completion.usage.prompt_tokens, completion.usage.completion_tokens))
    json_client = instructor.from_openai(OpenAI(base_url=OPENAI_URL, api_key="sk-test", max_retries=0),
                                         mode=instructor.Mode.JSON_SCHEMA)
    show("json_schema mode", json_client.chat.completions.create(model="gpt-4o", response_model=Answer,
                                                                 messages=QUESTION, max_retries=0))
    asyncio.run(run_async())
