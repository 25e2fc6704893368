"""The cases of a quality run (hash and facts) in ``run_cases``, written with the run in one
transaction; runs stored before migration 0007 read theirs from runs.meta."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from nova.errors import StoreError
from nova.store import RunCase, RunStore
from nova.store._migrations import migrate

CASES = [
    RunCase(
        case_id=f"c{i:03d}",
        sha256=f"{i:064x}",
        dataset="dialogues",
        category="escalation" if i % 2 else "dialogue",
        language="de",
        weight=1.5,
        escalation=bool(i % 2) if i % 3 else None,
    )
    for i in range(2500, 0, -1)  # more than one batch, not in id order
]


def test_cases_are_stored_with_the_run_and_read_in_id_order(tmp_path: Path) -> None:
    consumed = []

    def stream() -> Iterator[RunCase]:
        for c in CASES:
            consumed.append(c.case_id)
            yield c

    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        run = store.start_run("quality", meta={"cases": len(CASES)}, cases=stream())
        got = list(store.iter_run_cases(run.id))
        assert got == sorted(CASES, key=lambda c: c.case_id)
        assert len(consumed) == len(CASES)
        assert store.get_run(run.id).meta == {"cases": len(CASES)}  # no per-case meta
        by_id = {c.case_id: c for c in got}
        assert by_id["c006"].facts() == {"category": "dialogue", "language": "de", "weight": 1.5}
        assert by_id["c001"].facts()["escalation"] is True


def test_a_case_id_twice_refuses_the_run_and_leaves_nothing(tmp_path: Path) -> None:
    with RunStore(f"sqlite:///{tmp_path / 'n.db'}") as store:
        twice = [CASES[0], CASES[1], CASES[0].model_copy(update={"dataset": "other"})]
        with pytest.raises(StoreError, match="appears in two of its datasets"):
            store.start_run("quality", run_id="r1", cases=twice)
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar_one() == 0
            assert conn.execute(sa.text("SELECT count(*) FROM run_cases")).scalar_one() == 0


def test_runs_stored_before_0007_read_their_cases_from_meta(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    # A store written before 0007: nova then kept the case hashes and facts in runs.meta.
    old = RunStore(url, auto_migrate=False)
    migrate(old.engine, upto="0005_request_parts")
    meta = {
        "case_sha256": {"b": "2" * 64, "a": "1" * 64},
        "case_facts": {
            "a": {"category": "dialogue", "language": "en", "weight": 1.0, "escalation": None},
            "b": {"category": "escalation", "language": "de", "weight": 2.0, "escalation": True},
        },
    }
    before = old.start_run("quality", meta=meta)
    # A store not migrated yet keeps writing them there.
    unmigrated = old.start_run("quality", cases=CASES[:2])
    assert set(old.get_run(unmigrated.id).meta["case_sha256"]) == {"c2500", "c2499"}
    old.close()

    with RunStore(url) as store:  # migrates to 0007
        assert "0007_run_cases" in store.applied_migrations()
        got = list(store.iter_run_cases(before.id))
        assert [(c.case_id, c.sha256) for c in got] == [("a", "1" * 64), ("b", "2" * 64)]
        assert got[1].facts() == {
            "category": "escalation",
            "language": "de",
            "weight": 2.0,
            "escalation": True,
        }
        assert "escalation" not in got[0].facts()
        assert list(store.iter_run_cases(unmigrated.id)) == [
            c.model_copy(update={"dataset": None}) for c in (CASES[1], CASES[0])
        ]
        new = store.start_run("quality", cases=CASES[:3])
        assert [c.case_id for c in store.iter_run_cases(new.id)] == ["c2498", "c2499", "c2500"]
