"""Talk to every candidate: one interface, adapters registered like plugins, and the
resilience (limits, retries, cache) shared by all of them."""

from nova.providers._base import Provider, create_provider, provider_names, register_provider
from nova.providers._cache import ResponseCache, cache_key
from nova.providers._client import CandidateClient, RateLimiter, RetryPolicy
from nova.providers._errors import (
    AuthError,
    BadRequestError,
    ContextLengthError,
    ModelNotFoundError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamCutError,
    TimeoutError_,
    UnreachableError,
)
from nova.providers._mockserver import (
    ALL_FAULTS,
    MockFault,
    MockOverrides,
    MockScriptRule,
    MockServer,
    MockServerSettings,
    running_mock_server,
)
from nova.providers._offline import offline_fallback_reason
from nova.providers._ping import PING_PROMPT, PingResult, ping_candidates
from nova.providers._types import (
    ChatDelta,
    ChatRequest,
    ChatResponse,
    Message,
    ModelInfo,
    Timings,
    ToolCall,
    ToolSpec,
    Usage,
    UsageSource,
)

__all__ = [
    "ALL_FAULTS",
    "PING_PROMPT",
    "AuthError",
    "BadRequestError",
    "CandidateClient",
    "ChatDelta",
    "ChatRequest",
    "ChatResponse",
    "ContextLengthError",
    "Message",
    "MockFault",
    "MockOverrides",
    "MockScriptRule",
    "MockServer",
    "MockServerSettings",
    "ModelInfo",
    "ModelNotFoundError",
    "PingResult",
    "Provider",
    "ProviderError",
    "RateLimitError",
    "RateLimiter",
    "ResponseCache",
    "RetryPolicy",
    "ServerError",
    "StreamCutError",
    "TimeoutError_",
    "Timings",
    "ToolCall",
    "ToolSpec",
    "UnreachableError",
    "Usage",
    "UsageSource",
    "cache_key",
    "create_provider",
    "offline_fallback_reason",
    "ping_candidates",
    "provider_names",
    "register_provider",
    "running_mock_server",
]
