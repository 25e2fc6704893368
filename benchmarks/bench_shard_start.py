"""``nova perf run --shard i/3`` started 1 s apart: how close together the shards start each
level through the store's start barrier (SQLite file; PostgreSQL when installed).

Three shard processes of one run are started one second apart (as pods of a Job start), each
sweeping concurrency 3, 6 and 12 (60 measured requests per level) against nova's mock server
(TTFT 10 ms, 1 ms between 4 tokens). Each shard stores how late it started every level against
the common start the barrier stored (its own wall clock); all run on this one machine, so they
share one clock. Three runs per store.

Reported per store: how far apart the shards registered for the first level (what the start
spread would be without the barrier), the shards' start offsets (ms after the common start:
min, median, max over every level and shard) and the start skew of a level (latest minus
earliest offset: median and max over levels). Informational (exits 0).

Run: .venv/bin/python benchmarks/bench_shard_start.py
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from nova.providers import MockServerSettings, running_mock_server
from nova.store import RunStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests._services import postgres_server  # the repository's PostgreSQL helper

SHARDS, RUNS, STAGGER_S = 3, 3, 1.0
LOAD = ["perf", "run", "--candidates", "m", "--concurrency", "3,6,12", "--requests", "60"]
LOAD += ["--warmup", "3", "--output-tokens", "4", "--no-saturation-stop", "--json"]


def _run(base: list[str], env: dict[str, str], run_id: str) -> None:
    procs = []
    for k in range(SHARDS):
        if procs:
            time.sleep(STAGGER_S)
        cmd = [*base, *LOAD, "--run-id", run_id, "--shard", f"{k}/{SHARDS}"]
        out = subprocess.DEVNULL
        procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE))
    for p in procs:
        _, err = p.communicate(timeout=300)
        if p.returncode != 0:
            raise SystemExit(f"shard failed: {err.decode()[-500:]}")


@contextlib.contextmanager
def _sqlite() -> Iterator[str | None]:
    yield None  # the workspace's own .nova/nova.db


def main() -> None:
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_mock_server(MockServerSettings(ttft_ms=10, itl_ms=1, output_tokens=4)) as url,
    ):
        stores: list[tuple[str, contextlib.AbstractContextManager[str | None]]] = [
            ("SQLite file", _sqlite()),
            ("PostgreSQL", postgres_server()),
        ]
        for name, ctx in stores:
            try:
                db = ctx.__enter__()
            except BaseException as exc:  # no PostgreSQL here (pytest's skip is a BaseException)
                rows.append([name, "not run", str(exc)[:60], "", "", ""])
                continue
            try:
                ws = Path(tmp) / name.split()[0]
                (ws / "datasets").mkdir(parents=True)
                provider = {"base_url": url, "cache": False}
                cand = {"id": "m", "model": "openai/m", "provider": provider}
                cfg = {"version": 1, "name": "b", "candidates": [cand]}
                (ws / "nova.yaml").write_text(yaml.safe_dump(cfg), "utf-8")
                env = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_")}
                if db:
                    env["NOVA_DATABASE_URL"] = db
                base = [sys.executable, "-m", "nova", "--workspace", str(ws)]
                spreads, offsets, skews = [], [], []
                for r in range(RUNS):
                    _run(base, env, f"b-{r}")
                    with RunStore(db or f"sqlite:///{ws / '.nova' / 'nova.db'}") as store:
                        starts = store.get_run(f"b-{r}").meta["starts"]
                    first = [v["at_ns"] for v in starts["m · concurrency 3"]["ready"].values()]
                    spreads.append((max(first) - min(first)) / 1e9)
                    for entry in starts.values():
                        offs = list(entry["offset_ms"].values())
                        offsets += offs
                        skews.append(max(offs) - min(offs))
            finally:
                ctx.__exit__(None, None, None)
            rows.append(
                [
                    name,
                    f"{RUNS} × {len(skews) // RUNS} levels",
                    f"{statistics.median(spreads):.2f}",
                    f"{min(offsets):.1f} / {statistics.median(offsets):.1f} / {max(offsets):.1f}",
                    f"{statistics.median(skews):.1f} / {max(skews):.1f}",
                ]
            )
    table = Table(
        title=f"{SHARDS} load shards started {STAGGER_S:g} s apart "
        f"({dt.date.today()}, {os.cpu_count()} cores)"
    )
    for col in (
        "store",
        "runs",
        "ready spread s (median)",
        "start offset ms min / median / max",
        "start skew ms median / max",
    ):
        table.add_column(col)
    for row in rows:
        table.add_row(*row[:5])
    Console().print(table)


if __name__ == "__main__":
    main()
