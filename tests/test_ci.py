"""`.ci/run`: runs `make check` and `make test` with CI=1, and CI=1 turns a missing service
into a failure instead of a skip."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests._services import require

ROOT = Path(__file__).resolve().parent.parent


def test_ci_runs_check_and_test_with_ci_set(tmp_path: Path) -> None:
    # A stand-in `make` first on PATH records each call with the CI variable it saw.
    log = tmp_path / "calls"
    fake = tmp_path / "bin" / "make"
    fake.parent.mkdir()
    fake.write_text(f'#!/usr/bin/env bash\necho "$* CI=${{CI:-}}" >> {log}\n', "utf-8")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = f"{fake.parent}{os.pathsep}{env.get('PATH', '')}"
    subprocess.run(["bash", str(ROOT / ".ci" / "run")], env=env, check=True)
    assert log.read_text("utf-8").splitlines() == ["check CI=1", "test CI=1"]


def test_ci_stops_when_check_fails(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "make"
    fake.parent.mkdir()
    fake.write_text('#!/usr/bin/env bash\n[ "$1" != check ]\n', "utf-8")
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f"{fake.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert subprocess.run(["bash", str(ROOT / ".ci" / "run")], env=env).returncode == 1


def test_a_missing_service_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="promtool not available"):
        require("promtool", "not on PATH")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="promtool not available"):
        require("promtool", "not on PATH")
