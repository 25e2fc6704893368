"""Run-store write throughput: one transaction per request (crash-safe per row) vs batches.

Prints a table; the numbers that matter are the ratios measured in one run on one machine.
Run: make bench  (or .venv/bin/python benchmarks/bench_store.py)
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nova.store import RequestRecord, RunStore

N = 2000
REPEATS = 3


def _records(n: int, tag: str) -> list[RequestRecord]:
    body = {"messages": [{"role": "user", "content": "Wie kündige ich meinen Vertrag?" * 4}]}
    return [
        RequestRecord(
            candidate="c",
            case_id=f"{tag}-{i}",
            request=body,
            text="Antwort " * 60,
            prompt_tokens=120,
            completion_tokens=240,
            usage_source="server",
            t_send_ns=i,
            t_first_token_ns=i + 1,
            t_last_token_ns=i + 2,
            chunk_times_ns=list(range(64)),
        )
        for i in range(n)
    ]


def bench(batch: int) -> float:
    """Rows per second for inserting N rows in transactions of ``batch`` rows."""
    rates = []
    for rep in range(REPEATS):
        with tempfile.TemporaryDirectory() as tmp:
            store = RunStore(f"sqlite:///{Path(tmp) / 'b.db'}")
            run = store.start_run("bench")
            recs = _records(N, f"r{rep}")
            t0 = time.perf_counter()
            for i in range(0, N, batch):
                store.add_requests(run.id, recs[i : i + batch])
            rates.append(N / (time.perf_counter() - t0))
            store.close()
    return statistics.median(rates)


def main() -> None:
    table = Table(
        title=f"Run store (SQLite WAL, synchronous=NORMAL): {N} request rows, median of {REPEATS}"
    )
    table.add_column("transaction size")
    table.add_column("rows/s", justify="right")
    table.add_column("vs 1 row/txn", justify="right")
    base = bench(1)
    for batch in (1, 10, 100):
        rate = base if batch == 1 else bench(batch)
        table.add_row(str(batch), f"{rate:,.0f}", f"{rate / base:.1f}×")
    Console().print(table)


if __name__ == "__main__":
    main()
