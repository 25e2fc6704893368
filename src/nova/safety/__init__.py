"""Safety: guardrails ("rails") on the input and output of a candidate, configured in the
workspace's ``guardrails/rails.yaml``."""

from nova.safety._rails import Rails, detect_language, load_rails, make_canary
from nova.safety._rails_base import (
    Rail,
    RailAction,
    RailContext,
    RailDecision,
    RailsResult,
    RailStage,
    RailVerdict,
    rail_names,
    register_rail,
)
from nova.safety._rails_config import (
    DenyTopic,
    LoadedRails,
    ModerationConfig,
    RailsConfig,
    load_rails_config,
)
from nova.safety._rails_eval import (
    AccuracyCounts,
    injection_accuracy,
    labelled_set,
    near_miss_hits,
    pii_accuracy,
    topic_accuracy,
)
from nova.safety._rails_injection import INJECTION_SIGNALS, injection_signals
from nova.safety._rails_moderation import (
    LLAMA_GUARD_3_CATEGORIES,
    parse_llama_guard,
    render_llama_guard_prompt,
)
from nova.safety._rails_pii import (
    PII_ENTITIES,
    PiiEntity,
    PiiSpan,
    detect_pii,
    iban_valid,
    luhn_valid,
    redact_pii,
    steuer_id_valid,
)
from nova.safety._rails_topics import BUILTIN_TOPICS

__all__ = [
    "BUILTIN_TOPICS",
    "INJECTION_SIGNALS",
    "LLAMA_GUARD_3_CATEGORIES",
    "PII_ENTITIES",
    "AccuracyCounts",
    "DenyTopic",
    "LoadedRails",
    "ModerationConfig",
    "PiiEntity",
    "PiiSpan",
    "Rail",
    "RailAction",
    "RailContext",
    "RailDecision",
    "RailStage",
    "RailVerdict",
    "Rails",
    "RailsConfig",
    "RailsResult",
    "detect_language",
    "detect_pii",
    "iban_valid",
    "injection_accuracy",
    "injection_signals",
    "labelled_set",
    "load_rails",
    "load_rails_config",
    "luhn_valid",
    "make_canary",
    "near_miss_hits",
    "parse_llama_guard",
    "pii_accuracy",
    "rail_names",
    "redact_pii",
    "register_rail",
    "render_llama_guard_prompt",
    "steuer_id_valid",
    "topic_accuracy",
]
