"""The llamacpp provider against a real llama.cpp server serving nova's own tiny GGUF."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest

from nova.config import Candidate
from nova.errors import ConfigError, MissingDependencyError, NovaError
from nova.providers._errors import ProviderError
from nova.providers._llamacpp import LlamaCppProvider
from nova.providers._tinymodel import TINY_MODEL_FILE, tiny_model_path, write_tiny_llama
from nova.providers._types import ChatRequest, ChatResponse, Message
from tests._services import require

pytestmark = pytest.mark.integration

MAX_TOKENS = 8


def need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        require(module, "pip install 'nova[local]'")


def cand(**provider: Any) -> Candidate:
    return Candidate.model_validate(
        {"id": "tiny", "model": "llamacpp/tiny", "provider": {"max_concurrency": 2, **provider}}
    )


def req(*, stream: bool) -> ChatRequest:
    return ChatRequest(
        messages=[Message(role="user", content="Hallo")],
        max_tokens=MAX_TOKENS,
        temperature=0,
        stream=stream,
    )


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_tiny_gguf_is_small_and_the_same_for_the_same_seed(tmp_path: Path) -> None:
    need("gguf")
    t0 = time.perf_counter()
    a = write_tiny_llama(tmp_path / "a.gguf", seed=0)
    elapsed = time.perf_counter() - t0
    b = write_tiny_llama(tmp_path / "b.gguf", seed=0)
    c = write_tiny_llama(tmp_path / "c.gguf", seed=1)
    assert a.read_bytes()[:4] == b"GGUF"
    assert 100_000 < a.stat().st_size < 2_000_000
    assert elapsed < 5
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    assert a.stat().st_size == c.stat().st_size


def test_tiny_model_path_writes_once(tmp_path: Path) -> None:
    need("gguf")
    cache = tmp_path / "models"
    first = tiny_model_path(cache)
    stamp = first.stat().st_mtime_ns
    second = tiny_model_path(cache)
    assert first == second == cache / TINY_MODEL_FILE
    assert second.stat().st_mtime_ns == stamp
    assert [p.name for p in cache.iterdir()] == [TINY_MODEL_FILE]  # no temp files left


def test_tiny_model_loads_and_generates_printable_text(tmp_path: Path) -> None:
    need("llama_cpp")
    import llama_cpp

    path = write_tiny_llama(tmp_path / "tiny.gguf")
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=512, n_threads=1, verbose=False)
    try:
        assert llm.detokenize(llm.tokenize("Grüße\n".encode())) == "Grüße\n".encode()
        out = llm.create_completion("Hallo", max_tokens=50, temperature=1.5, seed=7)
    finally:
        llm.close()
    assert isinstance(out, dict)  # not streamed
    text = out["choices"][0]["text"]
    # Only printable ASCII, one character per token, and no end-of-text before max_tokens.
    assert len(text) == out["usage"]["completion_tokens"] == 50
    assert text.isascii() and text.isprintable()
    assert out["choices"][0]["finish_reason"] == "length"


def check_timings(r: ChatResponse) -> None:
    t = r.timings
    assert t.t_first_byte_ns is not None and t.t_first_token_ns is not None
    assert t.t_last_token_ns is not None and t.t_end_ns is not None
    assert t.t_send_ns < t.t_first_byte_ns <= t.t_first_token_ns <= t.t_last_token_ns
    assert t.t_last_token_ns <= t.t_end_ns


def test_serves_the_tiny_model_and_stops_by_pid(tmp_path: Path) -> None:
    need("llama_cpp")
    path = write_tiny_llama(tmp_path / "tiny.gguf")
    ws = tmp_path / "ws"
    provider = LlamaCppProvider(cand(model_path=str(path)), workspace_root=ws)

    async def scenario() -> tuple[int, ChatResponse, ChatResponse, list[ChatResponse]]:
        try:
            await provider.start()
            pid, base = provider.pid, provider.base_url
            assert pid is not None and pid_alive(pid)
            assert base is not None and base.startswith("http://127.0.0.1:")
            await provider.start()  # a second start is a no-op
            assert (provider.pid, provider.base_url) == (pid, base)
            streamed = await provider.chat(req(stream=True))
            whole = await provider.chat(req(stream=False))
            both = await asyncio.gather(
                provider.chat(req(stream=True)), provider.chat(req(stream=True))
            )
            info = await provider.model_info()
            assert info is not None and info.id == "tiny" and info.context_window == 4096
            return pid, streamed, whole, list(both)
        finally:
            await provider.close()

    pid, streamed, whole, both = asyncio.run(scenario())

    # Streaming: llama_cpp.server sends one content chunk per token and no usage (it ignores
    # stream_options.include_usage), so the count is the chunk count, tagged as an estimate.
    assert streamed.usage.source == "estimate"
    assert streamed.usage.completion_tokens == len(streamed.timings.chunk_times_ns) == MAX_TOKENS
    assert len(streamed.text) == MAX_TOKENS  # the tiny model writes one ASCII char per token
    # The tiny model never ends on its own, so "length" is the only right finish here.
    assert streamed.finish_reason == "length"
    assert streamed.model_reported == "tiny"
    assert streamed.request_id and streamed.request_id.startswith("chatcmpl-")
    check_timings(streamed)

    # Not streamed: the server's own usage.
    assert whole.usage.source == "server"
    assert whole.usage.completion_tokens == MAX_TOKENS
    assert whole.usage.prompt_tokens is not None and whole.usage.prompt_tokens > 0
    assert whole.finish_reason in ("stop", "length")
    assert whole.model_reported == "tiny"
    assert whole.text == streamed.text  # temperature 0: the same answer both ways
    check_timings(whole)

    assert [r.text for r in both] == [streamed.text] * 2

    assert provider.pid is None and provider.base_url is None
    assert not pid_alive(pid)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    log = ws / ".nova" / "logs" / "llamacpp-tiny.log"
    assert provider.log_path == log and "llama" in log.read_text(errors="replace")


def test_tiny_option_writes_the_model_into_the_workspace(tmp_path: Path) -> None:
    need("llama_cpp")
    provider = LlamaCppProvider(cand(model_path="nova:tiny"), workspace_root=tmp_path)

    async def scenario() -> ChatResponse:
        async with provider:
            return await provider.chat(req(stream=False))

    r = asyncio.run(scenario())
    assert provider.model_file == tmp_path / ".nova" / "models" / TINY_MODEL_FILE
    assert r.usage.completion_tokens == MAX_TOKENS


def test_missing_model_file_says_which_path(tmp_path: Path) -> None:
    need("llama_cpp")
    provider = LlamaCppProvider(cand(model_path="models/nope.gguf"), workspace_root=tmp_path)
    with pytest.raises(ConfigError) as exc:
        asyncio.run(provider.start())
    msg = str(exc.value)
    assert str(tmp_path / "models" / "nope.gguf") in msg
    assert "provider.model_path" in msg
    assert provider.pid is None


def test_server_that_dies_while_starting_reports_its_log(tmp_path: Path) -> None:
    need("llama_cpp")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"this is not a GGUF file")
    provider = LlamaCppProvider(cand(model_path=str(bad)), workspace_root=tmp_path)
    with pytest.raises(ProviderError) as exc:
        asyncio.run(provider.start())
    msg = str(exc.value)
    assert "exited with code" in msg and "last lines of" in msg
    assert str(bad) in msg
    assert provider.pid is None and provider._session is None


def test_hf_repo_offline_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need("llama_cpp")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    provider = LlamaCppProvider(
        cand(hf_repo="nova-test/nothing-GGUF:nothing.gguf"), workspace_root=tmp_path
    )
    with pytest.raises(NovaError) as exc:
        asyncio.run(provider.start())
    msg = str(exc.value)
    assert "nova-test/nothing-GGUF" in msg and "provider.model_path" in msg
    # Without huggingface_hub the message says how to install it; with it, why it failed.
    assert "pip install huggingface_hub" in msg or "no internet" in msg
    assert provider.pid is None


def test_hf_repo_download_failure_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class LocalEntryNotFoundError(FileNotFoundError):
        """Stands in for huggingface_hub's error when offline and not cached."""

    def hf_hub_download(repo_id: str, filename: str) -> str:
        raise LocalEntryNotFoundError(f"{repo_id}/{filename} is not cached")

    fake = types.ModuleType("huggingface_hub")
    fake.hf_hub_download = hf_hub_download  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", fake)
    provider = LlamaCppProvider(cand(hf_repo="org/repo-GGUF:model-q4.gguf"))
    with pytest.raises(ProviderError) as exc:
        provider.resolve_model_file()
    msg = str(exc.value)
    assert "candidate tiny" in msg and "org/repo-GGUF:model-q4.gguf" in msg
    assert "no internet" in msg and "set provider.model_path" in msg


def test_bad_options_are_config_errors() -> None:
    provider = LlamaCppProvider(cand(model_path="x.gguf", options={"n_thread": 2, "n_ctx": "big"}))
    with pytest.raises(ConfigError) as exc:
        asyncio.run(provider.start())
    msg = str(exc.value)
    assert "options.n_thread: unknown option" in msg
    assert "options.n_ctx: must be int, got str" in msg


def test_missing_llama_cpp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "llama_cpp" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    provider = LlamaCppProvider(cand(model_path="x.gguf"))
    with pytest.raises(MissingDependencyError) as exc:
        asyncio.run(provider.start())
    assert "pip install 'nova[local]'" in str(exc.value) and "llama_cpp" in str(exc.value)


def test_close_without_start_is_harmless() -> None:
    provider = LlamaCppProvider(cand(model_path="x.gguf"))
    asyncio.run(provider.close())
    assert provider.pid is None and provider.base_url is None
