"""Every attribute, metric, baggage key and traffic class name tokenproof emits or reads.

GenAI names follow the latest OpenTelemetry GenAI semantic conventions (``gen_ai.provider.name``,
never the deprecated ``gen_ai.system``). Names under ``tokenproof.`` are ours. Tests assert against
these constants; nothing else in the code base spells an attribute name as a literal.
"""

from __future__ import annotations

# --- GenAI semantic conventions: spans -------------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"  # text | json | image | speech
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"  # ALL input tokens, cached included
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"  # ALL output tokens, reasoning included
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
# Content (only when the user opts in with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"
# Cost: no standard attribute yet; OpenLIT writes it and Langfuse reads it (USD).
GEN_AI_USAGE_COST = "gen_ai.usage.cost"
# The names proposed for the GenAI conventions (amount, currency, source = provider | local),
# emitted beside gen_ai.usage.cost as the setting ``cost_attributes`` says (docs/pricing.md).
GEN_AI_USAGE_COST_AMOUNT = "gen_ai.usage.cost.amount"
GEN_AI_USAGE_COST_CURRENCY = "gen_ai.usage.cost.currency"
GEN_AI_USAGE_COST_SOURCE = "gen_ai.usage.cost.source"
# Both names a reader of stored spans may find the cost under, newest first
COST_AMOUNT_ATTRIBUTES = (GEN_AI_USAGE_COST_AMOUNT, GEN_AI_USAGE_COST)
# OpenAI service tier, as the GenAI conventions' OpenAI attributes name it
OPENAI_REQUEST_SERVICE_TIER = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER = "openai.response.service_tier"
# Usage counts the GenAI conventions have no name for yet, kept on the span so that re-pricing
# (collector/reprice.py) prices a call from its span alone: tokenproof.usage.<Usage field>.
TP_USAGE_EXTRA_PREFIX = "tokenproof.usage."
USAGE_EXTRA_FIELDS = ("cache_creation_1h_tokens", "input_audio_tokens", "output_audio_tokens",
                      "cache_audio_read_tokens", "web_searches")

# Values of gen_ai.operation.name / gen_ai.provider.name / gen_ai.output.type we emit
OPERATION_CHAT = "chat"
OPERATION_EMBEDDINGS = "embeddings"
OPERATION_TEXT_COMPLETION = "text_completion"  # the legacy /completions API
PROVIDER_OPENAI = "openai"
PROVIDER_ANTHROPIC = "anthropic"
TOKEN_TYPE_INPUT = "input"
TOKEN_TYPE_OUTPUT = "output"

SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# --- GenAI semantic conventions: metrics -----------------------------------------------------
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"  # histogram, {token}, gen_ai.token.type
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"  # histogram, seconds
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"  # input | output
TOKEN_USAGE_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                       16777216, 67108864)
OPERATION_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
                              20.48, 40.96, 81.92)

# --- tokenproof: span attributes --------------------------------------------------------------
TP_COST_CURRENCY = "tokenproof.cost.currency"  # "USD"
TP_COST_STATUS = "tokenproof.cost.status"  # COST_PRICED | COST_UNPRICED
TP_COST_SOURCE = "tokenproof.cost.source"  # COST_SOURCE_PROVIDER | COST_SOURCE_LOCAL
TP_USAGE_SOURCE = "tokenproof.usage.source"  # USAGE_PROVIDER | USAGE_ESTIMATED
TP_PRICE_VERSION = "tokenproof.price.version"  # price table version the cost was computed with
TP_PRICE_SOURCE = "tokenproof.price.source"  # "genai-prices" | "override" | "provider"
TP_FEATURE = "tokenproof.feature"
TP_TIER = "tokenproof.tier"
TP_CUSTOMER = "tokenproof.customer"
TP_PROMPT_FINGERPRINT = "tokenproof.prompt.fingerprint"
TP_OUTPUT_FORMAT = "tokenproof.output.format"  # text | json | json_schema | tool_calls
TP_TRAFFIC_CLASS = "tokenproof.traffic_class"  # TRAFFIC_* below; absent means product
TP_ROUTE_ID = "tokenproof.route.id"  # route applied to this call, if any
TP_ROUTE_FALLBACK = "tokenproof.route.fallback"  # true when the candidate failed and the baseline answered
TP_ROUTE_VERSION = "tokenproof.route.version"  # version of the route applied
TP_ROUTE_ATTEMPT = "tokenproof.route.attempt"  # ROUTE_ATTEMPT_* below: which attempt of a routed call
TP_ROUTE_FALLBACK_REASON = "tokenproof.route.fallback_reason"  # FALLBACK_* below, on both attempts' spans
TP_ROUTE_BASELINE_MODEL = "tokenproof.route.baseline_model"  # the model the app asked for (routed calls)
TP_REQUEST_PARAMS = "tokenproof.request.params"  # JSON of replayable params; only with content capture

TP_STREAM_CLOSED_EARLY = "tokenproof.stream.closed_early"  # true when the app stopped reading

OUTPUT_TEXT = "text"
OUTPUT_JSON = "json"
OUTPUT_JSON_SCHEMA = "json_schema"
OUTPUT_TOOL_CALLS = "tool_calls"

COST_PRICED = "priced"
COST_UNPRICED = "unpriced"
COST_SOURCE_PROVIDER = "provider"  # the provider reported the call's cost (e.g. OpenRouter usage.cost)
COST_SOURCE_LOCAL = "local"  # priced here from usage and the price table
USAGE_PROVIDER = "provider"
USAGE_ESTIMATED = "estimated"

ROUTE_ATTEMPT_CANDIDATE = "candidate"
ROUTE_ATTEMPT_BASELINE = "baseline"
FALLBACK_ERROR = "error"
FALLBACK_TIMEOUT = "timeout"
FALLBACK_FORMAT = "format"
FALLBACK_REFUSAL = "refusal"
FALLBACK_STREAM = "stream_error"

TRAFFIC_PRODUCT = "product"
TRAFFIC_SHADOW = "shadow"
TRAFFIC_JUDGE = "judge"
TRAFFIC_CLASSES = (TRAFFIC_PRODUCT, TRAFFIC_SHADOW, TRAFFIC_JUDGE)

# --- tokenproof: W3C baggage keys (an upstream service can set the business tags) -------------
BAGGAGE_FEATURE = TP_FEATURE
BAGGAGE_TIER = TP_TIER
BAGGAGE_CUSTOMER = TP_CUSTOMER
BAGGAGE_TRAFFIC_CLASS = TP_TRAFFIC_CLASS

# --- tokenproof: metrics ----------------------------------------------------------------------
METRIC_COST = "tokenproof.client.cost"  # counter, USD
METRIC_UNPRICED_CALLS = "tokenproof.client.unpriced_calls"  # counter
METRIC_INSTRUMENTATION_ERRORS = "tokenproof.instrumentation.errors"  # counter

# --- environment variables of the OpenTelemetry GenAI conventions we honour ------------------
ENV_CAPTURE_MESSAGE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# the GenAI event emitted per call when content capture asks for events (EVENT_ONLY / SPAN_AND_EVENT)
EVENT_INFERENCE_DETAILS = "gen_ai.client.inference.operation.details"

# --- the OpenTelemetry contrib package / exporter scope name we emit under ---------------------
INSTRUMENTATION_SCOPE = "tokenproof.instrumentation"

# --- attributes that carry prompt or completion content (read only with a read-scope token) ----
CONTENT_ATTRIBUTES = (
    GEN_AI_SYSTEM_INSTRUCTIONS, GEN_AI_INPUT_MESSAGES, GEN_AI_OUTPUT_MESSAGES, TP_REQUEST_PARAMS,
    "gen_ai.prompt", "gen_ai.completion", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
    "gen_ai.tool.definitions", "gen_ai.input", "gen_ai.output",
)
