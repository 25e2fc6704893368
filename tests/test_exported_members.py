"""Every package's ``__all__`` lists exactly its public names (httpx does the same)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "nova",
    "nova.benchmarks",
    "nova.catalog",
    "nova.config",
    "nova.decision",
    "nova.deploy",
    "nova.errors",
    "nova.evals",
    "nova.gateway",
    "nova.governance",
    "nova.observability",
    "nova.perf",
    "nova.providers",
    "nova.report",
    "nova.safety",
    "nova.shard",
    "nova.store",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_matches_public_names(name: str) -> None:
    mod = importlib.import_module(name)
    # Public = not underscored, defined in nova (not an import such as Path), not a module.
    public = set()
    for n, obj in vars(mod).items():
        if n.startswith("_") or isinstance(obj, type(importlib)) or n == "annotations":
            continue
        origin = getattr(obj, "__module__", name)
        # Literal type aliases report "typing" as their module.
        if isinstance(origin, str) and (origin.startswith("nova") or origin == "typing"):
            public.add(n)
    assert set(mod.__all__) - {"__version__"} == public
    assert len(set(mod.__all__)) == len(mod.__all__)  # order is checked by ruff (RUF022)
