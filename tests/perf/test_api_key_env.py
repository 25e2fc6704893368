"""A key that enters through ``--api-key-env`` is masked like a ``${VAR}`` secret of nova.yaml."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from nova._secrets import clear_secrets, redact
from nova.config import init_workspace
from nova.providers import MockServerSettings, running_mock_server
from tests.conftest import Result

KEY = "sk-nova-test-7f3a9c2e41"


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()


def test_api_key_env_is_masked_in_logs_and_never_stored(
    tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    monkeypatch.setenv("BENCH_KEY", KEY)
    settings = MockServerSettings(output_tokens=2, require_api_key=SecretStr(KEY))
    with running_mock_server(settings) as url:
        r = run_cli(
            "--workspace",
            str(root),
            "perf",
            "run",
            "--base-url",
            url,
            "--model",
            "m",
            "--api-key-env",
            "BENCH_KEY",
            "--concurrency",
            "1",
            "--requests",
            "2",
            "--warmup",
            "0",
        )
    assert r.code == 0, r.err
    # Registered: every writer's last line of defence now masks it.
    assert redact(f"Authorization: Bearer {KEY}") == "Authorization: Bearer ***"
    assert KEY not in r.out + r.err
    for f in (root / ".nova").rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f
