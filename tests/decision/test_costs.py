"""Costs in the matrix: monthly volume per profile, USD and EUR with the dated rate, stale price
sheets flagged wherever their prices are used."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova.catalog import load_catalog
from nova.config import NovaConfig, Profile, init_workspace
from nova.perf import estimate_cost, in_eur_and_per_month

Run = Callable[..., Any]


def _workspace(tmp_path: Path, monthly: int | None) -> Path:
    ws = tmp_path / "ws"
    init_workspace(ws, language="en")
    cfg = yaml.safe_load((ws / "nova.yaml").read_text("utf-8"))
    cfg["candidates"] = [
        {
            "id": "llama-bedrock",
            "model": "bedrock/meta.llama3-1-70b-instruct-v1:0",
            "catalog": "llama-3.1-70b-instruct",
            "hosting": "managed",
            "provider": {"region": "us-east-1"},
            "price_sheet": "aws-bedrock-2026-11",  # retrieved 2025-07-20: stale
        },
        {
            "id": "gpt-azure",
            "model": "azure/gpt-4o",
            "catalog": "gpt-4o",
            "hosting": "managed",
            "price_sheet": "azure-openai-2026-11",  # retrieved 2026-11-27
            "provider": {
                "base_url": "https://example.invalid",
                "deployment": "gpt-4o",
                "api_version": "2024-10-21",
            },
        },
    ]
    prof: dict[str, Any] = {"conversation_tokens": [800, 250]}
    if monthly is not None:
        prof["monthly_conversations"] = monthly
    cfg["profiles"] = {"p": prof}
    (ws / "nova.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    return ws


def test_profile_volume_default_is_unchanged() -> None:
    assert Profile().monthly_conversations == 100_000
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        Profile(monthly_conversations=0)


def test_matrix_costs_per_month_in_usd_and_eur_and_stale_sheet_flagged(
    tmp_path: Path, run_cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Staleness limit 365 days: Bedrock's sheet (2025-07-20) is stale, Azure's
    # (2026-11-27) is not, for any test date until late 2027.
    monkeypatch.setenv("NOVA_CATALOG_MAX_AGE_DAYS", "365")
    ws = _workspace(tmp_path, monthly=40_000)
    shown = run_cli("--workspace", str(ws), "matrix")
    assert "STALE price sheet(s) used: aws-bedrock-2026-11 — re-check" in shown.out
    r = run_cli("--workspace", str(ws), "matrix", "--json")
    assert r.code == 0, r.err
    m = json.loads(r.out)
    # Bedrock llama-3.1-70b: 0.72 USD per 1M input and output tokens.
    #   per conversation (800 in + 250 out) = 1050 · 0.72 / 1e6 = 0.000756 USD
    #   per 1,000 = 0.756 USD; per month at 40,000 = 30.24 USD
    #   EUR at 1 EUR = 1.0411 USD: 0.756 / 1.0411 = 0.726155; 30.24 / 1.0411 = 29.046201
    c = m["evidence"]["costs"]["llama-bedrock"]
    assert c["usd_per_1k_conversations"] == pytest.approx(0.756)
    assert c["monthly_conversations"] == 40_000
    assert c["usd_per_month"] == pytest.approx(30.24)
    assert c["eur_per_1k_conversations"] == pytest.approx(0.726155, abs=1e-6)
    assert c["eur_per_month"] == pytest.approx(29.046201, abs=1e-6)
    assert c["fx"].startswith(
        "1 EUR = 1.0411 USD (European Central Bank reference rate of 2025-02-28"
    )
    assert c["sheet_stale"] is True and "STALE price sheet" in c["basis"]
    assert m["evidence"]["costs"]["gpt-azure"]["sheet_stale"] is False
    text = (ws / "orchestration_journal" / "models" / "llm_selection_matrix.md").read_text("utf-8")
    assert (
        "Volume: 40,000 conversations per month; EUR at the reference rate 1 EUR = 1.0411" in text
    )
    assert (
        "| llama-bedrock | 0.76 | 0.73 | 30.24 | 29.05 | "
        "`aws-bedrock-2026-11` (2025-07-20) ⚠ STALE |" in text
    )
    assert "`azure-openai-2026-11` (2026-11-27) |" in text
    # The cost cell of the ranking names the stale sheet too, and so does the sheet list.
    row = next(
        line for line in text.splitlines() if line.startswith("| ") and "**llama-bedrock**" in line
    )
    assert "⚠ STALE" in row
    assert "`aws-bedrock-2026-11` (2025-07-20 (STALE:" in text
    # The evidence line of the cost cell carries the EUR figure and the rate's date.
    assert (
        "0.73 EUR (1 EUR = 1.0411 USD (European Central Bank reference rate of 2025-02-28" in text
    )


def test_eur_and_month_from_an_estimate_and_the_default_volume() -> None:
    cat = load_catalog()
    cfg = NovaConfig.model_validate(
        {
            "name": "t",
            "candidates": [
                {
                    "id": "g",
                    "model": "openai/gpt-4o",
                    "provider": {"base_url": "https://example.invalid/v1"},
                    "catalog": "gpt-4o",
                    "hosting": "managed",
                    "price_sheet": "azure-openai-2026-11",
                }
            ],
        }
    )
    est = estimate_cost(
        cfg.candidate("g"), cat, conversation_tokens=(800, 250), output_tokens_per_s=None
    )
    # gpt-4o on Azure: 2.50 / 10.00 USD per 1M tokens -> (800·2.5 + 250·10)/1e6 = 0.0045 USD
    # per conversation, 4.5 per 1,000, 450 per month at the default 100,000.
    out = in_eur_and_per_month(
        est,
        cat,
        monthly_conversations=Profile().monthly_conversations,
        today=dt.date(2026, 12, 1),
        max_age_days=180,
    )
    assert out.usd_per_month == pytest.approx(450.0)
    assert out.eur_per_month == pytest.approx(450.0 / 1.0411)
    assert out.sheet_stale is False and "STALE" not in out.basis
    # The rate itself dates from 2025-02-28: older than 180 days, and said so.
    assert out.fx is not None and out.fx.endswith("STALE: older than 180 days")
    later = in_eur_and_per_month(
        est, cat, monthly_conversations=1000, today=dt.date(2027, 6, 1), max_age_days=180
    )
    assert later.sheet_stale is True and later.usd_per_month == pytest.approx(4.5)
