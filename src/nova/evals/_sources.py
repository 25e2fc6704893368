"""The cases of a quality run, streamed from its dataset files (never held whole).

Each dataset is checked in one pass (``scan_source``): valid, no duplicate id, its sha256, the
stratified sample of ``max_cases``, and each case's hash and facts written to a temporary file
in file order. The run records those (``case_rows``), reads the cases again one at a time per
repeat (``iter_cases``, each compared with its recorded hash), and a resumed run compares the
stored hashes with them (``changed_since``).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nova.datasets import Case, Dataset, DatasetInfo, scan_dataset, stream_dataset
from nova.errors import ConfigError, NovaError, Problem
from nova.store import RunCase, RunRecord, RunStore

if TYPE_CHECKING:
    from nova.shard import Shard

__all__ = [
    "CaseSource",
    "case_facts",
    "case_rows",
    "case_sha256",
    "changed_since",
    "iter_cases",
    "load_sources",
    "scan_source",
    "select_cases",
]


def select_cases(ds: Dataset, max_cases: int | None, seed: int) -> list[Case]:
    """All cases, or a sample stratified by (category, language) of at most ``max_cases``."""
    if max_cases is None or max_cases >= len(ds.cases):
        return ds.cases
    strata: dict[tuple[str, str], list[str]] = {}
    for c in ds.cases:
        strata.setdefault((c.category, c.language), []).append(c.id)
    keep = _sample(strata, len(ds.cases), max_cases, seed, ds.sha256)
    return [c for c in ds.cases if c.id in keep]


def _sample(
    strata: dict[tuple[str, str], list[str]], total: int, max_cases: int, seed: int, sha: str
) -> set[str]:
    """The ids of the stratified sample of ``select_cases`` (strata hold ids in file order)."""
    rng = random.Random(f"{seed}:{sha}")
    chosen: list[str] = []
    for key in sorted(strata):
        share = max(1, round(max_cases * len(strata[key]) / total))
        chosen += rng.sample(strata[key], min(share, len(strata[key])))
    return set(chosen[:max_cases])


def case_facts(case: Case) -> dict[str, object]:
    """What the report slices a case by: category, language, weight, required escalation."""
    esc = next(
        (e.params.get("expected", True) for e in case.expect if e.grader == "escalation"), None
    )
    return {
        "category": case.category,
        "language": case.language,
        "weight": case.weight,
        "escalation": None if esc is None else bool(esc),  # as the escalation grader reads it
    }


def case_sha256(case: Case) -> str:
    """Content hash of one case (what a resumed run compares to find changed cases)."""
    return hashlib.sha256(case.model_dump_json().encode("utf-8")).hexdigest()


@dataclass
class CaseSource:
    """One dataset of a run: checked, hashed and counted, its cases read again when needed."""

    info: DatasetInfo
    keep: set[str] | None
    """Ids of the stratified sample (``max_cases``); None: every case."""
    owned: int
    """Selected cases the shard owns (all selected cases without a shard)."""
    spill: Path
    """The hash and facts of every case in file order (a JSON line each), written to a
    temporary file while the dataset was checked: the run records them, and each case read
    again is compared with them, without holding them."""

    def selected(self) -> int:
        return self.info.cases if self.keep is None else len(self.keep)

    def cases(self, shard: Shard | None = None) -> Iterator[Case]:
        """The selected cases (of ``shard``), streamed from the file in file order; each one
        exactly the case that was checked and recorded (else NovaError, before it is used)."""
        rows = self.rows(selected=False)
        for case in stream_dataset(self.info):
            row = next(rows, None)
            used = (self.keep is None or case.id in self.keep) and (
                shard is None or shard.owns(case.id)
            )
            # Every case must still be where it was; only the cases used are hashed again
            # (a shard of N, or a small sample, would otherwise hash every case every repeat).
            if row is None or row.case_id != case.id or (used and row.sha256 != case_sha256(case)):
                raise NovaError(
                    f"dataset {self.info.path} changed while the run read it (case {case.id}); "
                    "restore it, then resume the run (`nova eval run --resume RUN`)"
                )
            if used:
                yield case

    def rows(self, selected: bool = True) -> Iterator[RunCase]:
        """Hash and facts of the selected cases (of every case with ``selected=False``)."""
        with self.spill.open(encoding="utf-8") as fh:
            for line in fh:
                row = RunCase.model_validate_json(line)
                if not selected or self.keep is None or row.case_id in self.keep:
                    yield row


def iter_cases(sources: list[CaseSource], shard: Shard | None = None) -> Iterator[Case]:
    """Every selected case of the run (of ``shard``), one at a time, in run order."""
    for src in sources:
        yield from src.cases(shard)


def scan_source(
    path: Path, max_cases: int | None, seed: int, shard: Shard | None, spill: Path
) -> CaseSource:
    """One streaming pass over a dataset: validity, hash, count, the sample, the shard's share,
    and each case's hash and facts written to ``spill``. Kept in memory per case: the id (for
    duplicates; for the strata too with ``max_cases``)."""
    strata: dict[tuple[str, str], list[str]] = {}
    owned = 0
    with spill.open("w", encoding="utf-8") as out:

        def see(case: Case) -> None:
            nonlocal owned
            if max_cases is not None:
                strata.setdefault((case.category, case.language), []).append(case.id)
            owned += shard is None or shard.owns(case.id)
            row = RunCase(
                case_id=case.id, sha256=case_sha256(case), dataset=path.stem, **case_facts(case)
            )
            out.write(row.model_dump_json() + "\n")

        info = scan_dataset(path, see)
    if max_cases is None or max_cases >= info.cases:
        return CaseSource(info, None, owned, spill)
    keep = _sample(strata, info.cases, max_cases, seed, info.sha256)
    owned = sum(shard is None or shard.owns(i) for i in keep)
    return CaseSource(info, keep, owned, spill)


def load_sources(
    datasets_dir: Path,
    names: list[str],
    max_cases: int | None,
    seed: int,
    spill_dir: Path,
    shard: Shard | None = None,
) -> list[CaseSource]:
    """The datasets ``names``, each checked and hashed in one streaming pass (no case kept;
    hashes and facts go to files in ``spill_dir``)."""
    sources: list[CaseSource] = []
    problems: list[Problem] = []
    for i, name in enumerate(names):
        path = datasets_dir / f"{name}.jsonl"
        if not path.is_file():
            problems.append(Problem(path, None, "", "dataset file not found"))
            continue
        sources.append(scan_source(path, max_cases, seed, shard, spill_dir / f"{i}.jsonl"))
    if problems:
        raise ConfigError(problems, "datasets missing")
    if not sum(src.selected() for src in sources):
        raise NovaError(
            "no eval cases: the datasets are empty; add cases to datasets/*.jsonl "
            "(or run `nova init --force` for the starter sets)"
        )
    return sources


def case_rows(sources: list[CaseSource]) -> Iterator[RunCase]:
    """The hash and facts of every selected case (what the run stores in ``run_cases``)."""
    for src in sources:
        yield from src.rows()


def changed_since(store: RunStore, run: RunRecord, sources: list[CaseSource]) -> list[str]:
    """What changed in the datasets since ``run`` started, one line per dataset.

    Only when a dataset's hash differs (the run is then refused): the stored case hashes are
    compared with those of the cases now selected, hashed when the datasets were checked."""
    then_ds = run.meta.get("datasets") or {}
    differ = [
        s
        for s in sources
        if not isinstance(then_ds, dict)
        or then_ds.get(s.info.name, {}).get("sha256") != s.info.sha256
    ]
    if not differ:
        return []
    then_cases = {c.case_id: c.sha256 for c in store.iter_run_cases(run.id)}
    now_cases = {c.case_id: c.sha256 for s in sources for c in s.rows()}
    lines = []
    for src in differ:
        ds = src.info
        if not then_cases:
            before = then_ds.get(ds.name, {}).get("sha256") if isinstance(then_ds, dict) else None
            lines.append(f"{ds.name}: sha256 {str(before)[:12]} → {ds.sha256[:12]}")
            continue
        ids = [c.case_id for c in src.rows(selected=False)]
        changed = sorted(i for i in ids if i in then_cases and then_cases[i] != now_cases.get(i))
        added = sorted(i for i in ids if i not in then_cases and i in now_cases)
        removed = sorted(i for i in then_cases if i not in now_cases)
        parts = [
            f"{label} {', '.join(v)}"
            for label, v in (("changed", changed), ("added", added), ("removed", removed))
            if v
        ]
        lines.append(f"{ds.name}: " + ("; ".join(parts) or "file bytes changed"))
    return lines
