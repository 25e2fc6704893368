"""What every stored run and written document records so a reader can reproduce it."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["workspace_revision"]


def workspace_revision(root: Path) -> str | None:
    """``<commit>`` or ``<commit>+dirty`` of the workspace's git repo; None when not a repo."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}+dirty" if dirty else rev
