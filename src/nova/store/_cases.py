"""The cases of a quality run, one row each in ``run_cases``: content hash and facts.

A run records them when it starts (in the transaction that creates it), so a resumed run or a
joining shard can name the cases that changed, and the report slices by category, language,
weight and required escalation without the datasets. Runs stored before migration 0007 kept
the same values in their meta (``case_sha256``, ``case_facts``); they read from there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from nova.store import _schema

__all__ = ["RunCase", "insert_run_cases", "iter_run_cases", "meta_of_cases"]

_BATCH = 1000
"""Rows per INSERT: the caller's iterable is consumed this many at a time (never whole)."""


class RunCase(BaseModel):
    """One case of a quality run, as recorded when the run started."""

    model_config = ConfigDict(extra="forbid")

    case_id: str
    """Case id."""
    sha256: str = Field(pattern=r"^([0-9a-f]{64})?$")
    """Content hash of the case (``nova.evals.case_sha256``), hex; empty when not known."""
    dataset: str | None = None
    """Dataset name (None for runs stored before the table existed)."""
    category: str | None = None
    """Category of the case."""
    language: str | None = None
    """Language of the case."""
    weight: float | None = None
    """Weight in weighted pass rates."""
    escalation: bool | None = None
    """Whether the case requires a hand-over (None: it has no escalation check)."""

    def facts(self) -> dict[str, Any]:
        """The facts the report uses, as runs before migration 0007 stored them in meta
        (those not known left out)."""
        return {
            k: v
            for k, v in (
                ("category", self.category),
                ("language", self.language),
                ("weight", self.weight),
                ("escalation", self.escalation),
            )
            if v is not None
        }


def insert_run_cases(conn: sa.Connection, run_id: str, cases: Iterable[RunCase]) -> int:
    """Insert ``cases`` for ``run_id`` in batches on ``conn`` (the caller's transaction)."""
    it = iter(cases)
    n = 0
    while batch := [
        {**c.model_dump(), "sha256": bytes.fromhex(c.sha256), "run_id": run_id}
        for c in islice(it, _BATCH)
    ]:
        conn.execute(sa.insert(_schema.run_cases), batch)
        n += len(batch)
    return n


def meta_of_cases(cases: Iterable[RunCase]) -> dict[str, Any]:
    """The cases as runs.meta held them before migration 0007 (for a store not migrated)."""
    hashes: dict[str, str] = {}
    facts: dict[str, dict[str, Any]] = {}
    for c in cases:
        hashes[c.case_id] = c.sha256
        facts[c.case_id] = {**c.facts(), "escalation": c.escalation}
    return {"case_sha256": hashes, "case_facts": facts}


def iter_run_cases(engine: sa.Engine, run_id: str, meta: Mapping[str, Any]) -> Iterator[RunCase]:
    """The cases of a run in case-id order: from ``run_cases``, or from the run's ``meta``
    when the table has none for it (runs stored before 0007)."""
    t = _schema.run_cases
    cols = [c for c in t.c if c.name != "run_id"]
    found = False
    with engine.connect() as conn:
        if sa.inspect(conn).has_table("run_cases"):
            q = sa.select(*cols).where(t.c.run_id == run_id).order_by(t.c.case_id)
            result = conn.execution_options(stream_results=True, yield_per=_BATCH).execute(q)
            for row in result.mappings():
                found = True
                yield RunCase.model_validate({**row, "sha256": bytes(row["sha256"]).hex()})
    if found:
        return
    hashes: Mapping[str, str] = meta.get("case_sha256") or {}
    facts: Mapping[str, Mapping[str, Any]] = meta.get("case_facts") or {}
    for case_id in sorted(hashes.keys() | facts.keys()):
        f = facts.get(case_id, {})
        esc, weight = f.get("escalation"), f.get("weight")
        yield RunCase(
            case_id=case_id,
            sha256=hashes.get(case_id, ""),
            category=f.get("category"),
            language=f.get("language"),
            weight=None if weight is None else float(weight),
            escalation=None if esc is None else bool(esc),
        )
