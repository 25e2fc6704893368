"""Packed request rows (0006): every field and grade reads back exactly as it was written, in
every format the store has had, and a packed row is a fraction of the columns it replaces."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from nova.errors import StoreError
from nova.store import GradeRecord, RequestRecord, RunStore
from nova.store._migrations import migrate
from nova.store._packed import pack, packed_doc, unpack, unpacked_fields

SYSTEM = "Du bist die Kundenassistenz der Stadtwerke. " * 40
T0 = 5_612_238_002_481


def _full(i: int) -> RequestRecord:
    """A request with every field set, as the eval runner stores a streamed answer."""
    return RequestRecord(
        candidate="llama31-70b-vllm",
        case_id=f"dlg-{i:04d}",
        repeat=i % 2,
        request={
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Rechnung {i}? ä ß € \u2028 \U0001f600"},
            ],
            "max_tokens": 512,
            "temperature": 0.7,
            "top_p": 0.1 + 0.2,  # 0.30000000000000004: floats keep every digit
            "seed": 1234,
            "stream": True,
            "extra_body": {},
            "case_id": f"dlg-{i:04d}",
        },
        response={
            "tool_calls": [{"name": "escalate_to_human", "arguments": {"reason": "ä"}}],
            "cached": False,
            "attempts": 1 + i % 3,
            "request_id": f"chatcmpl-{i * 7919:x}",
            "guardrails": {"input": [], "blocked": None},
        },
        text=f"Guten Tag {i}",
        finish_reason="tool_calls",
        model_reported="meta-llama/Llama-3.1-70B-Instruct",
        prompt_tokens=402 + i,
        completion_tokens=24,
        usage_source="server",
        sent_at=dt.datetime(2026, 11, 30, 16, 36, 37, 545_301 + i, tzinfo=dt.UTC),
        t_send_ns=T0 + i,
        t_first_byte_ns=T0 + 48_000_000 + i,
        t_first_token_ns=T0 + 65_000_000 + i,
        t_last_token_ns=T0 + 65_000_000 + 23 * 3_100 + i,
        chunk_times_ns=[T0 + 65_000_000 + k * 3_100 + i for k in range(24)],
    )


def _records() -> list[RequestRecord]:
    return [
        *(_full(i) for i in range(6)),
        RequestRecord(candidate="a", case_id="c-bare", request={}),  # every optional unset
        RequestRecord(  # a failure, with the partial answer; one chunk; times at 2**62
            candidate="a",
            case_id="c-err",
            request={"messages": [{"role": "user", "content": "x"}]},
            text="Teil",
            error_type="timeout",
            error_message="read timeout after 60 s",
            t_send_ns=2**62,
            chunk_times_ns=[2**62 + 1],
        ),
        RequestRecord(candidate="a", case_id=None, repeat=3, request={"n": 1}, chunk_times_ns=[]),
    ]


def _grades(rec: RequestRecord) -> list[GradeRecord]:
    assert rec.case_id is not None
    key = {"candidate": rec.candidate, "case_id": rec.case_id, "repeat": rec.repeat}
    return [
        GradeRecord(**key, grader="contains_any", passed=True, detail="found 'Tag'"),
        GradeRecord(**key, grader="judge", passed=None, score=3.5, detail="unentschieden ä"),
        GradeRecord(**key, grader="max_length", passed=False),
    ]


def _store(tmp_path: Path, upto: str | None) -> RunStore:
    name = upto or "current"
    url = f"sqlite:///{tmp_path / name}.db"
    if upto is None:
        return RunStore(url)
    with RunStore(url, auto_migrate=False) as bare:
        migrate(bare.engine, upto=upto)
    return RunStore(url, auto_migrate=False)  # opened again: it sees the format it has


@pytest.mark.parametrize("upto", ["0004_gateway", "0005_request_parts", None])
def test_every_field_and_grade_reads_back_exactly(tmp_path: Path, upto: str | None) -> None:
    recs = _records()
    with _store(tmp_path, upto) as store:
        run = store.start_run("quality")
        results = [(r, _grades(r) if r.case_id else []) for r in recs]
        store.add_results(run.id, results[:4])  # two transactions: the second one packs
        store.add_results(run.id, results[4:])  # with the dictionary the first one stored
        got = list(store.iter_requests(run.id))
        grades = list(store.iter_grades(run.id))
    assert [r.model_dump_json() for r in got] == [r.model_dump_json() for r in recs]
    want = [g for _, gs in results for g in gs]
    assert [g.model_dump_json() for g in grades] == [g.model_dump_json() for g in want]


def test_a_packed_row_is_a_fraction_of_the_columns_it_replaces(tmp_path: Path) -> None:
    recs = [_full(i) for i in range(100)]
    dbs = {}
    for upto in ("0005_request_parts", None):
        with _store(tmp_path, upto) as store:
            run = store.start_run("quality")
            store.add_results(run.id, [(r, _grades(r)) for r in recs])
            dbs[upto] = store.url.removeprefix("sqlite:///")
    with sqlite3.connect(dbs[None]) as con:
        packed = [n for (n,) in con.execute("SELECT length(packed) FROM requests")]
        (dicts,) = con.execute("SELECT count(*) FROM request_dicts").fetchone()
        (grade_rows,) = con.execute("SELECT count(*) FROM grades").fetchone()
        (null_cols,) = con.execute(
            "SELECT count(*) FROM requests WHERE request = 'null' AND response IS NULL "
            "AND sent_at IS NULL AND chunk_times_ns IS NULL AND request_parts IS NULL"
        ).fetchone()
    with sqlite3.connect(dbs["0005_request_parts"]) as con:
        (before,) = con.execute(
            "SELECT avg(length(request) + length(response) + length(chunk_times_ns) "
            "+ length(request_parts) + length(sent_at) + length(model_reported)) FROM requests"
        ).fetchone()
    assert dicts == 1 and grade_rows == 0 and null_cols == 100
    # ~750 bytes of JSON and text per row before (and 3 grade rows); packed, the first row
    # is the dictionary itself and the others keep what differs: the case's turn and id,
    # the timings, the request id.
    assert before > 700
    assert max(packed[1:]) < 100


def test_grades_without_their_own_request_row_are_stored_alone(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'n.db'}")
    run = store.start_run("quality")
    a, b = _full(1), _full(2)
    other = GradeRecord(candidate=a.candidate, case_id="another-case", grader="x", passed=True)
    pairwise = GradeRecord(
        candidate=a.candidate, case_id="dlg-0001", grader="pairwise:weak", passed=True, score=1
    )
    store.add_results(run.id, [(a, [*_grades(a), other]), (None, [pairwise]), (b, _grades(b))])
    got = [g.model_dump() for g in store.iter_grades(run.id)]
    # Packed with their request first (in request order), then those stored alone.
    want = [*_grades(a), *_grades(b), other, pairwise]
    assert got == [g.model_dump() for g in want]
    with store.engine.connect() as conn:
        alone = conn.execute(sa.text("SELECT grader FROM grades ORDER BY id")).scalars().all()
    assert alone == ["x", "pairwise:weak"]
    # A failed request is deleted with the grades packed in its row.
    err = RequestRecord(candidate="c", case_id="e", request={}, error_type="timeout")
    store.add_results(
        run.id,
        [
            (
                err,
                [
                    GradeRecord(
                        candidate="c", case_id="e", grader="error", passed=False, detail="timeout"
                    )
                ],
            )
        ],
    )
    assert store.delete_failed(run.id, ["c"]) == 1
    assert [g.grader for g in store.iter_grades(run.id) if g.candidate == "c"] == []
    assert ("c", "e", 0) not in store.done_keys(run.id)
    store.close()


def test_rows_written_before_0006_read_as_before_next_to_packed_ones(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    with RunStore(url, auto_migrate=False) as bare:
        migrate(bare.engine, upto="0005_request_parts")
    old = RunStore(url, auto_migrate=False)  # opened again: it sees the format it has
    run = old.start_run("quality")
    recs = _records()
    old.add_results(run.id, [(r, _grades(r)) for r in recs[:3]])
    old.close()
    with RunStore(url) as store:  # migrates to 0006: old rows stay as they were written
        store.add_results(run.id, [(r, _grades(r)) for r in recs[3:6]])
        got = list(store.iter_requests(run.id))
        grades = list(store.iter_grades(run.id))
    assert [r.model_dump_json() for r in got] == [r.model_dump_json() for r in recs[:6]]
    # The new answers' grades are packed and come first; each case's grades stay together.
    want = [g for r in (*recs[3:6], *recs[:3]) for g in _grades(r)]
    assert [g.model_dump_json() for g in grades] == [g.model_dump_json() for g in want]
    with sqlite3.connect(tmp_path / "n.db") as con:
        packed = con.execute("SELECT packed IS NOT NULL FROM requests ORDER BY id").fetchall()
    assert [p for (p,) in packed] == [0, 0, 0, 1, 1, 1]


def test_each_writer_packs_with_its_own_dictionary(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    first, second = RunStore(url), RunStore(url)
    run = first.start_run("quality")
    recs = [_full(i) for i in range(8)]
    for i in range(0, 8, 2):  # interleaved batches of two writers of one run (shards)
        (first if i % 4 == 0 else second).add_requests(run.id, recs[i : i + 2])
    first.close()
    second.close()
    with RunStore(url) as reader, sqlite3.connect(tmp_path / "n.db") as con:
        got = list(reader.iter_requests(run.id))
        ids = [d for (d,) in con.execute("SELECT dict_id FROM requests ORDER BY id")]
    assert [r.model_dump_json() for r in got] == [r.model_dump_json() for r in recs]
    assert ids == [1, 1, 2, 2, 1, 1, 2, 2]


def test_a_missing_or_damaged_dictionary_is_a_store_error(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'n.db'}")
    run = store.start_run("quality")
    store.add_requests(run.id, [_full(0), _full(1)])
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE request_dicts SET body = '{}'"))
    with pytest.raises(StoreError, match="does not unpack"):
        list(store.iter_requests(run.id))
    with store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM request_dicts"))
    with pytest.raises(StoreError, match="missing from request_dicts"):
        list(store.iter_requests(run.id))
    store.close()


def test_pack_round_trip_and_the_dictionary_does_the_work() -> None:
    row = _full(1).model_dump()
    doc = packed_doc(row, "ab" * 32, [g.model_dump() for g in _grades(_full(1))])
    zdict = packed_doc(_full(2).model_dump(), "ab" * 32, [])
    blob = pack(doc, zdict)
    back = unpack(blob, zdict)
    assert back["parts"] == "ab" * 32 and len(back["grades"]) == 3
    fields = unpacked_fields(back)
    assert fields["sent_at"] == row["sent_at"] and fields["chunk_times_ns"] == row["chunk_times_ns"]
    assert json.dumps(fields["request"]) == json.dumps(row["request"])
    # Against an unrelated dictionary the same row is several times larger.
    assert len(blob) * 2 < len(pack(doc, b'{"unrelated": true}'))


def test_a_failed_first_batch_does_not_leave_its_dictionary_behind(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'n.db'}")
    run = store.start_run("quality")
    with pytest.raises(StoreError, match="stored twice"):  # the batch rolls back, dict too
        store.add_requests(run.id, [_full(0), _full(0)])
    store.add_requests(run.id, [_full(0), _full(1)])
    assert [r.model_dump_json() for r in store.iter_requests(run.id)] == [
        _full(0).model_dump_json(),
        _full(1).model_dump_json(),
    ]
    with store.engine.connect() as conn:
        ids = conn.execute(sa.text("SELECT id FROM request_dicts")).scalars().all()
    assert len(ids) == 1
    store.close()


def test_a_migration_cut_after_its_ddl_is_finished_when_the_store_opens_again(
    tmp_path: Path,
) -> None:
    from nova.store import _migrations

    url = f"sqlite:///{tmp_path / 'n.db'}"
    with RunStore(url, auto_migrate=False) as bare:
        migrate(bare.engine, upto="0005_request_parts")
    idx = [n for n, _ in _migrations.MIGRATIONS].index("0006_packed_requests")
    name, step = _migrations.MIGRATIONS[idx]

    def cut(conn: sa.Connection) -> None:
        step(conn)
        raise KeyboardInterrupt  # the process dies before the migration is recorded

    _migrations.MIGRATIONS[idx] = (name, cut)
    try:
        with RunStore(url, auto_migrate=False) as half, pytest.raises(KeyboardInterrupt):
            migrate(half.engine)
    finally:
        _migrations.MIGRATIONS[idx] = (name, step)
    with RunStore(url, auto_migrate=False) as half:
        assert name not in half.applied_migrations()
    with RunStore(url) as store:  # SQLite kept the DDL: each step sees it is done
        assert name in store.applied_migrations()
        run = store.start_run("quality")
        store.add_results(run.id, [(_full(0), _grades(_full(0)))])
        (got,) = store.iter_requests(run.id)
        assert got.model_dump_json() == _full(0).model_dump_json()
        assert len(list(store.iter_grades(run.id))) == 3
