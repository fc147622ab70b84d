"""An ordinary LLM app with no tracing code: run it under ``opentelemetry-instrument``.

    OPENAI_BASE_URL=http://127.0.0.1:PORT/v1 ANTHROPIC_BASE_URL=http://127.0.0.1:PORT \\
        opentelemetry-instrument python examples/instrumented_app.py

(with ``tokenproof provider --port PORT`` running, or real API keys and no base URLs). The only
tokenproof line is ``tokenproof.tag(...)``, which says which feature / tier / customer each call
serves. The instrumentation turns every call into a priced, tagged GenAI span.
"""

from __future__ import annotations

import os

import anthropic
import openai

import tokenproof

SUPPORT_PROMPT = "You are the support assistant of Acme. Answer in at most two sentences."


def answer_ticket(client: openai.OpenAI, question: str) -> str:
    response = client.chat.completions.create(
        model="gpt-4o",
        messages=[{"role": "system", "content": SUPPORT_PROMPT}, {"role": "user", "content": question}],
        temperature=0.2,
    )
    return response.choices[0].message.content or ""


def stream_summary(client: openai.OpenAI, text: str) -> str:
    # A streamed call: tokenproof asks for usage and hides the extra chunk; chunk.choices[0] is safe.
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Summarise in one line."}, {"role": "user", "content": text}],
        stream=True,
    )
    return "".join(chunk.choices[0].delta.content or "" for chunk in stream)


def classify(client: anthropic.Anthropic, text: str) -> str:
    with client.messages.stream(
        model="claude-3-5-haiku-latest",
        max_tokens=200,
        system="Classify the message as billing, bug or other.",
        messages=[{"role": "user", "content": text}],
    ) as stream:
        return stream.get_final_text()


def main() -> None:
    oa = openai.OpenAI(api_key=os.environ.get("OPENAI_API_KEY", "sk-local"), max_retries=0)
    an = anthropic.Anthropic(api_key=os.environ.get("ANTHROPIC_API_KEY", "sk-ant-local"), max_retries=0)
    with tokenproof.tag(feature="support-answer", tier="pro", customer="acme-corp"):
        print("answer:", answer_ticket(oa, "My invoice shows a double charge for March.")[:80])
    with tokenproof.tag(feature="ticket-summary", tier="free", customer="globex"):
        print("summary:", stream_summary(oa, "The app crashes when I upload a PNG larger than 10 MB.")[:80])
    with tokenproof.tag(feature="triage", tier="free", customer="globex"):
        print("class:", classify(an, "I was charged twice this month.")[:80])


if __name__ == "__main__":
    main()
