"""``nova deploy apply``: exact commands, a plain message without the tools, audit when run."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

Run = Callable[..., Result]


def test_dry_run_prints_the_exact_commands(workspace: Path, run_cli: Run) -> None:
    assert run_cli("-w", str(workspace), "deploy", "render", "llama31-70b-vllm").code == 0
    folder = workspace / "deploy" / "models" / "llama31-70b-vllm"
    r = run_cli(
        "-w", str(workspace), "deploy", "apply", "llama31-70b-vllm", "--dry-run", "--target", "all"
    )
    assert r.code == 0, r.err
    assert r.out.splitlines() == [
        f"helm upgrade --install llama31-70b-vllm {folder} --namespace default "
        f"--create-namespace -f {folder}/values.override.yaml --wait --timeout 45m",
        f"docker compose -f {folder}/compose.yaml up -d",
    ]


def test_without_the_tools_nothing_is_applied(
    workspace: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert run_cli("-w", str(workspace), "deploy", "render", "llama31-70b-vllm").code == 0
    r = run_cli("-w", str(workspace), "deploy", "apply", "llama31-70b-vllm")
    assert r.code == 1
    assert "helm is not installed here" in r.err
    assert "nothing was applied" in r.err
    r = run_cli("-w", str(workspace), "audit", "log", "--json")
    assert "deploy.apply" not in r.out


def test_apply_runs_helm_and_records_the_audit_entry(
    workspace: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A stand-in helm (a real process) that records its arguments.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "helm-args"
    helm = bin_dir / "helm"
    helm.write_text(f'#!/bin/sh\necho "$@" > {record}\n')
    helm.chmod(helm.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert run_cli("-w", str(workspace), "deploy", "render", "mixtral-8x7b-vllm").code == 0
    r = run_cli("-w", str(workspace), "deploy", "apply", "mixtral-8x7b-vllm", "--namespace", "llm")
    assert r.code == 0, r.err
    assert record.read_text().startswith("upgrade --install mixtral-8x7b-vllm ")
    assert "--namespace llm" in record.read_text()
    r = run_cli("-w", str(workspace), "audit", "log", "--json")
    assert '"action": "deploy.apply"' in r.out
    assert '"subject": "mixtral-8x7b-vllm"' in r.out


def test_managed_candidates_have_nothing_to_apply(workspace: Path, run_cli: Run) -> None:
    r = run_cli("-w", str(workspace), "deploy", "apply", "gpt4o-azure", "--dry-run")
    assert r.code == 1
    assert "gpt4o-azure is managed: nothing to apply" in r.err
