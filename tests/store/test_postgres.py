"""The same store on a real PostgreSQL server (started by the test, on 127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from nova.store import MIGRATIONS, RequestRecord, RunStore
from nova.store._migrations import migrate
from tests._services import postgres_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


def _fresh_db(pg_url: str, name: str) -> str:
    engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return pg_url.rsplit("/", 1)[0] + f"/{name}"


def test_postgres_store_migrates_an_empty_database_and_round_trips(pg_url: str) -> None:
    url = _fresh_db(pg_url, "empty_db")
    with RunStore(url) as store:
        assert store.applied_migrations() == [n for n, _ in MIGRATIONS]
        run = store.start_run("quality", profile="llm-core", meta={"ä": "ü"})
        store.add_requests(
            run.id,
            [
                RequestRecord(
                    candidate="a",
                    case_id=f"c{i}",
                    request={"i": i},
                    text="Grüß Gott",
                    t_send_ns=2**62,
                    chunk_times_ns=[2**62 + 1],
                )
                for i in range(5)
            ],
        )
        store.finish_run(run.id, "completed", meta={"n": 5})
        got = store.get_run(run.id)
        reqs = list(store.iter_requests(run.id))
    assert got.status == "completed" and got.meta == {"ä": "ü", "n": 5}
    assert got.started_at.tzinfo is not None
    assert [r.case_id for r in reqs] == [f"c{i}" for i in range(5)]
    assert reqs[0].t_send_ns == 2**62 and reqs[0].text == "Grüß Gott"


def test_postgres_store_upgrades_an_existing_database(pg_url: str) -> None:
    url = _fresh_db(pg_url, "old_db")
    old = RunStore(url, auto_migrate=False)
    migrate(old.engine, upto=MIGRATIONS[0][0])
    run = old.start_run("performance")
    old.add_request(run.id, RequestRecord(candidate="a", request={}))
    old.close()
    with RunStore(url) as store:
        assert store.applied_migrations() == [n for n, _ in MIGRATIONS]
        assert store.count_requests(run.id) == 1


def test_postgres_stores_request_parts_once_and_reads_bodies_exactly(pg_url: str) -> None:
    from tests.store.test_request_parts import _body, _dumps, _rec

    url = _fresh_db(pg_url, "parts_db")
    old = RunStore(url, auto_migrate=False)
    migrate(old.engine, upto="0004_gateway")
    run = old.start_run("quality")
    old.add_requests(run.id, [_rec(0)])  # a row written before 0005: the whole body
    old.close()
    with RunStore(url) as one, RunStore(url) as two:  # two shards of one run
        one.add_requests(run.id, [_rec(i) for i in range(1, 20)])
        two.add_requests(run.id, [_rec(i) for i in range(20, 40)])
        got = list(one.iter_requests(run.id))
        with one.engine.connect() as conn:
            parts = conn.execute(sa.text("SELECT count(*) FROM request_parts")).scalar_one()
    assert [_dumps(r.request) for r in got] == [_dumps(_body(i)) for i in range(40)]
    assert parts == 3  # the system prompt, the tools, the map of where they go


def test_postgres_reads_every_field_and_grade_of_rows_of_each_format(pg_url: str) -> None:
    from tests.store.test_packed_rows import _grades, _records

    url = _fresh_db(pg_url, "packed_db")
    recs = _records()
    with RunStore(url, auto_migrate=False) as bare:
        migrate(bare.engine, upto="0005_request_parts")
    old = RunStore(url, auto_migrate=False)  # opened again: it sees the format it has
    run = old.start_run("quality")
    old.add_results(run.id, [(r, _grades(r)) for r in recs[:3]])  # rows as 0005 wrote them
    old.close()
    with RunStore(url) as one, RunStore(url) as two:  # two shards: a dictionary each
        one.add_results(run.id, [(r, _grades(r) if r.case_id else []) for r in recs[3:6]])
        two.add_results(run.id, [(r, _grades(r) if r.case_id else []) for r in recs[6:]])
        got = list(one.iter_requests(run.id))
        grades = list(two.iter_grades(run.id))
        with one.engine.connect() as conn:
            dicts = conn.execute(sa.text("SELECT count(*) FROM request_dicts")).scalar_one()
    assert [r.model_dump_json() for r in got] == [r.model_dump_json() for r in recs]
    packed_first = [*recs[3:], *recs[:3]]
    want = [g for r in packed_first if r.case_id for g in _grades(r)]
    assert [g.model_dump_json() for g in grades] == [g.model_dump_json() for g in want]
    assert dicts == 2
