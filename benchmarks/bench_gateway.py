"""Gateway overhead: latency the gateway adds in front of a model server, its CPU per request,
its memory, with auth, token budgets, audit and metrics on.

Setup: nova's mock server (zero delay, 16-token answers) in its own process; `nova serve` in
its own process on a temporary workspace whose primary candidate is that mock server, with
an app key that has an RPM limit and a token budget (both far above what the run uses, so
they are checked on every request but never reject); the benchmark client (aiohttp) in this
process. Each phase runs the same requests once straight to the mock server ("direct") and
once through the gateway; "added" is gateway minus direct for the same statistic.

Phases:
  rate       open loop, a request every 1/RATE s for SECONDS s, non-streaming; p50/p99 latency
  conc       closed loop at concurrency 32 for SECONDS s, non-streaming; throughput, p50/p99
  stream     closed loop at concurrency 8, streaming; time to first content chunk p50/p99
CPU per request = the gateway process's user+system CPU seconds (from /proc) during a phase
divided by the requests of that phase; RSS = the gateway's resident memory after the run.
Percentiles: nearest-rank over every request of the phase (no warm-up requests counted: the
first 200 requests of the rate phase and the first second of the others are a warm-up and
dropped; CPU of the warm-up of the closed-loop phases is counted, so their CPU per request
is slightly high). The machine is shared (2 cores,
other work running): the numbers are one run; run it twice to see the spread.

LiteLLM's proxy runs side by side when benchmarks/.venv-litellm exists (create it with
`python -m venv benchmarks/.venv-litellm && benchmarks/.venv-litellm/bin/pip install
'litellm[proxy]==1.108.7'`): one worker, a master key, no database, the same mock server.

Cores (2 on this machine, 3 processes): the mock server on core 0, the benchmark client on
core 1, the gateway (and LiteLLM) on core ``--gateway-core=N``, 0 by default: next to the
model server, which waits while the gateway works, so the application's client keeps a
core to itself as it would in production. With ``--gateway-core=1`` the client's own work
(aiohttp's client) runs on the gateway's core and shows up in the gateway's added latency:
about 0.1 ms more p50 at 500/s in runs that alternated the two placements (README,
"Gateway"). LiteLLM is slower on the model server's core (71-72 against 82-89 req/s at
concurrency 32), which raises nova's ratios against it.

On a machine shared with other jobs, ``--rt`` (root) runs the benchmark and the processes it
starts (mock server, gateway, LiteLLM) under SCHED_FIFO priority 10 (as ``chrt -f 10`` would):
they then preempt every ordinary process, so other jobs' CPU use no longer shows up as
queueing in the latencies. Both targets, direct and gateway, run under the same policy.

The last line also gives a CPU gauge: the best of five runs of a fixed pure-Python loop
before the run. The added latency follows the gateway's CPU time per request, so compare runs
only at similar gauges (this VM's speed drifts by a quarter with its host's load).

Run: python benchmarks/bench_gateway.py [SECONDS] [RATE] [--no-litellm] [--rt] [--gateway-core=N]
(defaults 4 s, 500/s). Exits 1 when the audit chain is broken or one of issue 12's targets is
missed in this run (at 500/s: added p50 <= 1 ms and p99 <= 5 ms; RSS < 150 MB; with LiteLLM:
>= 10x its rate at concurrency 32 and <= 1/10 of its CPU per plain request).
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from _mockproc import mock_server_process
from rich.console import Console
from rich.table import Table

from nova.config import Workspace
from nova.gateway import create_key
from nova.providers import MockServerSettings
from nova.store import open_store

_ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
SECONDS = float(_ARGS[0]) if _ARGS else 4.0
RATE = float(_ARGS[1]) if len(_ARGS) > 1 else 500.0
_CORE_ARG = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--gateway-core=")), "0")
if not _CORE_ARG.isdigit():
    sys.exit(f"--gateway-core={_CORE_ARG}: give a core number, e.g. --gateway-core=0")
GATEWAY_CORE = int(_CORE_ARG)
if hasattr(os, "sched_getaffinity") and GATEWAY_CORE not in os.sched_getaffinity(0):
    sys.exit(
        f"--gateway-core={GATEWAY_CORE}: not a core this process may use "
        f"({sorted(os.sched_getaffinity(0))})"
    )
WARMUP = 200
SRC = Path(__file__).resolve().parents[1] / "src"


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(p / 100 * len(s)) - 1))]  # nearest rank


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _body(stream: bool) -> bytes:
    msgs = [{"role": "user", "content": "Hallo Sophia, wie lange läuft mein Vertrag?"}]
    return json.dumps(
        {"model": "primary-m", "stream": stream, "max_tokens": 16, "messages": msgs}
    ).encode()


def _has_content(data: bytes) -> bool:
    try:
        chunk = json.loads(data)
    except ValueError:
        return False
    choices = chunk.get("choices") or [{}]
    return bool((choices[0].get("delta") or {}).get("content"))


async def _one(
    s: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], stream: bool
) -> tuple[float, float]:
    """(latency, time to first content chunk) in seconds."""
    t0 = time.perf_counter()
    ttft = float("nan")
    async with s.post(url, data=body, headers=headers) as r:
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {await r.text()}")
        if stream:
            async for line in r.content:
                if ttft != ttft and line.startswith(b"data: {") and _has_content(line[6:]):
                    ttft = time.perf_counter() - t0
        else:
            await r.read()
    return time.perf_counter() - t0, ttft


async def _rate(url: str, headers: dict[str, str]) -> list[float]:
    n = int(SECONDS * RATE) + WARMUP
    body = _body(False)
    lats = [0.0] * n
    errors: list[BaseException] = []
    pending: set[asyncio.Task[None]] = set()

    async def timed(i: int, s: aiohttp.ClientSession) -> None:
        try:
            lats[i] = (await _one(s, url, body, headers, False))[0]
        except Exception as exc:  # reported after the phase
            errors.append(exc)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256)) as s:
        start = time.perf_counter()
        for i in range(n):
            delay = start + i / RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # Only requests in flight are kept: a generator that held every finished task
            # (and its response) until the end stalled in a full garbage collection of them
            # (~100 ms once per ~3,600 requests), which showed up in every target's p99.
            task = asyncio.create_task(timed(i, s))
            pending.add(task)
            task.add_done_callback(pending.discard)
        while pending:
            await asyncio.gather(*pending)
    if errors:
        raise errors[0]
    return lats[WARMUP:]


async def _closed(
    url: str, headers: dict[str, str], conc: int, stream: bool
) -> tuple[list[float], list[float], float]:
    """Latencies and TTFTs of requests started after a 1 s warm-up, and the rate over the
    measured SECONDS."""
    body = _body(stream)
    lats: list[float] = []
    ttfts: list[float] = []
    count = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc * 2)) as s:
        t_warm = time.perf_counter() + 1.0
        t_end = t_warm + SECONDS

        async def worker() -> None:
            nonlocal count
            while (start := time.perf_counter()) < t_end:
                lat, ttft = await _one(s, url, body, headers, stream)
                if start >= t_warm:
                    count += 1
                    lats.append(lat)
                    ttfts.append(ttft)

        await asyncio.gather(*(worker() for _ in range(conc)))
        wall = time.perf_counter() - t_warm
    return lats, ttfts, count / wall


def _workspace(root: Path, mock_url: str) -> tuple[Workspace, str]:
    root.mkdir()
    (root / "nova.yaml").write_text(
        "version: 1\nname: Bench\ncandidates:\n"
        "  - id: primary-m\n    model: openai/nova-mock\n    role: primary\n"
        f"    provider: {{base_url: '{mock_url}', max_retries: 0, max_concurrency: 128,"
        " cache: false}\n",
        encoding="utf-8",
    )
    ws = Workspace(root)
    with open_store(ws) as store:
        key = create_key(store, name="bench", role="app", rpm=10_000_000, budget_tokens=10**12)
    return ws, key.secret


_LITELLM = Path(__file__).resolve().parent / ".venv-litellm" / "bin" / "litellm"
_LITELLM_KEY = "sk-bench-litellm-master"


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and its children (LiteLLM may run uvicorn in a child)."""
    total = _cpu_s(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += _tree_cpu_s(int(stat.parent.name))
    return total


def _pin_gateway() -> None:
    """In the gateway's (or LiteLLM's) process before it starts: its core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {GATEWAY_CORE})


def _start_litellm(tmp: Path, mock_url: str) -> tuple[subprocess.Popen[bytes], str]:
    cfg = tmp / "litellm.yaml"
    cfg.write_text(
        "model_list:\n  - model_name: primary-m\n    litellm_params:\n"
        f"      model: openai/nova-mock\n      api_base: {mock_url}\n      api_key: sk-none\n"
        f"general_settings:\n  master_key: {_LITELLM_KEY}\n",
        encoding="utf-8",
    )
    port = _free_port()
    proc = subprocess.Popen(
        [str(_LITELLM), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port),
         "--num_workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_pin_gateway,
    )  # fmt: skip
    _wait(f"http://127.0.0.1:{port}/health/liveliness", 120)
    return proc, f"http://127.0.0.1:{port}/v1/chat/completions"


Target = tuple[str, str, dict[str, str], "subprocess.Popen[bytes] | None"]


def _phases(targets: list[Target]) -> list[tuple[str, str, list[float], float | None, float]]:
    rows = []
    for phase in ("rate", "conc", "stream"):
        for name, url, headers, proc in targets:
            gc.collect()  # the previous phase's garbage, not during this one
            c0 = _tree_cpu_s(proc.pid) if proc else 0.0
            rps: float | None = None
            if phase == "rate":
                lats = asyncio.run(_rate(url, headers))
                label = f"{RATE:g} req/s, plain: latency"
            elif phase == "conc":
                lats, _, rps = asyncio.run(_closed(url, headers, 32, False))
                label = "concurrency 32, plain: latency"
            else:
                _, lats, rps = asyncio.run(_closed(url, headers, 8, True))
                label = "concurrency 8, streaming: time to first chunk"
            n = len(lats) + (WARMUP if phase == "rate" else 0)
            cpu = (_tree_cpu_s(proc.pid) - c0) / max(1, n) if proc else float("nan")
            rows.append((label, name, lats, rps, cpu))
    return rows


def _cpu_gauge_ms() -> float:
    """Best of five runs of a fixed pure-Python loop, in ms: how fast this machine's core is
    right now (a VM's speed drifts with its host's load; the gateway's latency follows it)."""
    best = math.inf
    for _ in range(5):
        t = time.perf_counter()
        sum(i * i for i in range(200_000))
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main() -> int:
    if "--rt" in sys.argv:
        # Inherited by every process started below.
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    gauge = _cpu_gauge_ms()
    con = Console(width=200)
    settings = MockServerSettings(output_tokens=16)
    litellm = _LITELLM.exists() and "--no-litellm" not in sys.argv
    rss: dict[str, float] = {}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp, mock_server_process(settings) as mock_url:
        ws, key = _workspace(Path(tmp) / "ws", mock_url)
        port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        gw = subprocess.Popen(
            [sys.executable, "-m", "nova", "--workspace", str(ws.root), "serve",
             "--port", str(port)],
            env=env, stderr=subprocess.DEVNULL, preexec_fn=_pin_gateway,
        )  # fmt: skip
        procs.append(gw)
        try:
            _wait(f"http://127.0.0.1:{port}/readyz")
            plain = {"Content-Type": "application/json"}
            targets: list[Target] = [
                ("direct", f"{mock_url}/chat/completions", plain, None),
                ("nova serve", f"http://127.0.0.1:{port}/v1/chat/completions",
                 {**plain, "Authorization": f"Bearer {key}"}, gw),
            ]  # fmt: skip
            if litellm:
                lp, lurl = _start_litellm(Path(tmp), mock_url)
                procs.append(lp)
                auth = {**plain, "Authorization": f"Bearer {_LITELLM_KEY}"}
                targets.append(("LiteLLM 1.108.7", lurl, auth, lp))
            rows = _phases(targets)
            for name, _, _, proc in targets:
                if proc is not None:
                    rss[name] = _rss_mb(proc.pid)
        finally:
            for p in procs:
                p.terminate()
                p.wait(20)
        with open_store(ws) as store:
            issues = store.verify_audit()
            n_audit = len(store.audit_entries())
    t = Table(title=f"The same mock server: direct, through nova serve, through LiteLLM "
                    f"({SECONDS:g} s per phase)")  # fmt: skip
    for col in ("phase", "target", "p50 ms", "added p50 ms", "p99 ms", "added p99 ms",
                "req/s", "gateway CPU ms/req"):  # fmt: skip
        t.add_column(col, justify="right")
    base: dict[str, tuple[float, float]] = {}
    for label, name, lats, rps, cpu in rows:
        p50, p99 = _pct(lats, 50), _pct(lats, 99)
        if name == "direct":
            base[label] = (p50, p99)
        b50, b99 = base[label]
        t.add_row(
            label, name, f"{p50 * 1e3:.2f}",
            "" if name == "direct" else f"{(p50 - b50) * 1e3:+.2f}",
            f"{p99 * 1e3:.2f}", "" if name == "direct" else f"{(p99 - b99) * 1e3:+.2f}",
            f"{rps:.0f}" if rps else "", "" if cpu != cpu else f"{cpu * 1e3:.3f}",
        )  # fmt: skip
    con.print(t)
    con.print(
        "RSS after the run: "
        + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items())
        + f"; nova audit records: {n_audit}, chain {'intact' if not issues else 'BROKEN'};"
        f" cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f},"
        f" CPU gauge {gauge:.1f} ms (a fixed Python loop before the run; lower = faster)"
        + ("; SCHED_FIFO 10" if "--rt" in sys.argv else "")
        + f"; gateway on core {GATEWAY_CORE}, mock server on core 0, client on core 1"
    )
    misses, unchecked = _check_targets(rows, rss)
    for line in misses:
        con.print(f"[bold red]missed[/]: {line}")
    for line in unchecked:
        con.print(f"not checked: {line}")
    if not misses:
        met = "met" if not unchecked else "checked here met"
        con.print(f"issue 12's targets {met} in this run (see the docstring)")
    return 0 if not issues and not misses else 1


def _check_targets(
    rows: list[tuple[str, str, list[float], float | None, float]], rss: dict[str, float]
) -> tuple[list[str], list[str]]:
    """Issue 12's targets, checked on this run's rows: at the open-loop rate (500/s by
    default) the gateway adds at most 1 ms p50 and 5 ms p99; its RSS stays under 150 MB; and
    with LiteLLM measured, the gateway reaches at least 10x its rate at concurrency 32 and
    uses at most a tenth of its CPU per plain request there (at 500/s LiteLLM saturates).
    Returns (misses, targets not checked and why)."""
    by = {(label, name): (lats, rps, cpu) for label, name, lats, rps, cpu in rows}
    rate = f"{RATE:g} req/s, plain: latency"
    conc = "concurrency 32, plain: latency"
    misses: list[str] = []
    unchecked: list[str] = []
    if RATE != 500.0:
        unchecked.append(f"added p50/p99 (the targets are for 500 req/s, this run: {RATE:g})")
    elif (rate, "nova serve") in by:
        d, g = by[(rate, "direct")][0], by[(rate, "nova serve")][0]
        for q, limit in ((50, 1.0), (99, 5.0)):
            added = (_pct(g, q) - _pct(d, q)) * 1e3
            if added > limit:
                misses.append(f"p{q} added at 500 req/s {added:+.2f} ms (target +{limit:g} ms)")
    mb = rss.get("nova serve", math.nan)
    if mb != mb:
        unchecked.append("RSS (not measured)")
    elif mb >= 150:
        misses.append(f"RSS {mb:.0f} MB (target < 150 MB)")
    lite = next((n for _, n, _, _, _ in rows if n.startswith("LiteLLM")), None)
    if lite is None:
        unchecked.append("the ratios against LiteLLM (not run)")
    elif (conc, lite) in by:
        _, nova_rps, nova_cpu = by[(conc, "nova serve")]
        _, lite_rps, lite_cpu = by[(conc, lite)]
        if nova_rps and lite_rps and nova_rps < 10 * lite_rps:
            misses.append(f"rate at concurrency 32 {nova_rps / lite_rps:.1f}x {lite} (target 10x)")
        if nova_cpu > 0 and lite_cpu > 0 and nova_cpu > lite_cpu / 10:
            misses.append(
                f"CPU per plain request at concurrency 32 1/{lite_cpu / nova_cpu:.0f} of "
                f"{lite}'s (target 1/10)"
            )
    return misses, unchecked


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, timeout_s: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
