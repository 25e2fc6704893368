"""The official openai Python SDK and the llm CLI talk to the gateway like to any OpenAI
endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openai
import pytest

from tests._services import require
from tests.gateway.conftest import Gw, make_config


def sdk(gw: Gw, key: str | None = None) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key=key or gw.keys["app"], max_retries=0)


def test_openai_sdk_plain_streamed_and_models(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=4)))
    client = sdk(gw)
    assert [m.id for m in client.models.list()] == ["primary-m"]
    msgs = [{"role": "user", "content": "Hallo"}]
    done = client.chat.completions.create(model="primary-m", messages=msgs)  # type: ignore[arg-type]
    assert done.choices[0].message.content == "Guten Tag und herzlich"
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None and done.usage.completion_tokens == 4
    assert done.model_extra == {"ai_generated": True}
    raw = client.chat.completions.with_raw_response.create(model="primary-m", messages=msgs)  # type: ignore[arg-type]
    assert raw.headers["x-ai-generated"] == "true"
    stream = client.chat.completions.create(
        model="primary-m",
        messages=msgs,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Guten Tag und herzlich"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5


def test_openai_sdk_raises_the_right_errors(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw]
) -> None:
    gw = gw_factory(make_config(mock_urls(output_tokens=8, error_rate=1.0, fault_mix=["cut"])))
    msgs = [{"role": "user", "content": "Hallo"}]
    with pytest.raises(openai.AuthenticationError):
        sdk(gw, "nova_000000000000_" + "A" * 43).models.list()
    with pytest.raises(openai.PermissionDeniedError):
        sdk(gw, gw.keys["auditor"]).models.list()
    with pytest.raises(openai.NotFoundError):
        sdk(gw).chat.completions.create(model="gpt-5", messages=msgs)  # type: ignore[arg-type]
    with pytest.raises(openai.BadRequestError):
        sdk(gw).chat.completions.create(model="primary-m", messages=msgs, max_tokens=-1)  # type: ignore[arg-type]
    # A cut stream: the SDK raises instead of returning a silently shortened answer.
    stream = sdk(gw).chat.completions.create(model="primary-m", messages=msgs, stream=True)  # type: ignore[arg-type]
    got: list[str] = []
    with pytest.raises(openai.APIError, match="cut after 4 tokens"):
        for c in stream:
            got.append(c.choices[0].delta.content or "")
    assert "".join(got) == "Guten Tag und herzlich"


def test_llm_cli_talks_to_the_gateway(
    mock_urls: Callable[..., str], gw_factory: Callable[..., Gw], tmp_path: Path
) -> None:
    exe = Path(sys.executable).with_name("llm")
    if not exe.exists():
        require("the llm CLI", f"{exe} is missing (pip install -e '.[dev]')")
    gw = gw_factory(make_config(mock_urls(output_tokens=3)))
    home = tmp_path / "llm"
    home.mkdir()
    (home / "extra-openai-models.yaml").write_text(
        f"- model_id: sophia\n  model_name: primary-m\n  api_base: {gw.url}/v1\n"
        "  api_key_name: nova\n",
        encoding="utf-8",
    )
    (home / "keys.json").write_text(json.dumps({"nova": gw.keys["app"]}), encoding="utf-8")
    env = {**os.environ, "LLM_USER_PATH": str(home)}
    for extra in ([], ["--no-stream"]):
        out = subprocess.run(
            [str(exe), "-m", "sophia", *extra, "Hallo Sophia"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "Guten Tag und"
    entries = gw.store.audit_entries()
    assert [e.payload["stream"] for e in entries] == [True, False]
