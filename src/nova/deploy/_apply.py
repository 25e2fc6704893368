"""``nova deploy apply``: the exact ``helm`` / ``docker compose`` commands, and running them.

nova does not talk to a cluster itself: it runs the same commands a person would, so what was
applied can be repeated by hand. A missing tool is said plainly, with the command to run
elsewhere.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nova.errors import NovaError

__all__ = ["ApplyStep", "apply_steps", "missing_tool", "run_step"]


@dataclass(frozen=True)
class ApplyStep:
    """One command of a rollout."""

    tool: Literal["helm", "docker compose"]
    argv: tuple[str, ...]

    def shell(self) -> str:
        """The command as one copy-pasteable line."""
        return shlex.join(self.argv)


def apply_steps(
    folder: Path, release: str, *, target: str = "k8s", namespace: str = "default"
) -> list[ApplyStep]:
    """Commands that roll out the rendered ``folder`` (k8s: Helm; compose: docker compose)."""
    steps: list[ApplyStep] = []
    if target in ("k8s", "all"):
        if not (folder / "Chart.yaml").is_file():
            raise NovaError(f"{folder} has no Helm chart: run `nova deploy render` first")
        argv = ["helm", "upgrade", "--install", release, str(folder)]
        argv += ["--namespace", namespace, "--create-namespace"]
        override = folder / "values.override.yaml"
        if override.is_file():
            argv += ["-f", str(override)]
        argv += ["--wait", "--timeout", "45m"]
        steps.append(ApplyStep("helm", tuple(argv)))
    if target in ("compose", "all"):
        compose = folder / "compose.yaml"
        if not compose.is_file():
            raise NovaError(f"{folder} has no compose.yaml: run `nova deploy render` first")
        argv = ["docker", "compose", "-f", str(compose)]
        if (folder / "compose.override.yaml").is_file():
            argv += ["-f", str(folder / "compose.override.yaml")]
        argv += ["up", "-d"]
        steps.append(ApplyStep("docker compose", tuple(argv)))
    return steps


def missing_tool(step: ApplyStep) -> str | None:
    """Why ``step`` cannot run here, or None when its tool is available."""
    if step.tool == "helm":
        if shutil.which("helm") is None:
            return "helm is not installed here (https://helm.sh/docs/intro/install/)"
        return None
    if shutil.which("docker") is None:
        return "docker is not installed here"
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        return "docker has no compose plugin here (install docker-compose-plugin)"
    return None


def run_step(step: ApplyStep) -> None:
    """Run ``step``; NovaError with the tool's last words when it fails."""
    proc = subprocess.run(list(step.argv), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise NovaError(f"`{step.shell()}` failed (exit {proc.returncode}): {' / '.join(tail)}")
