"""A planted API key must never reach a file, a log line, a database row or the terminal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from nova._secrets import RedactingFilter
from nova.config import find_workspace, load_config
from nova.store import RequestRecord, open_store

PLANTED = "sk-nova-planted-7f3a9c1e5b2d"
PLANTED_AZURE = "az-planted-0c4d9e8f7a6b"


def test_planted_keys_never_leave_memory(
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    run_cli: Callable[..., object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SOPHIA_VLLM_API_KEY", PLANTED)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", PLANTED_AZURE)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.invalid")
    outputs = []
    for args in (
        ["config", "validate"],
        ["config", "validate", "--json"],
        ["candidates", "list"],
        ["candidates", "list", "--json"],
        ["candidates", "show", "llama31-70b-vllm", "--json"],
        ["candidates", "show", "gpt4o-azure"],
        ["runs", "list"],
    ):
        r = run_cli("--workspace", str(workspace), *args)
        assert r.code == 0, (args, r.err)  # type: ignore[attr-defined]
        outputs.append(r.out + r.err)  # type: ignore[attr-defined]

    loaded = load_config(workspace / "nova.yaml")
    key = loaded.config.candidate("llama31-70b-vllm").provider.api_key
    assert key is not None and key.get_secret_value() == PLANTED  # it was really loaded
    ws = find_workspace(explicit=workspace)
    with open_store(ws, loaded.config) as store:
        run = store.start_run(
            "quality",
            config_hash=loaded.hash,
            meta={"config": loaded.config.model_dump(mode="json")},
        )
        # A model that echoes its key back, and an error message that contains it.
        store.add_request(
            run.id,
            RequestRecord(
                candidate="llama31-70b-vllm",
                case_id="c1",
                request={"messages": [PLANTED]},
                text=f"my key is {PLANTED}",
                error_message=f"401 for key {PLANTED_AZURE}",
            ),
        )
        store.finish_run(run.id, "completed", meta={"note": PLANTED})
        (stored,) = store.iter_requests(run.id)
    assert stored.text == "my key is ***"
    # Fields packed in the row (deflated, so the byte scan below cannot see them) too.
    assert stored.request == {"messages": ["***"]}
    assert stored.error_message == "401 for key ***"

    logger = logging.getLogger("nova.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="nova.test"):
        logger.info("calling with %s", PLANTED)
    assert PLANTED not in caplog.text and "***" in caplog.text

    leaks = []
    for path in workspace.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for secret in (PLANTED, PLANTED_AZURE):
                if secret.encode() in data:
                    leaks.append(f"{path.relative_to(workspace)} holds {secret[:8]}…")
    for text in outputs:
        assert PLANTED not in text and PLANTED_AZURE not in text
    assert leaks == []
    assert (workspace / ".nova" / "nova.db").is_file()  # the scan covered the database
