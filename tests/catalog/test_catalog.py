from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nova.catalog import load_catalog, summarize_candidate
from nova.config import load_config
from nova.errors import ConfigError

REQUIRED = {
    "llama-3.1-8b-instruct",
    "llama-3.1-70b-instruct",
    "mixtral-8x7b-instruct",
    "mistral-7b-instruct",
    "qwen2.5-7b-instruct",
    "gemma-2-9b-it",
    "gpt-4o",
    "qwen2.5-0.5b-instruct",
    "smollm2-360m-instruct",
    "llama-3.2-1b-instruct",
}


def test_shipped_catalog_has_the_required_models_with_sourced_facts() -> None:
    cat = load_catalog()
    assert set(cat.models) >= REQUIRED
    today = dt.date.today()
    for m in cat.models.values():
        for fact in (m.license, m.context_window, *m.hosting.managed, *m.lora, *m.self_hosting):
            assert fact.source.scheme == "https", (m.id, fact)
            assert fact.retrieved <= today, (m.id, fact)
        for plan in m.self_hosting:
            assert cat.gpu_price(plan.gpu) is not None, (m.id, plan.gpu)
    for sheet in cat.price_sheets.values():
        assert sheet.models or sheet.gpus, sheet.id


def test_license_facts_that_decide_the_selection() -> None:
    cat = load_catalog()
    llama = cat.model("llama-3.1-70b-instruct").license
    assert llama.commercial_use and not llama.osi_approved and not llama.eu_restricted
    assert any("700" in r for r in llama.restrictions)
    assert cat.model("mixtral-8x7b-instruct").license.spdx == "Apache-2.0"
    assert cat.model("mixtral-8x7b-instruct").context_window.tokens >= 32000
    assert cat.model("gemma-2-9b-it").context_window.tokens == 8192
    assert not cat.model("gpt-4o").license.open_weights
    azure = cat.sheets_for("gpt-4o")[0].models
    gpt = next(p for p in azure if p.model == "gpt-4o")
    assert (gpt.input_per_mtok, gpt.output_per_mtok) == (2.5, 10.0)


def test_workspace_catalog_overrides_and_reports_errors_with_lines(tmp_path: Path) -> None:
    shipped = load_catalog()
    models = tmp_path / "catalog" / "models"
    models.mkdir(parents=True)
    text = shipped.model("gpt-4o").model_dump_json()
    import json

    import yaml

    data = json.loads(text)
    data["context_window"]["tokens"] = 64000
    (models / "gpt-4o.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    cat = load_catalog(tmp_path / "catalog")
    assert cat.model("gpt-4o").context_window.tokens == 64000
    assert cat.origin["gpt-4o"].endswith("catalog/models/gpt-4o.yaml")

    data["context_window"]["tokens"] = "lots"
    data["license"]["comercial_use"] = True
    (models / "gpt-4o.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_catalog(tmp_path / "catalog")
    paths = {p.path for p in info.value.problems}
    assert {"context_window.tokens", "license.comercial_use"} <= paths
    assert all(p.line for p in info.value.problems)


def test_candidate_summary_prices_and_staleness(workspace: Path) -> None:
    cat = load_catalog()
    cfg = load_config(workspace / "nova.yaml", env={}).config
    azure = summarize_candidate(cfg.candidate("gpt4o-azure"), cat)
    assert azure.price is not None and azure.price.kind == "tokens"
    assert azure.price.output_per_mtok == 10.0
    vllm = summarize_candidate(cfg.candidate("llama31-70b-vllm"), cat)
    assert vllm.price is not None and vllm.price.kind == "gpu-hours"
    assert vllm.price.gpus == 2 and vllm.price.gpu == "H100-80GB"
    assert vllm.price.per_hour == pytest.approx(2 * cat.gpu_price("H100-80GB")[1])  # type: ignore[index]
    later = summarize_candidate(
        cfg.candidate("gpt4o-azure"), cat, today=dt.date.today() + dt.timedelta(days=400)
    )
    assert later.stale and later.age_days is not None and later.age_days >= 400
