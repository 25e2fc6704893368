"""Repeated request parts are stored once per run; every body reads back byte for byte."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from nova.errors import StoreError
from nova.store import MIGRATIONS, RequestRecord, RunStore
from nova.store._migrations import migrate
from nova.store._parts import PART_MIN_BYTES, join_request, split_request

SYSTEM = "Du bist der Kundenservice der Stadtwerke. " * 80  # ~3.4 KB, like the starter prompt
TOOLS = [
    {
        "name": "escalate_to_human",
        "description": "Hand the conversation over to a human agent. " * 4,
        "parameters": {
            "type": "object",
            "properties": {"reason": {"type": "string", "description": "Why"}},
            "required": ["reason"],
        },
    }
]


def _body(i: int) -> dict[str, Any]:
    # Key order as ChatRequest.model_dump gives it; the case's own message stays inline.
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Wie hoch ist meine Rechnung {i}? ä ß €"},
        ],
        "max_tokens": 512,
        "temperature": 0.0,
        "seed": 1234 + i % 3,
        "tools": TOOLS,
        "stream": True,
        "ignore_eos": False,
        "extra_body": {},
        "case_id": f"c{i}",
    }


def _rec(i: int, body: dict[str, Any] | None = None) -> RequestRecord:
    return RequestRecord(
        candidate="a",
        case_id=f"c{i}",
        request=body or _body(i),
        text=f"Antwort {i}",
        chunk_times_ns=[5_612_238_002_481 + 4_000 * k + i for k in range(24)] if i % 2 else [7],
    )


def _dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False)


def test_split_and_join_give_back_the_same_bytes() -> None:
    body = {
        "z_first": "short",
        "messages": [{"role": "user", "content": "x" * PART_MIN_BYTES}, {"role": "user"}],
        "messages.0": ["not", "a", "message", "path"],
        "tools": TOOLS,
        "n": 1.5,
    }
    rest, refs, parts = split_request(body)
    assert rest["messages"][0] is None and rest["tools"] is None and rest["n"] == 1.5
    assert set(refs) == {"keys", "messages"} and set(refs["messages"]) == {"0"}
    assert len(parts) == 2
    back = join_request(rest, refs, lambda sha: json.loads(parts[sha]))
    assert _dumps(back) == _dumps(body)
    # Below the size threshold nothing moves: a reference would cost more than it saves.
    small = {"messages": [{"role": "user", "content": "hi"}]}
    assert split_request(small) == (small, {}, {})


def test_repeated_parts_are_stored_once_and_bodies_read_back_exactly(tmp_path: Path) -> None:
    db = tmp_path / "n.db"
    store = RunStore(f"sqlite:///{db}")
    run = store.start_run("quality")
    bodies = [_body(i) for i in range(200)]
    for i in range(0, 200, 50):  # several transactions, as the runner's writer commits
        store.add_results(run.id, [(_rec(j, bodies[j]), []) for j in range(i, i + 50)])
    got = list(store.iter_requests(run.id))
    assert [_dumps(r.request) for r in got] == [_dumps(b) for b in bodies]
    assert [r.text for r in got] == [f"Antwort {i}" for i in range(200)]
    assert [r.chunk_times_ns for r in got] == [_rec(i).chunk_times_ns for i in range(200)]
    with sqlite3.connect(db) as con:
        assert (
            con.execute("SELECT count(*) FROM request_parts").fetchone()[0] == 3
        )  # prompt, tools, map
        packed = [len(r[0]) for r in con.execute("SELECT packed FROM requests")]
    # The whole body is ~3.9 KB and 24 chunk times are ~380 bytes of JSON; what a row keeps
    # (packed against the run's dictionary, tests/store/test_packed_rows.py) is the case's
    # own message and settings, the chunk gaps and the timings.
    assert len(_dumps(bodies[0])) > 3500
    assert len(json.dumps(_rec(1).chunk_times_ns)) > 350
    assert max(packed) < 200
    store.close()


def test_each_run_has_its_own_parts_and_a_filter_by_candidate_reads_them(
    tmp_path: Path,
) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'n.db'}")
    a, b = store.start_run("quality"), store.start_run("quality")
    store.add_requests(a.id, [_rec(1)])
    store.add_requests(b.id, [_rec(1), RequestRecord(candidate="b", case_id="c1", request={})])
    (only,) = store.iter_requests(b.id, candidate="a")
    assert _dumps(only.request) == _dumps(_body(1))
    with store.engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM request_parts")).scalar_one()
    assert n == 6  # per run: the system prompt, the tools, the map of where they go


def test_rows_written_before_the_migration_still_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = RunStore(url, auto_migrate=False)
    migrate(old.engine, upto="0004_gateway")
    run = old.start_run("quality")
    old.add_requests(run.id, [_rec(i) for i in range(3)])  # whole bodies in the row
    old.close()
    with sqlite3.connect(tmp_path / "old.db") as con:
        (text,) = con.execute("SELECT request FROM requests LIMIT 1").fetchone()
    assert SYSTEM in json.loads(text)["messages"][0]["content"]

    store = RunStore(url)  # migrates to 0005; the old rows stay as they are
    assert store.applied_migrations() == [n for n, _ in MIGRATIONS]
    store.add_requests(run.id, [_rec(i) for i in range(3, 6)])  # new rows: split
    got = list(store.iter_requests(run.id))
    assert [_dumps(r.request) for r in got] == [_dumps(_body(i)) for i in range(6)]
    assert [r.chunk_times_ns for r in got] == [_rec(i).chunk_times_ns for i in range(6)]
    assert store.done_keys(run.id) == {("a", f"c{i}", 0) for i in range(6)}


def test_a_failed_transaction_does_not_forget_its_parts(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'n.db'}")
    run = store.start_run("quality")
    store.add_requests(run.id, [_rec(0)])
    other = {**_body(1), "tools": [{**TOOLS[0], "name": "other_tool"}]}
    with pytest.raises(StoreError, match="stored twice"):  # c0 again: the batch rolls back
        store.add_requests(run.id, [_rec(1, other), _rec(0)])
    store.add_requests(run.id, [_rec(1, other)])  # its new part must be written now
    assert _dumps(list(store.iter_requests(run.id))[1].request) == _dumps(other)


def test_a_missing_part_is_a_store_error(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'n.db'}")
    run = store.start_run("quality")
    store.add_requests(run.id, [_rec(0)])
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM request_parts"))
    with pytest.raises(StoreError, match="missing from request_parts"):
        list(store.iter_requests(run.id))


def test_writers_of_one_run_in_two_stores_share_parts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    first, second = RunStore(url), RunStore(url)
    run = first.start_run("quality")

    def write(store: RunStore, lo: int) -> None:
        for i in range(lo, lo + 40, 10):
            store.add_requests(run.id, [_rec(j) for j in range(i, i + 10)])

    threads = [
        threading.Thread(target=write, args=(first, 0)),
        threading.Thread(target=write, args=(second, 40)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = sorted(first.iter_requests(run.id), key=lambda r: int((r.case_id or "c0")[1:]))
    assert [_dumps(r.request) for r in got] == [_dumps(_body(i)) for i in range(80)]
