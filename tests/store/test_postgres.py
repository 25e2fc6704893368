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
