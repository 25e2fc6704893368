"""Packages import each other's public names, never another package's ``_private`` module."""

from __future__ import annotations

import ast
from pathlib import Path

import nova

SRC = Path(nova.__file__).parent


def _imported_modules(node: ast.AST, rel: str) -> list[str]:
    """The nova modules an import statement names, relative imports resolved and
    ``from nova.pkg import _mod`` counted as ``nova.pkg._mod``."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = ["nova", *rel.split("/")[:-1]]
        base = base[: len(base) - (node.level - 1)]
        module = ".".join([*base, *([node.module] if node.module else [])])
    else:
        module = node.module or ""
    subs = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    return [module, *(f"{module}.{n}" for n in subs)]


def _crossings(root: Path = SRC) -> set[tuple[str, str]]:
    found = set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        own = rel.split("/")[0]
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            for mod in _imported_modules(node, rel):
                parts = mod.split(".")
                private = len(parts) > 2 and parts[2].startswith("_")
                if parts[0] == "nova" and private and parts[1] != own:
                    found.add((rel, mod))
    return found


def test_no_package_imports_another_packages_private_module() -> None:
    assert _crossings() == set()


def test_the_scan_finds_every_form_of_crossing(tmp_path: Path) -> None:
    # The check above also passes on a scan that finds nothing: prove that the scanner sees
    # each form of import (lazy ones inside functions too) and lets a package's own private
    # modules and nova's shared top-level ones (nova._io) be.
    pkg = tmp_path / "report"
    pkg.mkdir()
    (pkg / "_a.py").write_text(
        "import nova.perf._metrics\n"
        "from nova.decision._evidence import Evidence\n"
        "from nova.evals import _report, Rate\n"
        "from ..governance._docs import render\n"
        "from ._charts import Chart\n"
        "from nova.report._charts import Chart as C\n"
        "from nova.report import _render\n"
        "from nova.decision import Evidence as E\n"
        "from nova import _io\n"
        "import nova._io\n"
        "def f():\n"
        "    from nova.providers._ping import PING_PROMPT\n",
        "utf-8",
    )
    assert _crossings(tmp_path) == {
        ("report/_a.py", "nova.perf._metrics"),
        ("report/_a.py", "nova.decision._evidence"),
        ("report/_a.py", "nova.evals._report"),
        ("report/_a.py", "nova.governance._docs"),
        ("report/_a.py", "nova.providers._ping"),
    }


def test_the_scan_covers_every_package() -> None:
    scanned = {p.relative_to(SRC).parts[0] for p in SRC.rglob("*.py")}
    assert {"cli", "decision", "evals", "governance", "perf", "providers", "report"} <= scanned
