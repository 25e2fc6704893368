"""Cost of RPM/TPM limits shared through the store: the per-request hot path and one
exchange with the store.

Hot path: ``Limits.admit`` + ``Limits.settle`` for a principal with an RPM, a TPM and a token
budget, far above what the run uses (checked every time, never rejecting), CPU seconds per
call (``time.process_time``) over REQUESTS calls spread over SUBJECTS subjects; once with a
store to share through (the gateway's default) and once without (per-process limits, as
before ``gateway.limits_sync_s``). Exchange: ``Limits.sync`` of one of two processes on one
SQLite file store (or ``--url`` for PostgreSQL) after each of them admitted requests of
SUBJECTS subjects; wall and CPU milliseconds per exchange, median of ROUNDS. The gateway runs
the exchange in a worker thread once per ``limits_sync_s`` (1 s), never per request.

Run: python benchmarks/bench_limits.py [REQUESTS] [SUBJECTS] [ROUNDS] [--url URL]
(defaults 200000, 100, 50).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from nova.gateway import KeyRing, Limits, Principal
from nova.store import RunStore


def hot_path(limits: Limits, requests: int, subjects: int) -> float:
    """Microseconds of CPU per admit + settle."""
    who = [
        Principal(subject=f"s{i}", role="app", rpm=10**9, tpm=10**12, budget_tokens=10**15)
        for i in range(subjects)
    ]
    t = time.process_time()
    for n in range(requests):
        limits.settle(limits.admit(who[n % subjects], 300), 120)
    return (time.process_time() - t) / requests * 1e6


def exchange(url: str, subjects: int, rounds: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of one sync with the other process's counts new."""

    async def run(a: Limits, b: Limits) -> tuple[list[float], list[float]]:
        who = [
            Principal(subject=f"x{i}", role="app", rpm=10**9, tpm=10**12) for i in range(subjects)
        ]
        walls, cpus = [], []
        for _ in range(rounds):
            for p in who:
                a.settle(a.admit(p, 300), 120)
                b.settle(b.admit(p, 300), 120)
            await b.sync()
            w, c = time.perf_counter(), time.process_time()
            await a.sync()
            walls.append((time.perf_counter() - w) * 1000)
            cpus.append((time.process_time() - c) * 1000)
        return walls, cpus

    with RunStore(url) as one, RunStore(url) as two:
        walls, cpus = asyncio.run(
            run(Limits(KeyRing(one, 1.0), store=one), Limits(KeyRing(two, 1.0), store=two))
        )
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str]) -> None:
    url = None
    if "--url" in argv:
        i = argv.index("--url")
        url = argv[i + 1]
        del argv[i : i + 2]
    requests, subjects, rounds = (int(a) for a in (argv + ["200000", "100", "50"][len(argv) :]))
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'nova.db'}"
        with RunStore(db) as store:
            for label, shared in (("per process", None), ("shared", store)):
                us = hot_path(Limits(KeyRing(store, 1.0), store=shared), requests, subjects)
                print(f"admit+settle, {label:11}: {us:.2f} us CPU per request")
        wall, cpu = exchange(url or db, subjects, rounds)
    where = "PostgreSQL" if url else "SQLite file"
    print(f"sync with {subjects} active subjects on {where}: {wall:.2f} ms wall, {cpu:.2f} ms CPU")


if __name__ == "__main__":
    main(sys.argv[1:])
