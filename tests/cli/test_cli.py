from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest

from nova.cli import cli

Run = Callable[..., Any]


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


@pytest.mark.parametrize("command", _commands(cli), ids=" ".join)
def test_every_command_has_help_with_an_example(run_cli: Run, command: tuple[str, ...]) -> None:
    r = run_cli(*command, "--help")
    assert r.code == 0
    assert "Example:" in r.out and "nova " in r.out.split("Example:")[1]


def test_candidates_list_table_and_json(workspace: Path, run_cli: Run) -> None:
    r = run_cli("--workspace", str(workspace), "candidates", "list")
    assert r.code == 0, r.err
    for text in (
        "llama31-70b-vllm",
        "gpt4o-azure",
        "mixtral-8x7b-vllm",
        "Apache-2.0",
        "131,072",
        "azure-openai-2026-11",
        "not ready:",
    ):
        assert text in r.out, text
    data = json.loads(run_cli("--workspace", str(workspace), "candidates", "list", "--json").out)
    by_id = {d["id"]: d for d in data}
    assert by_id["gpt4o-azure"]["ready"] is False
    assert any("AZURE_OPENAI_ENDPOINT" in m for m in by_id["gpt4o-azure"]["not_ready_reasons"])
    assert by_id["llama31-70b-vllm"]["ready"] is True
    assert by_id["mixtral-8x7b-vllm"]["role"] == "fallback"


def test_candidates_show_lists_sources(workspace: Path, run_cli: Run) -> None:
    r = run_cli("--workspace", str(workspace), "candidates", "show", "mixtral-8x7b-vllm")
    assert r.code == 0, r.err
    assert "https://" in r.out and "Context window" in r.out and "License" in r.out
    r = run_cli("--workspace", str(workspace), "candidates", "show", "nope")
    assert r.code == 1 and "no candidate 'nope'" in r.err


def test_catalog_works_without_a_workspace(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = run_cli("catalog", "list")
    assert r.code == 0 and "mixtral-8x7b-instruct" in r.out
    r = run_cli("catalog", "show", "gpt-4o", "--json")
    assert json.loads(r.out)["license"]["open_weights"] is False


def test_workspace_discovery_from_a_subfolder_and_clear_error_without(
    workspace: Path, tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(workspace / "docs" / "governance")
    assert run_cli("config", "validate").code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    r = run_cli("config", "validate")
    assert r.code == 2 and "nova init" in r.err
    r = run_cli("--workspace", str(empty), "candidates", "list")
    assert r.code == 2 and "has no nova.yaml" in r.err


def test_init_reports_kept_files(tmp_path: Path, run_cli: Run) -> None:
    r = run_cli("init", str(tmp_path / "w"))
    assert r.code == 0 and "created      nova.yaml" in r.out
    r = run_cli("init", str(tmp_path / "w"))
    assert "kept         nova.yaml (exists; --force overwrites)" in r.out
    r = run_cli("init", str(tmp_path / "w"), "--force")
    assert "overwritten  nova.yaml" in r.out


def test_runs_list_and_show(workspace: Path, run_cli: Run) -> None:
    from nova.config import Workspace
    from nova.store import open_store

    assert "No runs yet." in run_cli("--workspace", str(workspace), "runs", "list").out
    with open_store(Workspace(workspace)) as store:
        run = store.start_run("quality", profile="llm-core", meta={"dataset": "sha256:1"})
    r = run_cli("--workspace", str(workspace), "runs", "list", "--json")
    assert json.loads(r.out)[0]["id"] == run.id
    r = run_cli("--workspace", str(workspace), "runs", "show", run.id[:17])
    assert r.code == 0 and "meta.dataset" in r.out


def test_bad_usage_exits_2(run_cli: Run) -> None:
    assert run_cli("no-such-command").code == 2
    assert run_cli("init", "--language", "fr").code == 2


@pytest.mark.integration
def test_python_dash_m_nova_runs_and_plain_output_when_piped(workspace: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_")}
    p = subprocess.run(
        [sys.executable, "-m", "nova", "--workspace", str(workspace), "candidates", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert p.returncode == 0, p.stderr
    assert "\x1b[" not in p.stdout  # no colour codes when not a terminal
    assert "─" not in p.stdout and "llama31-70b-vllm" in p.stdout


def test_audit_verify_cli_detects_tampering(workspace: Path, run_cli: Run) -> None:
    import sqlite3

    from nova.config import Workspace
    from nova.store import open_store

    with open_store(Workspace(workspace)) as store:
        store.audit("Anna", "review.approve", "gpt4o-azure", {"role": "legal"})
        store.audit("Ben", "review.approve", "gpt4o-azure", {"role": "security"})
    r = run_cli("--workspace", str(workspace), "audit", "verify")
    assert r.code == 0 and "intact: 2 entries" in r.out
    with sqlite3.connect(workspace / ".nova" / "nova.db") as con:
        con.execute('UPDATE audit_log SET payload=\'{"role": "product"}\' WHERE seq=1')
    r = run_cli("--workspace", str(workspace), "audit", "verify")
    assert r.code == 1 and "entry 1: content was changed" in r.err and "entry 2" not in r.err
