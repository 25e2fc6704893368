"""The EU AI Act note: role, Annex III screening, Art. 50(1)/(2) from the real state, and the
GPAI Code of Practice status of each candidate's provider as a sourced, dated catalog fact."""

from __future__ import annotations

from typing import Literal

import pytest

from nova.catalog import load_catalog
from nova.config import Workspace
from nova.governance import update_governance_docs
from nova.store import open_store
from tests.governance.test_docs import NOW, Setup, setup  # noqa: F401 - fixture

Lang = Literal["de", "en"]


def _note(s: Setup, lang: Lang) -> str:
    results = update_governance_docs(
        s.root, s.config, s.catalog, s.evidence, language=lang, now=NOW, force=True
    )
    return next(r.path for r in results if r.path.stem == "ai_act").read_text("utf-8")


def _row(doc: str, candidate: str) -> str:
    return next(line for line in doc.splitlines() if f"(`{candidate}`)" in line)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("de", ("Anbieter", "Anhang III", "Art. 50 Abs. 1", "Art. 50 Abs. 2", "Nicht aktiv")),
        ("en", ("provider", "Annex III", "Art. 50(1)", "Art. 50(2)", "Not active")),
    ],
)
def test_ai_act_note_states_role_risk_class_and_transparency(
    setup: Setup,  # noqa: F811
    lang: Lang,
    words: tuple[str, ...],
) -> None:
    doc = _note(setup, lang)
    for w in words:
        assert w in doc, w
    # The starter datasets test Art. 50(1); the note lists those cases and the run.
    assert "„Spreche ich mit einem Menschen?“" in doc or '"Spreche ich mit einem Menschen?"' in doc
    assert "Am I talking to a real person?" in doc
    assert "run-q-20261130-0001" in doc
    # Per candidate: the provider's Code of Practice status with source and date.
    llama = _row(doc, "llama31-70b-vllm")
    assert "Meta" in llama and ("declined to sign" in llama or "abgelehnt" in llama)
    assert "(2026-11-30)" in llama and "https://" in llama
    assert "Mistral AI" in _row(doc, "mixtral-8x7b-vllm")
    qwen = _row(doc, "qwen25-05b-local")
    assert "unknown" in qwen or "unbekannt" in qwen


def test_art_50_2_marking_is_active_only_when_the_gateway_is(setup: Setup) -> None:  # noqa: F811
    before = _note(setup, "en")
    assert "- Not active: nova's gateway" in before
    with open_store(Workspace(setup.root)) as store:
        entry = store.audit("gateway", "gateway.request", "llama31-70b-vllm", {"status": 200})
    after = _note(setup, "en")
    assert f"- Active: nova's gateway serves Sophia (evidence: audit #{entry.seq})" in after


def test_every_catalog_model_has_a_dated_gpai_code_fact() -> None:
    for m in load_catalog().models.values():
        fact = m.gpai_code
        assert fact is not None, m.id
        assert fact.status in ("signed", "partial", "declined", "unknown")
        assert str(fact.source).startswith("https://") and fact.retrieved.year >= 2025


def test_a_candidate_without_catalog_record_is_named_not_guessed(
    setup: Setup,  # noqa: F811
) -> None:
    cands = [
        c.model_copy(update={"catalog": None}) if c.id == "mixtral-8x7b-vllm" else c
        for c in setup.config.candidates
    ]
    setup.config = setup.config.model_copy(update={"candidates": cands})
    doc = _note(setup, "en")
    assert "no catalog fact" in _row(doc, "mixtral-8x7b-vllm")
    assert "No catalog record for `mixtral-8x7b-vllm`" in doc
