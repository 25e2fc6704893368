from __future__ import annotations

import sqlite3
from pathlib import Path

from nova.store import RunStore


def _store(tmp_path: Path) -> tuple[RunStore, Path]:
    db = tmp_path / "a.db"
    store = RunStore(f"sqlite:///{db}")
    for i, role in enumerate(["product", "legal", "security", "product"]):
        store.audit(
            f"person{i}",
            "review.approve",
            "llama31-70b-vllm",
            {"role": role, "comment": f"ok ä {i}"},
        )
    return store, db


def test_intact_chain_verifies(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    entries = store.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[1].prev_hash == entries[0].hash
    assert store.verify_audit() == []


def test_changed_entry_is_named(tmp_path: Path) -> None:
    store, db = _store(tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE audit_log SET actor='mallory' WHERE seq=2")
    issues = store.verify_audit()
    assert [(i.seq, "changed" in i.problem) for i in issues] == [(2, True)]


def test_deleted_entry_is_named(tmp_path: Path) -> None:
    store, db = _store(tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM audit_log WHERE seq=3")
    issues = store.verify_audit()
    assert issues[0].seq == 4 and "3..3 were deleted" in issues[0].problem


def test_reordered_entries_are_named(tmp_path: Path) -> None:
    store, db = _store(tmp_path)
    with sqlite3.connect(db) as con:  # swap the contents of entries 2 and 3
        rows = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT seq, at, actor, action, subject, payload, prev_hash, hash FROM audit_log"
            )
        }
        for seq, other in ((2, 3), (3, 2)):
            con.execute(
                "UPDATE audit_log SET at=?, actor=?, action=?, subject=?, payload=?, "
                "prev_hash=?, hash=? WHERE seq=?",
                (*rows[other], seq),
            )
    issues = store.verify_audit()
    assert {i.seq for i in issues} >= {2}
    assert issues[0].seq == 2
