"""`import nova.cli` (what `nova --help` and `nova --version` pay for) stays light: the heavy
modules are imported by the commands that use them. Timing lives in
benchmarks/bench_cli_startup.py; this test checks which modules get imported."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "matplotlib",
    "nova.benchmarks",
    "nova.benchmarks._pipeline",
    "nova.report",
    "nova.evals",
    "nova.perf",
    "nova.decision",
    "nova.governance",
    "nova.store",
    "nova.providers",
    "sqlalchemy",
    "aiohttp",
    "nova.settings",
)


def test_importing_the_cli_does_not_import_heavy_modules() -> None:
    code = (
        f"import json, sys, nova.cli; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out) == []


def test_help_and_version_run_without_the_heavy_modules() -> None:
    code = (
        "import json, sys\n"
        "from nova.cli import main\n"
        "for args in (['--help'], ['--version']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        f"print('\\n' + json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert "nova: choose, prove and roll out" in out
    assert json.loads(out.strip().splitlines()[-1]) == []
