from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova.config import Candidate
from nova.errors import ConfigError
from nova.providers import (
    ChatRequest,
    Message,
    Provider,
    ServerError,
    create_provider,
    provider_names,
    register_provider,
)
from nova.providers._types import ChatResponse, Timings


def test_builtins_are_registered_like_plugins() -> None:
    assert {"openai", "azure", "bedrock", "llamacpp", "mock"} <= set(provider_names())


def test_a_plugin_provider_is_found_by_its_prefix() -> None:
    @register_provider("acme")
    class Acme(Provider):
        async def chat(self, request: ChatRequest) -> ChatResponse:
            return ChatResponse(text="acme", timings=Timings(t_send_ns=0))

    c = Candidate.model_validate({"id": "a", "model": "acme/x"})
    p = create_provider(c)
    assert isinstance(p, Acme) and p.model == "x"
    with pytest.raises(ConfigError, match="unknown provider 'nope'"):
        create_provider(Candidate.model_validate({"id": "n", "model": "nope/x"}))


def test_mock_provider_scripts_by_case_and_pattern() -> None:
    c = Candidate.model_validate(
        {
            "id": "m",
            "model": "mock/sophia",
            "provider": {
                "options": {
                    "responses": [
                        {
                            "case": "esc-1",
                            "text": "Ich verbinde Sie.",
                            "tool_call": "escalate_to_human",
                        },
                        {"match": "kündig", "text": "Sie können online kündigen."},
                    ],
                    "default": "Gerne helfe ich Ihnen.",
                    "ttft_ms": 5,
                    "itl_ms": 1,
                }
            },
        }
    )

    async def go() -> list[Any]:
        async with create_provider(c) as p:
            return [
                await p.chat(
                    ChatRequest(messages=[Message(role="user", content="Hilfe!")], case_id="esc-1")
                ),
                await p.chat(
                    ChatRequest(messages=[Message(role="user", content="Wie KÜNDIGE ich?")])
                ),
                await p.chat(
                    ChatRequest(messages=[Message(role="user", content="Hallo")], max_tokens=2)
                ),
            ]

    esc, cancel, default = asyncio.run(go())
    assert esc.tool_calls[0].name == "escalate_to_human" and esc.finish_reason == "tool_calls"
    assert cancel.text == "Sie können online kündigen."
    assert default.text == "Gerne helfe " and default.finish_reason == "length"
    assert default.usage.completion_tokens == 2
    t = cancel.timings
    assert t.t_first_token_ns is not None and t.t_last_token_ns is not None
    assert t.t_last_token_ns - t.t_first_token_ns >= 3_000_000  # 4 chunks, 1 ms apart
    failing = Candidate.model_validate(
        {"id": "f", "model": "mock/x", "provider": {"options": {"fail": "server"}}}
    )
    with pytest.raises(ServerError):
        asyncio.run(create_provider(failing).chat(ChatRequest(messages=[])))


@pytest.mark.integration
def test_ping_cli_against_mock_server_llamacpp_and_a_misconfigured_candidate(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    from nova.providers import MockServerSettings, running_mock_server

    with running_mock_server(MockServerSettings(model="served-mock", ttft_ms=5)) as url:
        cfg = {
            "version": 1,
            "name": "t",
            "candidates": [
                {"id": "echo", "model": "mock/echo", "role": "baseline"},
                {"id": "server", "model": "openai/anything", "provider": {"base_url": url}},
                {"id": "tiny", "model": "llamacpp/tiny", "provider": {"model_path": "nova:tiny"}},
                {
                    "id": "down",
                    "model": "openai/m",
                    "provider": {"base_url": "http://127.0.0.1:9/v1", "timeout_s": 5},
                },
            ],
        }
        (tmp_path / "nova.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
        r = run_cli("--workspace", str(tmp_path), "candidates", "ping")
        assert r.code == 1  # one candidate is down
        assert "unreachable" in r.out and "is the server running" in r.out
        r = run_cli(
            "--workspace", str(tmp_path), "candidates", "ping", "echo", "server", "tiny", "--json"
        )
    assert r.code == 0, r.out
    import json

    res = {x["candidate"]: x for x in json.loads(r.out)}
    assert res["echo"]["model_reported"] == "mock/echo"
    assert res["server"]["model_reported"] == "served-mock"
    assert res["server"]["usage_source"] == "server" and res["server"]["ttft_ms"] >= 5
    assert res["tiny"]["ok"] and res["tiny"]["completion_tokens"] == 16
    assert res["tiny"]["usage_source"] == "estimate"  # llama.cpp streams no usage
