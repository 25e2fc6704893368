"""``nova init``: lay out a complete workspace from the shipped templates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Literal

import jinja2

from nova.__about__ import __version__
from nova._io import atomic_write_bytes
from nova.errors import WorkspaceError

__all__ = ["InitResult", "init_workspace"]

_TEMPLATE_ROOT = ("templates", "workspace")


@dataclass
class InitResult:
    """What ``init_workspace`` did, file by file (paths relative to the workspace root)."""

    root: Path
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    overwritten: list[str] = field(default_factory=list)


def _walk(node: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out: list[tuple[str, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda t: t.name):
        rel = f"{prefix}{child.name}"
        if child.is_dir():
            out.extend(_walk(child, rel + "/"))
        elif child.name != "__init__.py" and not child.name.endswith(".pyc"):
            out.append((rel, child))
    return out


def template_files(language: Literal["de", "en"]) -> dict[str, Traversable]:
    """Workspace-relative path -> template; the language folder wins over ``common``."""
    base = resources.files("nova").joinpath(*_TEMPLATE_ROOT)
    files: dict[str, Traversable] = {}
    for folder in ("common", language):
        node = base.joinpath(folder)
        if node.is_dir():
            for rel, t in _walk(node):
                files[rel.removesuffix(".j2")] = t
    # The starter eval sets live with the eval package (one copy, tested there).
    data = resources.files("nova").joinpath("evals", "data")
    if data.is_dir():
        for t in data.iterdir():
            if t.name.endswith(".jsonl"):
                files[f"datasets/{t.name}"] = t
    # The starter red-team library lives with the safety package (one copy, tested there).
    scenarios = resources.files("nova").joinpath("safety", "data", "redteam")
    if scenarios.is_dir():
        for t in scenarios.iterdir():
            if t.name.endswith(".jsonl"):
                files[f"redteam/{t.name}"] = t
    return files


def init_workspace(
    target: Path,
    *,
    language: Literal["de", "en"] = "de",
    force: bool = False,
    name: str = "Sophia",
    demo: bool = False,
) -> InitResult:
    """Create every workspace file that does not exist yet; with ``force``, rewrite them too.

    Existing files are never touched without ``force``; the result says which were kept.
    ``demo`` makes the ``llm-core`` profile run the small local models (the embedded default
    of ``make run``); the real candidates stay in nova.yaml under profile ``sophia-real``.
    """
    root = target.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise WorkspaceError(f"{root} exists and is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    context = {
        "created": dt.date.today().isoformat(),
        "nova_version": __version__,
        "language": language,
        "workspace_name": name,
        "demo": demo,
    }
    result = InitResult(root)
    for rel, template in sorted(template_files(language).items()):
        dest = root / rel
        existed = dest.exists()
        if existed and not force:
            result.kept.append(rel)
            continue
        data = template.read_bytes()
        if template.name.endswith(".j2"):
            data = env.from_string(data.decode("utf-8")).render(context).encode("utf-8")
        atomic_write_bytes(dest, data)
        (result.overwritten if existed else result.created).append(rel)
    (root / ".nova").mkdir(exist_ok=True)
    return result
