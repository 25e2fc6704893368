"""``nova perf run --workers N``: median TTFT and TPOT against the mock server's known truth at
concurrency 64 and 256, one client process vs two.

The mock server runs in its own process pinned to core 0 and answers after TTFT = 20 ms, then
one token per chunk every ITL = 5 ms (64 output tokens): the truth is TTFT 20 ms, TPOT 5 ms.
The load generator runs through ``run_perf`` (requests stored, levels computed from the
stored samples): one process pinned to core 1; two worker processes pinned to core 1; two
worker processes free to use both cores (sharing core 0 with the mock). This machine has two
cores, so the last row is the only one where a second process gets a second core.

Reported: median TTFT and TPOT (ms), their error against the truth, requests measured and the
level's output throughput. Informational (exits 0): the numbers depend on the shared machine.

Run: .venv/bin/python benchmarks/bench_perf_workers.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os

from _mockproc import mock_server_process
from rich.console import Console
from rich.table import Table

from nova.catalog import load_catalog
from nova.config import Candidate
from nova.perf import LevelMetrics, PerfSpec, run_perf
from nova.providers import MockServerSettings
from nova.store import RunStore

TTFT_MS, ITL_MS, TOKENS = 20.0, 5.0, 64
LEVELS = ((64, 512), (256, 768))  # concurrency, measured requests (warm-up = concurrency)
SETUPS = (
    ("1 process, core 1", 1, {1}),
    ("2 workers, core 1", 2, {1}),
    ("2 workers, cores 0-1", 2, {0, 1}),
)


def _level(url: str, conc: int, requests: int, workers: int) -> LevelMetrics:
    cand = Candidate.model_validate(
        {"id": "mock", "model": "openai/mock", "provider": {"base_url": url, "cache": False}}
    )
    spec = PerfSpec(
        candidates=["mock"],
        concurrency=[conc],
        requests=requests,
        warmup=conc,
        input_tokens=16,
        output_tokens=TOKENS,
    )
    with RunStore("sqlite://") as store:
        _, (res,) = asyncio.run(
            run_perf(None, None, spec, store, load_catalog(), candidates=[cand], workers=workers)
        )
    return res.levels[0]


def main() -> int:
    settings = MockServerSettings(ttft_ms=TTFT_MS, itl_ms=ITL_MS, output_tokens=TOKENS)
    table = Table(
        title=f"Median TTFT / TPOT vs truth {TTFT_MS:g} / {ITL_MS:g} ms "
        f"({dt.date.today()}, {os.cpu_count()} cores, mock on core 0)"
    )
    for col in (
        "concurrency",
        "client",
        "requests",
        "TTFT p50 ms",
        "error",
        "TPOT p50 ms",
        "error",
        "output tok/s",
    ):
        table.add_column(col)
    with mock_server_process(settings) as url:
        for conc, requests in LEVELS:
            for label, workers, cores in SETUPS:
                if hasattr(os, "sched_setaffinity"):
                    os.sched_setaffinity(0, cores)  # spawned workers inherit it
                lv = _level(url, conc, requests, workers)
                assert lv.ttft_ms is not None and lv.tpot_ms is not None
                table.add_row(
                    str(conc),
                    label,
                    f"{lv.successful}/{lv.requests}",
                    f"{lv.ttft_ms.p50:.2f}",
                    f"{lv.ttft_ms.p50 - TTFT_MS:+.2f}",
                    f"{lv.tpot_ms.p50:.3f}",
                    f"{lv.tpot_ms.p50 - ITL_MS:+.3f}",
                    f"{lv.output_throughput:,.0f}",
                )
    Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
