"""Mock server scripted answers (streaming and plain) and ``POST /v1/moderations``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from nova.providers import MockScriptRule, MockServer, MockServerSettings

SCRIPT = [
    MockScriptRule(match="bombe", text="unsafe\nS9"),
    MockScriptRule(match="hate", flag=["hate"]),
]


def _serve(fn: Any) -> Any:
    async def go() -> Any:
        server = MockServer(MockServerSettings(script=SCRIPT, output_tokens=3))
        async with server, aiohttp.ClientSession() as session:
            return await fn(server.url, session)

    return asyncio.run(go())


def _body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": text}], **extra}


def test_scripted_answer_plain_and_streamed() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[Any, ...]:
        async with s.post(f"{url}/chat/completions", json=_body("Eine BOMBE?")) as r:
            plain = await r.json()
        async with s.post(f"{url}/chat/completions", json=_body("Hallo")) as r:
            usual = await r.json()
        async with s.post(
            f"{url}/chat/completions", json=_body("bombe", stream=True, max_tokens=1)
        ) as r:
            cut = [ln.decode() async for ln in r.content]
        async with s.post(f"{url}/chat/completions", json=_body("bombe", stream=True)) as r:
            lines = [ln.decode() async for ln in r.content]
        return plain, usual, cut, lines

    plain, usual, cut, lines = _serve(scenario)
    assert plain["choices"][0]["message"]["content"] == "unsafe\nS9"
    assert plain["usage"]["completion_tokens"] == 2
    assert usual["choices"][0]["message"]["content"] == "Guten Tag und"  # no rule matched
    chunks = [json.loads(ln[6:]) for ln in lines if ln.startswith("data: {")]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "unsafe\nS9"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    cut_chunks = [json.loads(ln[6:]) for ln in cut if ln.startswith("data: {")]
    assert cut_chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_moderations_endpoint_flags_matching_inputs() -> None:
    async def scenario(url: str, s: aiohttp.ClientSession) -> tuple[Any, Any, int]:
        body = {"model": "omni-moderation-latest", "input": ["I hate you", "Hallo"]}
        async with s.post(f"{url}/moderations", json=body) as r:
            data = await r.json()
        async with s.post(f"{url}/moderations", json={"input": "hate"}) as r:
            single = await r.json()
        async with s.post(f"{url}/moderations", data=b"nope") as r:
            status = r.status
        return data, single, status

    data, single, status = _serve(scenario)
    assert data["model"] == "omni-moderation-latest"
    assert [r["flagged"] for r in data["results"]] == [True, False]
    assert data["results"][0]["categories"] == {"hate": True}
    assert single["results"][0]["flagged"] is True
    assert status == 400


def test_script_rule_regex_is_checked() -> None:
    with pytest.raises(ValidationError, match="not a regular expression"):
        MockScriptRule(match="(", text="x")
