from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from nova.errors import StoreError
from nova.store import MIGRATIONS, RequestRecord, RunStore
from nova.store._migrations import migrate


def test_empty_database_gets_every_migration_in_order(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'n.db'}")
    assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    assert store.migrate() == []  # idempotent
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"nova_migrations", "runs", "requests", "audit_log"} <= tables
    with sqlite3.connect(tmp_path / "n.db") as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_existing_database_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    # A store written by a nova that only knew the first migration.
    old = RunStore(url, auto_migrate=False)
    assert migrate(old.engine, upto=MIGRATIONS[0][0]) == [MIGRATIONS[0][0]]
    run = old.start_run("quality", profile="llm-core", meta={"dataset": "sha256:abc"})
    old.add_request(
        run.id,
        RequestRecord(
            candidate="a",
            case_id="c1",
            request={"m": 1},
            text="Guten Tag",
            prompt_tokens=5,
            completion_tokens=3,
            usage_source="server",
        ),
    )
    old.close()
    assert "audit_log" not in sa.inspect(sa.create_engine(url)).get_table_names()

    store = RunStore(url)  # opening migrates

    assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
    assert "audit_log" in sa.inspect(store.engine).get_table_names()
    (req,) = store.iter_requests(run.id)
    assert req.text == "Guten Tag" and req.usage_source == "server"
    assert store.get_run(run.id).meta == {"dataset": "sha256:abc"}


def test_database_from_a_newer_nova_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    RunStore(url).close()
    with sqlite3.connect(tmp_path / "n.db") as con:
        con.execute("INSERT INTO nova_migrations VALUES ('9999_future', '2030-01-01')")
    with pytest.raises(StoreError, match="newer nova"):
        RunStore(url)


def test_request_roundtrip_and_resume_keys(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'n.db'}")
    run = store.start_run("performance")
    recs = [
        RequestRecord(
            candidate="a",
            case_id=f"c{i}",
            request={"i": i},
            t_send_ns=10,
            t_first_token_ns=20,
            t_last_token_ns=30,
            chunk_times_ns=[20, 25, 30],
        )
        for i in range(3)
    ]
    assert store.add_requests(run.id, recs) == 3
    assert store.done_keys(run.id) == {("a", "c0", 0), ("a", "c1", 0), ("a", "c2", 0)}
    assert [r.chunk_times_ns for r in store.iter_requests(run.id)] == [[20, 25, 30]] * 3
    with pytest.raises(StoreError, match="stored twice"):
        store.add_request(run.id, recs[0])
    with pytest.raises(StoreError, match=r"ambiguous|no run"):
        store.get_run("x")


@pytest.mark.parametrize(
    "name", ["0006_packed_requests", "0007_run_cases", "0008_gateway_rate_counters"]
)
def test_a_migration_cut_after_its_ddl_is_finished_on_the_next_open(
    tmp_path: Path, name: str
) -> None:
    """SQLite (pysqlite's legacy transaction control) applies DDL as it runs: a process killed
    after a migration's DDL but before its record must not leave a store that cannot open."""
    from nova.store import _migrations

    idx = [n for n, _ in _migrations.MIGRATIONS].index(name)
    step = _migrations.MIGRATIONS[idx][1]

    def cut(conn: sa.Connection) -> None:
        step(conn)
        raise KeyboardInterrupt  # killed before the migration is recorded

    url = f"sqlite:///{tmp_path / 'n.db'}"
    _migrations.MIGRATIONS[idx] = (name, cut)
    try:
        with RunStore(url, auto_migrate=False) as half, pytest.raises(KeyboardInterrupt):
            _migrations.migrate(half.engine)
    finally:
        _migrations.MIGRATIONS[idx] = (name, step)
    with RunStore(url) as store:
        assert store.applied_migrations() == [n for n, _ in _migrations.MIGRATIONS]
