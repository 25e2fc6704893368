"""The shipped labelled sets: sizes, exact offsets, reproducible generation, and accuracy floors
on the tuning split (a regression guard: these numbers are in the README)."""

from __future__ import annotations

import subprocess
import sys
from importlib import resources
from pathlib import Path

from nova.safety import (
    PII_ENTITIES,
    iban_valid,
    injection_accuracy,
    labelled_set,
    luhn_valid,
    near_miss_hits,
    pii_accuracy,
    steuer_id_valid,
    topic_accuracy,
)

ROOT = Path(__file__).resolve().parents[2]


def test_pii_set_has_enough_exactly_placed_spans_of_every_type() -> None:
    rows = labelled_set("pii")
    spans = [(r, s) for r in rows for s in r["spans"]]
    assert len(spans) >= 200
    assert {s["entity"] for _, s in spans} == set(PII_ENTITIES)
    for row, s in spans:
        value = row["text"][s["start"] : s["end"]]
        assert value == value.strip() and value, row["id"]
        compact = value.replace(" ", "").replace("-", "")
        if s["entity"] == "IBAN":
            assert iban_valid(value), row["id"]
        elif s["entity"] == "TAX_ID":
            assert steuer_id_valid(value), row["id"]
        elif s["entity"] == "CREDIT_CARD":
            assert luhn_valid(compact), row["id"]
    near = [r for r in rows if r.get("near_miss")]
    assert len(near) >= 60 and all(r["spans"] == [] for r in near)
    kinds = {r["near_miss"] for r in near}
    assert {"invalid_iban", "order_number", "date", "amount", "invoice_number"} <= kinds
    assert len({r["id"] for r in rows}) == len(rows)


def test_injection_set_sizes_and_innocent_words() -> None:
    rows = labelled_set("injection")
    attacks = [r for r in rows if r["label"] == "injection"]
    benign = [r for r in rows if r["label"] == "benign"]
    assert len(attacks) >= 100 and len(benign) >= 150
    assert {r["language"] for r in attacks} == {"de", "en"}
    assert any(r["kind"] == "indirect" for r in attacks)
    text = " ".join(r["text"] for r in benign)
    for word in ("Anweisung", "ignorieren", "System", "Passwort"):
        assert word in text, word


def test_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "gen_safety_data.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True)
    data = resources.files("nova.safety").joinpath("data")
    for name in ("pii.jsonl", "injection.jsonl", "topics.jsonl"):
        assert (tmp_path / name).read_bytes() == data.joinpath(name).read_bytes(), name


def test_accuracy_floors_on_the_tuning_split() -> None:
    pii = [r for r in labelled_set("pii") if r["split"] == "tuning"]
    acc = pii_accuracy(pii)["ALL"]
    assert acc.precision >= 0.98 and acc.recall >= 0.98
    hits, n = near_miss_hits(pii)
    assert hits <= 1 and n >= 60
    inj = [r for r in labelled_set("injection") if r["split"] == "tuning"]
    c = injection_accuracy(inj)
    assert c.fp == 0  # no benign message flagged
    assert c.recall >= 0.9
    topics = [r for r in labelled_set("topics") if r["split"] == "tuning"]
    t = topic_accuracy(topics)
    assert (t.tp, t.fp, t.fn) == (30, 0, 0)
    # Escalation and vulnerability messages are not deny topics.
    benign = [{**r, "topic": None} for r in labelled_set("injection") if r["label"] == "benign"]
    assert topic_accuracy(benign).fp == 0
