"""Eval runner throughput and memory: graded cases per second, and peak RSS for 10,000 cases.

Against nova's mock server (its own process, pinned to core 0, zero latency) with
deterministic graders; the runner runs here, pinned to core 1, through the real stack:
OpenAI adapter (streaming), CandidateClient, graders, run store (SQLite, batched commits).
Targets (issue #4): >= 500 graded cases/s, < 300 MB peak RSS for 10,000 cases.

Run: make bench  (or .venv/bin/python benchmarks/bench_evals.py [cases])
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from _mockproc import mock_server_process, write_mock_config
from rich.console import Console
from rich.table import Table

from nova.config import Workspace, load_config
from nova.evals import EvalSpec, run_eval
from nova.providers import MockServerSettings
from nova.store import RunStore

CASES = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
TARGET_RATE = 500.0
TARGET_MB = 300.0


def _workspace(root: Path, url: str, n: int) -> Workspace:
    (root / "datasets").mkdir(parents=True)
    with (root / "datasets" / "bench.jsonl").open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "id": f"b{i:05d}",
                        "category": "dialogue",
                        "language": "de",
                        "messages": [
                            {"role": "user", "content": f"Wie hoch ist meine Rechnung {i}?"}
                        ],
                        "expect": [
                            {"grader": "contains_any", "values": ["Tag", "Rechnung"]},
                            {"grader": "escalation", "expected": False},
                            {"grader": "max_length", "chars": 1200},
                        ],
                        "rationale": "benchmark",
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    write_mock_config(root, url)
    return Workspace(root)


def main() -> None:
    with (
        mock_server_process(MockServerSettings(output_tokens=24)) as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        ws = _workspace(Path(tmp) / "ws", url, CASES)
        loaded = load_config(ws.config_file)
        spec = EvalSpec(candidates=["mock"], datasets=["bench"], max_tokens=24)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        with RunStore(ws.default_database_url) as store:
            t0 = time.perf_counter()
            run_id = asyncio.run(run_eval(ws, loaded, spec, store))
            wall = time.perf_counter() - t0
            stored = store.count_requests(run_id)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = stored / wall
    table = Table(
        title=f"Eval runner: {CASES:,} cases x 3 deterministic graders, mock server "
        "with zero latency, streaming, 64 in flight"
    )
    for col in (
        "cases stored",
        "wall s",
        "graded cases/s",
        "target",
        "peak RSS MB",
        "RSS before run MB",
        "target",
    ):
        table.add_column(col, justify="right")
    table.add_row(
        f"{stored:,}",
        f"{wall:.1f}",
        f"{rate:,.0f}",
        "ok" if rate >= TARGET_RATE else f"MISSED (< {TARGET_RATE:.0f})",
        f"{peak:.0f}",
        f"{rss0:.0f}",
        "ok" if peak < TARGET_MB else f"MISSED (>= {TARGET_MB:.0f})",
    )
    Console().print(table)
    if stored != CASES or rate < TARGET_RATE or peak >= TARGET_MB:
        sys.exit(1)


if __name__ == "__main__":
    main()
