"""Provider errors: each says which candidate, what happened and what to do."""

from __future__ import annotations

from nova.errors import ProviderError  # the base lives in the documented tree of nova.errors

__all__ = [
    "AuthError",
    "BadRequestError",
    "ContextLengthError",
    "ModelNotFoundError",
    "ProviderError",
    "RateLimitError",
    "ServerError",
    "StreamCutError",
    "TimeoutError_",
    "UnreachableError",
]


class AuthError(ProviderError):
    """401/403: the key is missing, wrong or lacks permission."""

    kind = "auth"


class ModelNotFoundError(ProviderError):
    """The server does not serve the requested model (404 or model_not_found)."""

    kind = "model_not_found"


class ContextLengthError(ProviderError):
    """The prompt plus max_tokens exceed the model's context window."""

    kind = "context_length"


class BadRequestError(ProviderError):
    """The server rejected the request (400/422) for another reason."""

    kind = "bad_request"


class RateLimitError(ProviderError):
    """429: too many requests; ``retry_after`` is the server's wish in seconds."""

    retryable = True
    kind = "rate_limit"

    def __init__(
        self, candidate: str, message: str, *, retry_after: float | None = None, **kw: object
    ) -> None:
        self.retry_after = retry_after
        super().__init__(candidate, message, **kw)  # type: ignore[arg-type]  # same keywords


class ServerError(ProviderError):
    """5xx from the server."""

    retryable = True
    kind = "server"


class UnreachableError(ProviderError):
    """No connection: wrong URL, server down, DNS, connection reset before a response."""

    retryable = True
    kind = "unreachable"


class TimeoutError_(ProviderError):  # named so: builtins.TimeoutError exists
    """A timeout: ``phase`` is connect, first_token or total."""

    retryable = True
    kind = "timeout"

    def __init__(self, candidate: str, message: str, *, phase: str, **kw: object) -> None:
        self.phase = phase
        super().__init__(candidate, message, **kw)  # type: ignore[arg-type]  # same keywords


class StreamCutError(ProviderError):
    """The stream ended before the server finished; ``partial_text`` keeps what arrived."""

    retryable = True
    kind = "stream_cut"
