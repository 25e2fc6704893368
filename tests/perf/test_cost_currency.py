"""A performance run prices its operating point in USD and EUR, per month, and flags a stale
GPU price sheet in the cost basis."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nova.catalog import load_catalog
from nova.config import Candidate
from nova.perf import PerfSpec, run_perf
from nova.store import RunStore
from tests.perf.test_load import CappedProvider  # noqa: F401  registers "capped-test"


def test_perf_cost_in_eur_per_month_and_stale_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOVA_CATALOG_MAX_AGE_DAYS", "0")  # every sheet is older than 0 days
    cand = Candidate.model_validate(
        {
            "id": "cap",
            "model": "capped-test/x",
            "catalog": "llama-3.1-70b-instruct",
            "hosting": "self-hosted",
            "gpu": "H100-80GB",
            "gpus": 2,
        }
    )
    spec = PerfSpec(candidates=["cap"], concurrency=[2], requests=10, warmup=0, prompts="synthetic")
    with RunStore(f"sqlite:///{tmp_path / 'p.db'}") as store:
        _, (res,) = asyncio.run(
            run_perf(None, None, spec, store, load_catalog(), candidates=[cand])
        )
    c = res.cost
    assert c is not None and c.usd_per_1k_conversations is not None
    # EUR = USD / 1.0411 (ECB, 2025-02-28); per month = per 1,000 × 100 (default 100,000).
    assert c.eur_per_1k_conversations == pytest.approx(c.usd_per_1k_conversations / 1.0411)
    assert c.monthly_conversations == 100_000
    assert c.usd_per_month == pytest.approx(c.usd_per_1k_conversations * 100)
    assert c.fx is not None and "2025-02-28" in c.fx
    assert c.sheet == "gpu-cloud-2026-11" and c.sheet_stale
    assert "STALE price sheet: gpu-cloud-2026-11 was retrieved 2026-11-27" in c.basis
