"""``mock/…``: scripted answers in-process, with configurable latency, for tests and dry runs.

Never a default for a real candidate: a candidate is a mock only when nova.yaml says
``model: mock/…``. Options (``provider.options``):

    responses:                 # first rule that matches wins
      - {case: dlg-001, text: "…"}
      - {match: "kündig", text: "…", tool_call: escalate_to_human}
    default: "…"        # answer when nothing matches (default: echo the last user message)
    ttft_ms: 20         # delay before the first chunk
    itl_ms: 5           # delay between chunks (one word per chunk)
    fail: "server"      # always raise this error kind (server, rate_limit, unreachable, auth)
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from nova.providers._base import Provider, register_provider
from nova.providers._errors import (
    AuthError,
    ProviderError,
    RateLimitError,
    ServerError,
    UnreachableError,
)
from nova.providers._types import ChatRequest, ChatResponse, Timings, ToolCall, Usage

__all__ = ["MockProvider"]

_FAILS: dict[str, type[ProviderError]] = {
    "server": ServerError,
    "rate_limit": RateLimitError,
    "unreachable": UnreachableError,
    "auth": AuthError,
}


@register_provider("mock")
class MockProvider(Provider):
    """Scripted answers; ``mock/echo`` repeats the last user message."""

    def _answer(self, req: ChatRequest) -> tuple[str, str | None]:
        opts: dict[str, Any] = self.candidate.provider.options
        last_user = next((m.content or "" for m in reversed(req.messages) if m.role == "user"), "")
        for rule in opts.get("responses") or []:
            if rule.get("case") is not None and rule["case"] == req.case_id:
                return str(rule.get("text", "")), rule.get("tool_call")
            if rule.get("match") and re.search(str(rule["match"]), last_user, re.I):
                return str(rule.get("text", "")), rule.get("tool_call")
        return str(opts.get("default", last_user)), None

    async def chat(self, request: ChatRequest) -> ChatResponse:
        opts = self.candidate.provider.options
        if opts.get("fail"):
            cls = _FAILS.get(str(opts["fail"]), ServerError)
            raise cls(self.candidate.id, f"scripted failure ({opts['fail']})")
        t_send = time.perf_counter_ns()
        text, tool = self._answer(request)
        words = re.findall(r"\S+\s*", text) or [""]
        if request.max_tokens is not None:
            words = words[: request.max_tokens]
        await asyncio.sleep(float(opts.get("ttft_ms", 0)) / 1000)
        times = [time.perf_counter_ns()]
        for _ in words[1:]:
            await asyncio.sleep(float(opts.get("itl_ms", 0)) / 1000)
            times.append(time.perf_counter_ns())
        prompt = sum(len((m.content or "").split()) for m in request.messages)
        calls = [ToolCall(id="call_mock", name=tool, arguments="{}")] if tool else []
        truncated = request.max_tokens is not None and len(re.findall(r"\S+\s*", text)) > len(words)
        return ChatResponse(
            text="".join(words),
            tool_calls=calls,
            finish_reason="tool_calls" if calls else ("length" if truncated else "stop"),
            usage=Usage(prompt_tokens=prompt, completion_tokens=len(words), source="server"),
            model_reported=f"mock/{self.model}",
            request_id=f"mock-{t_send}",
            timings=Timings(
                t_send_ns=t_send,
                t_first_byte_ns=times[0],
                t_first_token_ns=times[0],
                t_last_token_ns=times[-1],
                t_end_ns=times[-1],
                chunk_times_ns=times,
            ),
        )
