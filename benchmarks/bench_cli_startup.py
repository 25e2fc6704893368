"""CLI start-up: `nova --help` and `nova --version` as whole processes (interpreter included).

Each command runs N times in a fresh process (one warm-up run first, not counted); the table
shows the median, min and max wall time, and the peak memory (largest max RSS of the child
processes so far; the runs of one command are alike).
Target: median of `nova --help` <= 0.3 s (issue 10; it was ~1.05 s and 113 MB when every
command imported matplotlib and the benchmarks pipeline). The numbers depend on the machine
and its load; `--check` exits 1 when the median misses the target.
Run: make bench  (or .venv/bin/python benchmarks/bench_cli_startup.py [--check] [N])
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

N = 15
TARGET_S = 0.3
COMMANDS = (["--help"], ["--version"])
_SRC = Path(__file__).resolve().parent.parent / "src"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_SRC), env.get("PYTHONPATH")) if p)
    return env


def time_command(args: list[str], n: int) -> tuple[list[float], int]:
    """Wall seconds of ``n`` runs of ``python -m nova ARGS``, and the last run's max RSS (KB)."""
    cmd = [sys.executable, "-m", "nova", *args]
    env = _env()
    subprocess.run(cmd, env=env, check=True, capture_output=True)  # warm the OS file cache
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    # ru_maxrss of children is the maximum over every child so far: all runs are alike.
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return times, rss


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--check"]
    n = int(args[0]) if args else N
    table = Table(title=f"nova start-up, whole process, {n} runs each (after 1 warm-up)")
    for col in ("Command", "Median s", "Min s", "Max s", "Max RSS MB"):
        table.add_column(col, justify="left" if col == "Command" else "right")
    medians = {}
    for cmd in COMMANDS:
        times, rss = time_command(cmd, n)
        medians[" ".join(cmd)] = statistics.median(times)
        table.add_row(
            "nova " + " ".join(cmd),
            f"{statistics.median(times):.3f}",
            f"{min(times):.3f}",
            f"{max(times):.3f}",
            f"{rss / 1024:.0f}",
        )
    Console().print(table)
    ok = medians["--help"] <= TARGET_S
    print(f"target: median of `nova --help` <= {TARGET_S} s: {'met' if ok else 'MISSED'}")
    return 0 if ok or "--check" not in sys.argv else 1


if __name__ == "__main__":
    raise SystemExit(main())
