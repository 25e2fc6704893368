"""Accuracy of the rails on the labelled sets shipped in ``nova/safety/data/``.

Definitions (used by ``benchmarks/bench_rails.py`` and the tests):

- PII spans: a found span is a true positive when a labelled span of the same entity type
  overlaps it by at least half of their union (intersection / union >= 0.5); each labelled
  span matches at most once. Precision = TP / found, recall = TP / labelled.
- PII near misses: the share of near-miss messages (invalid IBANs, order numbers, dates …)
  on which any span is found (lower is better).
- Injection: message level; positive = the rail fires (score >= threshold).
- Deny topics: message level over the built-in topics; a true positive names the labelled
  topic; a message refused under another topic counts as a false positive and a miss.
- Every rate comes with a Wilson 95 % interval over its denominator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from nova.safety._rails_injection import injection_signals
from nova.safety._rails_pii import PII_ENTITIES, detect_pii
from nova.safety._rails_topics import BUILTIN_TOPICS, compile_phrases

__all__ = [
    "AccuracyCounts",
    "injection_accuracy",
    "labelled_set",
    "near_miss_hits",
    "pii_accuracy",
    "topic_accuracy",
]


def labelled_set(name: str) -> list[dict[str, Any]]:
    """Rows of a shipped labelled set: ``pii`` or ``injection``."""
    text = resources.files("nova.safety").joinpath("data", f"{name}.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class AccuracyCounts:
    """True/false positives and false negatives, with derived rates."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    missed: list[str] = field(default_factory=list)
    """Ids of the rows behind false negatives (for debugging; no text)."""
    false_alarms: list[str] = field(default_factory=list)
    """Ids of the rows behind false positives."""

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was found."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when nothing was labelled."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = max(0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union else 0.0


def pii_accuracy(rows: list[dict[str, Any]]) -> dict[str, AccuracyCounts]:
    """Span counts per entity type, plus ``ALL``, over the rows' labelled spans."""
    out = {e: AccuracyCounts() for e in (*PII_ENTITIES, "ALL")}
    for row in rows:
        gold = [(s["entity"], (s["start"], s["end"])) for s in row["spans"]]
        found = [(s.entity, (s.start, s.end)) for s in detect_pii(row["text"])]
        used: set[int] = set()
        for entity, span in found:
            match = next(
                (
                    i
                    for i, (ge, gs) in enumerate(gold)
                    if i not in used and ge == entity and _iou(span, gs) >= 0.5
                ),
                None,
            )
            for key in (entity, "ALL"):
                if match is None:
                    out[key].fp += 1
                    out[key].false_alarms.append(row["id"])
                else:
                    out[key].tp += 1
            if match is not None:
                used.add(match)
        for i, (entity, _) in enumerate(gold):
            if i not in used:
                for key in (entity, "ALL"):
                    out[key].fn += 1
                    out[key].missed.append(row["id"])
    return out


def near_miss_hits(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """(near-miss messages with any span found, near-miss messages)."""
    near = [r for r in rows if r.get("near_miss")]
    return sum(1 for r in near if detect_pii(r["text"])), len(near)


def injection_accuracy(rows: list[dict[str, Any]], threshold: float = 1.0) -> AccuracyCounts:
    """Message-level counts of the injection heuristics at ``threshold``."""
    c = AccuracyCounts()
    for row in rows:
        fired = injection_signals(row["text"])[0] >= threshold
        positive = row["label"] == "injection"
        if fired and positive:
            c.tp += 1
        elif fired:
            c.fp += 1
            c.false_alarms.append(row["id"])
        elif positive:
            c.fn += 1
            c.missed.append(row["id"])
        else:
            c.tn += 1
    return c


def topic_accuracy(rows: list[dict[str, Any]]) -> AccuracyCounts:
    """Message-level counts of the built-in deny topics; ``row["topic"]`` is the topic that
    should refuse the message, or None."""
    patterns = [(t, compile_phrases(list(p))) for t, p in BUILTIN_TOPICS.items()]
    c = AccuracyCounts()
    for row in rows:
        found = next((t for t, pat in patterns if pat.search(row["text"])), None)
        gold = row.get("topic")
        if found is not None and found == gold:
            c.tp += 1
            continue
        if found is not None:
            c.fp += 1
            c.false_alarms.append(row["id"])
        if gold is not None:
            c.fn += 1
            c.missed.append(row["id"])
        elif found is None:
            c.tn += 1
    return c
