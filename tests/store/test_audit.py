from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from nova.store import AuditHead, AuditItem, RunStore


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


def test_deleted_tail_is_detected_through_the_head_anchor(tmp_path: Path) -> None:
    store, db = _store(tmp_path)
    assert store.audit_head == Path(f"{db}.audit.head")
    with sqlite3.connect(db) as con:  # the chain 1..2 left is consistent in itself
        con.execute("DELETE FROM audit_log WHERE seq >= 3")
    issues = store.verify_audit()
    assert [i.seq for i in issues] == [3]
    assert "entries 3..4 were deleted from the end" in issues[0].problem


def test_whole_log_deleted_is_detected(tmp_path: Path) -> None:
    store, db = _store(tmp_path)
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM audit_log")
    issues = store.verify_audit()
    assert len(issues) == 1 and "entries 1..4 were deleted" in issues[0].problem


def test_rewritten_tail_is_detected(tmp_path: Path) -> None:
    store, db = _store(tmp_path)
    head = store.audit_anchor()
    with sqlite3.connect(db) as con:  # drop the last two and append a recomputed fake
        con.execute("DELETE FROM audit_log WHERE seq >= 3")
    other = RunStore(f"sqlite:///{db}", audit_head=tmp_path / "elsewhere.head")
    other.audit("mallory", "review.approve", "x", {})
    other.audit("mallory", "review.approve", "x", {})
    assert other.verify_audit() == []  # consistent in itself and with its own anchor
    assert head is not None
    issues = store.verify_audit()
    assert [i.seq for i in issues] == [4] and "head anchor" in issues[0].problem


def test_missing_head_anchor_is_reported(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    assert store.audit_head is not None
    store.audit_head.unlink()
    issues = store.verify_audit()
    assert len(issues) == 1 and "is missing" in issues[0].problem
    store.audit("nova", "x")  # the next entry anchors the head again
    assert store.verify_audit() == []


def test_batch_append_is_one_chain_in_one_transaction(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'b.db'}")
    items = [AuditItem("gw", "gateway.request", f"c{i}", {"i": i}) for i in range(50)]
    entries = store.audit_many(items)
    assert [e.seq for e in entries] == list(range(1, 51))
    assert store.audit_anchor() == (50, entries[-1].hash)
    assert store.verify_audit() == []
    with sqlite3.connect(tmp_path / "b.db") as con:  # the database refuses the 2nd of a batch
        con.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_log WHEN NEW.action = 'b' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(sa.exc.IntegrityError):
        store.audit_many([AuditItem("gw", "a"), AuditItem("gw", "b")])
    assert len(store.audit_entries()) == 50  # nothing of the failed batch, not even "a"
    assert store.audit_anchor() == (50, entries[-1].hash)


def test_head_never_moves_backwards(tmp_path: Path) -> None:
    from nova.store._audit import _advance_head, read_head

    head = tmp_path / "h"
    _advance_head(head, AuditHead(5, "a" * 64))
    _advance_head(head, AuditHead(3, "b" * 64))  # a slower writer process arriving late
    assert read_head(head) == (5, "a" * 64)


def test_a_corrupted_head_is_reported(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    assert store.audit_head is not None
    # No valid checksum: torn, or edited by hand.
    store.audit_head.write_text('{"seq": 2, "hash": "x"}\n')
    issues = store.verify_audit()
    assert len(issues) == 1 and "unreadable" in issues[0].problem


def test_the_record_hash_is_the_stored_chains_format() -> None:
    """Chains already stored were hashed as json.dumps of the whole entry; the hash written
    out by hand (one payload text for storing and hashing) must stay byte for byte that."""
    import datetime as dt
    import hashlib
    import json

    from nova.store._audit import _digest

    at = dt.datetime(2026, 11, 30, 19, 0, 0, 123456, tzinfo=dt.UTC)
    payload = {"z": [1, 2.5, None, True, {"b": 'ü\n"q"', "a": []}], "a": {"y": -0.0, "x": "\u2028"}}
    for subject in ("primary-m", None):
        body = json.dumps(
            {"seq": 7, "at": at.isoformat(timespec="microseconds"), "actor": "key:k1",
             "action": "gateway.request", "subject": subject, "payload": payload},
            sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        )  # fmt: skip
        want = hashlib.sha256(("f" * 64 + body).encode("utf-8")).hexdigest()
        assert _digest("f" * 64, 7, at, "key:k1", "gateway.request", subject, payload) == want
