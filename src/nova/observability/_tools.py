"""promtool and amtool: validate the rendered files and run the generated unit tests."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from nova.config import Workspace
from nova.errors import NovaError
from nova.observability import _files as f

__all__ = [
    "INSTALL_HINT",
    "MonitoringError",
    "ToolResult",
    "check_monitoring",
    "problem_line",
    "run_rule_tests",
]

INSTALL_HINT = "apt-get install prometheus prometheus-alertmanager"


class MonitoringError(NovaError):
    """Monitoring files, tools or servers are missing, invalid or unreachable."""


@dataclass(frozen=True)
class ToolResult:
    """One promtool/amtool run."""

    command: list[str]
    ok: bool
    output: str


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MonitoringError(f"{name} is not installed: {INSTALL_HINT}")
    return path


def _need(ws: Workspace, rel: str) -> Path:
    path = ws.monitoring_dir / rel
    if not path.is_file():
        raise MonitoringError(f"{path} does not exist: run `python -m nova alerts render` first")
    return path


def _run(cmd: list[str], cwd: Path) -> ToolResult:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        return ToolResult(cmd, False, f"{Path(cmd[0]).name} did not finish within 300 s")
    return ToolResult(cmd, proc.returncode == 0, (proc.stdout + proc.stderr).strip())


def check_monitoring(ws: Workspace) -> list[ToolResult]:
    """``promtool check config`` (which also checks the rule files it loads), ``promtool
    check rules`` on each rule file, ``amtool check-config``."""
    promtool, amtool = _tool("promtool"), _tool("amtool")
    base = ws.monitoring_dir
    config = _need(ws, f.PROMETHEUS_FILE)
    rules = [_need(ws, f.RECORDING_FILE), _need(ws, f.ALERTS_FILE)]
    custom = base / f.CUSTOM_RULES_FILE
    if custom.is_file():
        rules.append(custom)
    am = _need(ws, f.ALERTMANAGER_FILE)
    return [
        _run([promtool, "check", "config", str(config)], base),
        _run([promtool, "check", "rules", *map(str, rules)], base),
        _run([amtool, "check-config", str(am)], base),
    ]


def run_rule_tests(ws: Workspace) -> ToolResult:
    """``promtool test rules`` on the generated unit tests."""
    promtool = _tool("promtool")
    tests = _need(ws, f.TESTS_FILE)
    return _run([promtool, "test", "rules", str(tests)], tests.parent)


def problem_line(output: str) -> str:
    """The line of a tool's output that names the problem (the first FAILED line, else the
    last line)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in lines:
        if "FAILED" in ln or "error" in ln.lower():
            return ln
    return lines[-1] if lines else "no output"
