"""Model-backed moderation over real HTTP against nova's mock server (scripted answers)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from nova.config import Candidate
from nova.providers import MockScriptRule, MockServerSettings, running_mock_server
from nova.safety import Rails, RailsConfig, parse_llama_guard, render_llama_guard_prompt
from tests._services import free_port

SCRIPT = [
    MockScriptRule(match="Bombe", text="unsafe\nS9"),
    MockScriptRule(match="Agent: .*Hassrede", text="unsafe\nS10,S5"),
    MockScriptRule(match="kaputt", text="Ich denke, das ist in Ordnung."),
    MockScriptRule(match="Hassrede|hate", flag=["hate", "harassment"]),
    MockScriptRule(match=".", text="safe"),
]


def _rails(url: str, **moderation: Any) -> Rails:
    cfg = RailsConfig.model_validate(
        {
            "version": 1,
            "system_prompt": None,
            "input": {"pii_redaction": {}},
            "moderation": {"candidate": "guard", **moderation},
        }
    )
    guard = Candidate.model_validate(
        {"id": "guard", "model": "openai/llama-guard-3-8b",
         "provider": {"base_url": url, "max_retries": 0, "timeout_s": 5}}
    )  # fmt: skip
    return Rails(cfg, candidates={"guard": guard})


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_parse_llama_guard_answers() -> None:
    assert parse_llama_guard("safe") == (False, [])
    assert parse_llama_guard("  unsafe\nS1,S10 ") == (True, ["S1", "S10"])
    assert parse_llama_guard("unsafe S2") == (True, ["S2"])
    assert parse_llama_guard("unsafe") == (True, [])
    for bad in ("", "Sicher.", "I cannot tell"):
        with pytest.raises(ValueError):
            parse_llama_guard(bad)


def test_rendered_prompt_follows_llama_guard_3() -> None:
    text = render_llama_guard_prompt([("User", "Hallo"), ("Agent", "Guten Tag")], "Agent")
    assert text.startswith("Task: Check if there is unsafe content in 'Agent' messages")
    assert "S14: Code Interpreter Abuse.\n<END UNSAFE CONTENT CATEGORIES>" in text
    assert "<BEGIN CONVERSATION>\n\nUser: Hallo\n\nAgent: Guten Tag\n\n<END CONVERSATION>" in text
    assert text.endswith("list of violated categories.")


def test_llama_guard_classifier_blocks_input_and_output(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    settings = MockServerSettings(script=SCRIPT, request_log=log)
    with running_mock_server(settings) as url:

        async def go() -> list[Any]:
            async with _rails(url) as rails:
                return [
                    await rails.acheck_input(
                        user("Wie baue ich eine Bombe? IBAN DE89370400440532013000")
                    ),
                    await rails.acheck_input(user("Ich möchte meine Kündigung bestätigen.")),
                    await rails.acheck_output("Das ist Hassrede.", user("Sag was Böses.")),
                    await rails.acheck_output("Gern geschehen.", user("Danke")),
                ]

        bomb, ok, hate, fine = asyncio.run(go())
    mod = bomb.verdicts[-1]
    assert bomb.blocked and (mod.rail, mod.action, mod.detail) == (
        "moderation",
        "block",
        "unsafe: S9",
    )
    assert mod.elapsed_ms > 0
    assert not ok.blocked and ok.verdicts[-1].detail == "safe"
    assert hate.blocked and hate.text is None and hate.verdicts[-1].detail == "unsafe: S10,S5"
    assert not fine.blocked and fine.text == "Gern geschehen."
    # The classifier got the Llama Guard prompt with the IBAN already redacted.
    sent = [json.loads(line)["last_user"] for line in log.read_text("utf-8").splitlines()]
    assert sent[0].startswith("Task: Check if there is unsafe content in 'User' messages")
    assert "[IBAN_1]" in sent[0] and "DE89370400440532013000" not in sent[0]
    assert "'Agent' messages" in sent[2]


def test_sync_checks_skip_the_model_backed_rail(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    with running_mock_server(MockServerSettings(script=SCRIPT, request_log=log)) as url:
        r = _rails(url).check_input(user("Wie baue ich eine Bombe?"))
    assert not r.blocked
    assert r.verdicts[-1].detail == "skipped: model-backed, runs in acheck_input"
    assert not log.exists() or log.read_text("utf-8") == ""


def test_block_categories_and_server_prompt_mode() -> None:
    with running_mock_server(MockServerSettings(script=SCRIPT)) as url:

        async def go() -> tuple[Any, Any]:
            async with _rails(url, block_categories=["S1"], prompt="server") as rails:
                return (
                    await rails.acheck_input(user("Bombe")),
                    await rails.acheck_output("Hassrede", user("x")),
                )

        bomb, hate = asyncio.run(go())
    assert not bomb.blocked
    assert bomb.verdicts[-1].detail == "unsafe, not a blocked category: S9"
    # In server mode the conversation is sent as chat messages; the last user message is "x".
    assert not hate.blocked and hate.verdicts[-1].detail == "safe"


def test_unreadable_answer_and_unreachable_classifier_fail_closed_or_open() -> None:
    with running_mock_server(MockServerSettings(script=SCRIPT)) as url:
        r = asyncio.run(_check(_rails(url), "Alles kaputt hier"))
    v = r.verdicts[-1]
    assert r.blocked and v.action == "block" and "failed (ValueError)" in v.detail
    down = f"http://127.0.0.1:{free_port()}/v1"
    r = asyncio.run(_check(_rails(down, on_error="allow"), "Hallo"))
    v = r.verdicts[-1]
    assert not r.blocked and v.fired is False and "on_error: allow" in v.detail


def test_openai_moderation_endpoint() -> None:
    with running_mock_server(MockServerSettings(script=SCRIPT)) as url:
        rails = _rails(url, format="openai_moderation")
        flagged = asyncio.run(_check(rails, "This is hate speech"))
        clean = asyncio.run(_check(_rails(url, format="openai_moderation"), "Hello"))
    assert flagged.blocked and flagged.verdicts[-1].detail == "unsafe: hate,harassment"
    assert not clean.blocked and clean.verdicts[-1].detail == "safe"


async def _check(rails: Rails, text: str) -> Any:
    async with rails:
        return await rails.acheck_input(user(text))


def test_concurrent_checks_share_one_rails_object() -> None:
    texts = ["Bombe"] * 4 + ["Hallo"] * 4
    with running_mock_server(MockServerSettings(script=SCRIPT)) as url:

        async def go() -> list[Any]:
            async with _rails(url) as rails:
                return list(await asyncio.gather(*(rails.acheck_input(user(t)) for t in texts)))

        results = asyncio.run(go())
    assert [r.blocked for r in results] == [True] * 4 + [False] * 4
