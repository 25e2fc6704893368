"""Errors the gateway answers with: OpenAI-style bodies, never a traceback."""

from __future__ import annotations

import json

from aiohttp import web

__all__ = ["ApiError", "error_response"]


class ApiError(Exception):
    """A request the gateway refuses or cannot serve; ``status`` and an OpenAI-style body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_ or _default_type(status)
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        """``{"error": {"message", "type", "param", "code"}}`` as OpenAI sends it."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def _default_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_response(err: ApiError, extra_headers: dict[str, str] | None = None) -> web.Response:
    """The JSON response for ``err``."""
    return web.Response(
        status=err.status,
        body=json.dumps(err.body()).encode(),
        content_type="application/json",
        headers={**err.headers, **(extra_headers or {})},
    )
