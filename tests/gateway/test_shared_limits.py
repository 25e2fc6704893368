"""RPM/TPM limits shared by gateway processes on one store (SQLite file and PostgreSQL):
each process decides on its own buckets and exchanges counts every ``limits_sync_s``."""

from __future__ import annotations

import asyncio
import bisect
import itertools
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from nova.gateway import ApiError, KeyRing, Limits, Principal, create_key, running_gateway
from nova.store import RunStore
from tests._services import postgres_server
from tests.gateway.conftest import CHAT, make_config, request

MINUTE = 29_000_000  # a unix minute (2025); the simulations cross into the next ones


class Clock:
    """Monotonic and wall clock of a simulated process, advanced by the test."""

    def __init__(self) -> None:
        self.t = 50.0

    def __call__(self) -> float:
        return self.t

    def wall(self) -> float:
        return MINUTE * 60 + self.t


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nova.db'}"
        return
    url: str = request.getfixturevalue("pg_url")
    yield url
    with RunStore(url) as store, store.engine.begin() as conn:  # the next test starts clean
        conn.exec_driver_sql("DELETE FROM gateway_rate_counters")
        conn.exec_driver_sql("DELETE FROM gateway_subject_usage")


def nodes(url: str, n: int, clock: Clock, stack: ExitStack) -> list[Limits]:
    """``n`` gateway processes' limits, each with its own connection to the store."""
    out = []
    for _ in range(n):
        store = stack.enter_context(RunStore(url))
        out.append(Limits(KeyRing(store, 1.0), clock, store=store, wall=clock.wall))
    return out


def admitted(limits: Limits, who: Principal, tokens: int = 1) -> bool:
    try:
        limits.admit(who, tokens)
    except ApiError as err:
        assert err.status == 429
        return False
    return True


def test_two_processes_together_admit_the_rpm_once_they_have_synced(store_url: str) -> None:
    clock = Clock()
    who = Principal(subject="k1", role="app", rpm=10)
    with ExitStack() as stack:
        a, b = nodes(store_url, 2, clock, stack)
        assert [admitted(a, who) for _ in range(6)] == [True] * 6
        asyncio.run(a.sync())
        asyncio.run(b.sync())
        # b has not served k1 yet; the 6 that a admitted this minute count against it.
        assert [admitted(b, who) for _ in range(5)] == [True] * 4 + [False]
        asyncio.run(b.sync())
        asyncio.run(a.sync())
        assert not admitted(a, who)  # a sees b's 4: the key's 10 are used up
        clock.t += 6.0  # one request refills (10 per 60 s), on each process's view
        assert admitted(a, who)
        asyncio.run(a.sync())
        asyncio.run(b.sync())
        assert not admitted(b, who)
        assert a.last_sync_error is None and b.syncs == 3


def test_tpm_refunds_reach_the_other_process(store_url: str) -> None:
    clock = Clock()
    who = Principal(subject="k2", role="app", tpm=100)
    with ExitStack() as stack:
        a, b = nodes(store_url, 2, clock, stack)
        res = a.admit(who, 80)
        asyncio.run(a.sync())
        asyncio.run(b.sync())
        assert not admitted(b, who, 30)  # 80 reserved elsewhere, 20 left
        a.settle(res, 10)  # 70 of the reservation go back
        asyncio.run(a.sync())
        asyncio.run(b.sync())
        assert admitted(b, who, 80)


@pytest.mark.parametrize(("per_node_rate", "seconds"), [(2.0, 60.0), (20.0, 180.0), (200.0, 60.0)])
def test_overshoot_stays_within_the_stated_bound(
    store_url: str, per_node_rate: float, seconds: float
) -> None:
    """Three processes, each sent ``per_node_rate`` requests per second of one key with
    rpm 60, syncing every second at staggered moments, over minutes that roll over. README
    bound: the single bucket's C + r*T, plus what the other processes admitted in two sync
    intervals (steady traffic), or at most one bucket C per other process (a flood onto
    full buckets)."""
    clock = Clock()
    rpm, n, sync_s = 60, 3, 1.0
    who = Principal(subject="k3", role="app", rpm=rpm)
    with ExitStack() as stack:
        procs = nodes(store_url, n, clock, stack)
        step = 1.0 / per_node_rate
        reqs = [(i * step + k * step / n, "req", k) for i in range(int(seconds / step))
                for k in range(n)]  # fmt: skip
        syncs = [(s * sync_s + k / n, "sync", k) for s in range(int(seconds)) for k in range(n)]
        events = sorted(reqs + syncs)
        start, times = clock.t, []
        for t, what, k in events:
            clock.t = start + t
            if what == "sync":
                asyncio.run(procs[k].sync())
            elif admitted(procs[k], who):
                times.append(t)
    unseen = min(rpm, per_node_rate * 2 * sync_s)  # per other process
    # Over the whole run, and in the busiest minute (one bucket: C + r * 60 s = 2 C).
    single_bucket = rpm + rpm * seconds / 60
    assert 0.9 * single_bucket <= len(times) <= single_bucket + (n - 1) * unseen
    busiest = max(bisect.bisect_left(times, t + 60) - i for i, t in enumerate(times))
    assert busiest <= 2 * rpm + (n - 1) * unseen
    # Per process alone (no sharing) they would have admitted n times the single bucket.
    assert len(times) < n * single_bucket * 0.6


def test_unreachable_store_falls_back_to_per_process_limits_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    who = Principal(subject="k4", role="app", rpm=4)
    with ExitStack() as stack:
        a, b = nodes(f"sqlite:///{tmp_path / 'nova.db'}", 2, clock, stack)
        assert a.store is not None
        with a.store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE gateway_rate_counters RENAME TO gone")
        assert [admitted(a, who) for _ in range(3)] == [True] * 3
        asyncio.run(a.sync())
        assert a.last_sync_error is not None and "gateway_rate_counters" in a.last_sync_error
        assert a.status.startswith("per process while the store fails: OperationalError")
        assert "rate-limit counters not shared" in caplog.text
        with a.store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE gone RENAME TO gateway_rate_counters")
        asyncio.run(a.sync())  # the 3 counted while the store failed are written now
        asyncio.run(b.sync())
        assert a.last_sync_error is None and a.status == "shared"
        assert [admitted(b, who) for _ in range(2)] == [True, False]


def test_oidc_subject_budget_is_shared_and_survives_a_restart(store_url: str) -> None:
    clock = Clock()
    who = Principal(subject="oidc:anna", role="app", budget_tokens=100)
    with ExitStack() as stack:
        a, b = nodes(store_url, 2, clock, stack)
        asyncio.run(b.sync())  # b starts
        a.settle(a.admit(who, 50), 30)
        asyncio.run(a.sync())
        # b has not read anna's usage yet (she never asked it): the lag of one sync.
        assert b.subject_used("oidc:anna") == 0
        b.admit(who, 60)
        asyncio.run(b.sync())
        assert b.subject_used("oidc:anna") == 30
        assert not admitted(b, who, 11)  # 30 used + 60 reserved
        assert admitted(b, who, 10)
    with ExitStack() as stack:
        (c,) = nodes(store_url, 1, clock, stack)  # a fresh process reads every subject
        asyncio.run(c.sync())
        assert c.subject_used("oidc:anna") == 30
        assert admitted(c, who, 70) and not admitted(c, who, 1)


def test_two_gateways_on_one_store_reject_above_the_key_rpm(
    store_url: str, tmp_path: Path, mock_urls: Callable[..., str]
) -> None:
    cfg = make_config(mock_urls(output_tokens=2), limits_sync_s=0.05)
    head = tmp_path / "audit.head"  # shared by both, as replicas share it on one store
    with ExitStack() as stack:
        urls = []
        store = stack.enter_context(RunStore(store_url, audit_head=head))
        key = create_key(store, name="shared", role="app", rpm=5).secret
        for _ in range(2):
            own = stack.enter_context(RunStore(store_url, audit_head=head))
            url, gw = stack.enter_context(running_gateway(cfg, own))
            gw.keys.load()
            urls.append(url)
            assert request(url, "GET", "/readyz").json()["limits"] == "shared"
        codes = []
        # 12 requests alternating between the two, 0.3 s apart (six sync intervals): each
        # gateway has seen the other's before the next one arrives; the refill in 3.3 s is
        # 5 * 3.3 / 60 = 0.3 of a request.
        for url in itertools.islice(itertools.cycle(urls), 12):
            r = request(url, "POST", "/v1/chat/completions", json_body=CHAT, key=key)
            codes.append(r.status)
            time.sleep(0.3)
        assert store.verify_audit() == []
    assert codes.count(200) == 5, codes
    assert codes.count(429) == 7


def test_a_bucket_made_after_a_minute_boundary_counts_the_others_previous_minute(
    store_url: str,
) -> None:
    clock = Clock()
    clock.t = 59.8  # 0.2 s before a minute boundary
    who = Principal(subject="k1", role="app", rpm=5)
    with ExitStack() as stack:
        a, b = nodes(store_url, 2, clock, stack)
        asyncio.run(b.sync())  # b runs, with no bucket for k1 yet
        assert [admitted(a, who) for _ in range(3)] == [True] * 3
        asyncio.run(a.sync())
        clock.t = 60.1  # the next minute: b's first request for k1 comes after it
        asyncio.run(b.sync())
        assert [admitted(b, who) for _ in range(3)] == [True, True, False]


def test_what_the_others_admitted_over_a_minute_ago_is_not_charged_to_a_new_bucket(
    store_url: str,
) -> None:
    clock = Clock()
    clock.t = 0.5
    who = Principal(subject="k1", role="app", rpm=5)
    with ExitStack() as stack:
        a, b = nodes(store_url, 2, clock, stack)
        asyncio.run(b.sync())  # b runs, with no bucket for k1 yet
        assert [admitted(a, who) for _ in range(5)] == [True] * 5
        asyncio.run(a.sync())
        clock.t = 1.5
        asyncio.run(b.sync())  # b sees a's 5 (its minute 0), still without a bucket
        clock.t = 119.5  # two minutes later both have their whole rate again
        asyncio.run(a.sync())
        asyncio.run(b.sync())
        assert [admitted(b, who) for _ in range(6)] == [True] * 5 + [False]
