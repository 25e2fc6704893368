"""The gateway's audit records committed in the event loop (a SQLite file) and, when another
connection holds the write lock, by the writer thread: one chain either way."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from nova.gateway._audit import AuditWriter
from nova.store import AuditItem, RunStore


def _store(tmp_path: Path) -> RunStore:
    return RunStore(f"sqlite:///{tmp_path / 'nova.db'}")


def _item(i: int) -> AuditItem:
    return AuditItem("key:k1", "gateway.request", "primary-m", {"request_id": f"r{i}", "n": i})


def test_appender_rows_read_back_like_sqlalchemy_rows(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.audit("alice", "review.approve", "primary-m", {"comment": "ok"})  # via SQLAlchemy
    appender = store.audit_appender()
    assert appender is not None
    written = appender.try_append([_item(1), _item(2)])
    assert written is not None
    store.audit("bob", "decide", None, {"ü": "ß"})
    appender.close()
    entries = store.audit_entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [(e.seq, e.hash) for e in entries[1:3]] == written  # seq and hash as returned
    assert store.verify_audit() == []
    assert store.audit_anchor() == (4, entries[-1].hash)


def test_no_appender_for_memory_or_postgres_urls() -> None:
    assert RunStore("sqlite://").audit_appender() is None


def test_appender_never_waits_for_a_lock(tmp_path: Path) -> None:
    store = _store(tmp_path)
    appender = store.audit_appender()
    assert appender is not None
    other = sqlite3.connect(tmp_path / "nova.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing (an eval run, a 2nd gateway)
    try:
        assert appender.try_append([_item(1)]) is None
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert appender.try_append([_item(1)]) is not None
    appender.close()
    assert store.verify_audit() == []


def test_writer_commits_in_the_loop_and_falls_back_to_its_thread(tmp_path: Path) -> None:
    store = _store(tmp_path)
    used: list[dict[str, int]] = []
    writer = AuditWriter(store, on_usage=used.append)

    async def main() -> None:
        writer.start()
        assert writer.inline
        first = await asyncio.gather(*(writer.write(_item(i), ("k1", 10)) for i in range(5)))
        assert first == [1, 2, 3, 4, 5]
        assert writer.batches == 1  # five records handed in during one turn: one commit
        assert writer.handed_to_thread == 0
        other = sqlite3.connect(tmp_path / "nova.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        pending = asyncio.ensure_future(writer.write(_item(5), ("k1", 7)))
        await asyncio.sleep(0.2)
        assert not pending.done()  # the thread waits for the lock, the loop does not
        assert writer.handed_to_thread == 1
        other.execute("ROLLBACK")
        other.close()
        assert await asyncio.wait_for(pending, 15) == 6

    asyncio.run(main())
    writer.close()
    assert used == [{"k1": 50}, {"k1": 7}]
    assert store.verify_audit() == []
    assert [e.payload["n"] for e in store.audit_entries()] == [0, 1, 2, 3, 4, 5]


def test_writer_checkpoints_the_wal_in_its_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nova.gateway._audit as audit_mod

    monkeypatch.setattr(audit_mod, "_CHECKPOINT_EVERY", 10)
    store = _store(tmp_path)
    calls: list[int] = []
    real = store.checkpoint
    monkeypatch.setattr(store, "checkpoint", lambda: (calls.append(1), real())[1])
    writer = AuditWriter(store)

    async def main() -> None:
        writer.start()
        for i in range(35):
            await writer.write(_item(i))

    asyncio.run(main())
    writer.close()
    assert len(calls) == 3  # after commits 10, 20 and 30, not in the event loop
    assert store.verify_audit() == []


def test_writer_without_inline_uses_the_thread(tmp_path: Path) -> None:
    store = _store(tmp_path)
    writer = AuditWriter(store, inline=False)

    async def main() -> None:
        writer.start()
        assert not writer.inline
        await asyncio.gather(*(writer.write(_item(i)) for i in range(3)))

    asyncio.run(main())
    writer.close()
    assert len(store.audit_entries()) == 3


def test_stopping_commits_what_waits_for_the_loops_commit(tmp_path: Path) -> None:
    store = _store(tmp_path)
    writer = AuditWriter(store)

    async def main() -> None:
        writer.start()
        fut = writer.submit(_item(1))  # queued for the end of this turn
        writer.stop_inline()  # the gateway stopping in the same turn
        assert not writer.inline
        later = writer.submit(_item(2))  # goes to the writer thread now
        await asyncio.to_thread(writer.close)
        assert (await fut) == 1 and (await later) == 2

    asyncio.run(main())
    assert store.verify_audit() == []


def test_appender_stores_and_hashes_one_canonical_text(tmp_path: Path) -> None:
    store = _store(tmp_path)
    appender = store.audit_appender()
    assert appender is not None
    payload = {
        "z": [1, 2.5, None, True, {"b": 'ü\n"q"', "a": []}],
        "a": {"nested": {"y": 1, "x": "\u2028"}},
        "when": __import__("datetime").date(2026, 11, 30),  # not JSON: stored as its str()
    }
    appender.try_append([AuditItem("key:k1", "gateway.request", None, payload)])
    appender.close()
    assert store.verify_audit() == []
    (entry,) = store.audit_entries()
    assert entry.payload["when"] == "2026-11-30" and entry.payload["z"][4]["b"] == 'ü\n"q"'
    raw = sqlite3.connect(tmp_path / "nova.db").execute("SELECT payload FROM audit_log").fetchone()
    assert raw[0].startswith('{"a":{"nested":{"x":')  # sorted and compact, as hashed


def test_appender_round_trips_payloads_with_keys_that_are_not_strings(tmp_path: Path) -> None:
    store = _store(tmp_path)
    appender = store.audit_appender()
    assert appender is not None
    odd = [{"x": {1: "a", "b": 2}}, {"by_status": {2: 5, 10: 1}}, {"l": [[{3: None}]]}]
    written = appender.try_append([AuditItem("a", "b", None, p) for p in odd])
    appender.close()
    assert written is not None and [s for s, _ in written] == [1, 2, 3]
    assert store.verify_audit() == []  # numbers sorted as JSON strings, as they read back
    assert store.audit_entries()[1].payload == {"by_status": {"10": 1, "2": 5}}


def test_appender_reads_the_tail_again_after_another_writer(tmp_path: Path) -> None:
    store = _store(tmp_path)
    appender = store.audit_appender()
    assert appender is not None
    assert [s for s, _ in appender.try_append([_item(1)]) or []] == [1]
    store.audit("alice", "review.approve", "primary-m", {"comment": "between"})  # seq 2
    assert [s for s, _ in appender.try_append([_item(3), _item(4)]) or []] == [3, 4]
    other = RunStore(f"sqlite:///{tmp_path / 'nova.db'}").audit_appender()
    assert other is not None
    assert [s for s, _ in other.try_append([_item(5)]) or []] == [5]
    assert [s for s, _ in appender.try_append([_item(6)]) or []] == [6]
    other.close()
    appender.close()
    assert [e.seq for e in store.audit_entries()] == [1, 2, 3, 4, 5, 6]
    assert store.verify_audit() == []


def test_appender_writes_a_new_head_file_once_the_old_one_was_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nova.store._audit as store_audit

    monkeypatch.setattr(store_audit, "_HEAD_RECHECK_S", 0.05)
    store = RunStore(f"sqlite:///{tmp_path / 'nova.db'}", audit_head=tmp_path / "audit.head")
    appender = store.audit_appender()
    assert appender is not None and store.audit_head is not None
    assert appender.try_append([_item(1)]) is not None
    store.audit_head.unlink()
    assert "is missing" in store.verify_audit()[0].problem
    time.sleep(0.06)  # past the recheck interval: the next commit reopens the path
    written = appender.try_append([_item(2)])
    appender.close()
    assert written is not None and store.audit_head.exists()
    assert store.verify_audit() == [] and store.audit_anchor() == written[-1]
