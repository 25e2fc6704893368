"""Load generator accuracy and speed: nova against the known truth of its mock server, beside
guidellm, and how many requests per second the generator can send.

1. Accuracy. The mock server (own process, pinned to core 0) answers after a configured TTFT,
   then one token per chunk every ITL, all deadlines counted from the request's arrival. From
   the other core, nova's ``run_level``/``compute_level`` measure median TTFT and TPOT at
   concurrency 1, 16 and 64. Target: within 3 % or 1 ms (the larger) of the configured value.
   Two more clients measure the same server at the same load, same prompts: a raw-socket
   reference (asyncio.Protocol, no HTTP library: its error is what the mock server's timers
   and loopback add, the floor of this rig) and guidellm (its own venv, installed on first run).
2. Load delivered: requests in flight at the server per client (completion rate × the true
   latency, Little's law; a client's own timestamps would count its internal waits), and nova
   with a candidate's default ``max_concurrency`` (8), whose connection pool (2 × 8) holds a
   concurrency-64 level to 16 in flight while the waits inflate TTFT.
3. Speed: short requests at concurrency 64, non-streaming through ``provider.chat`` and
   streaming through ``run_level`` (it only streams), against a mock with no delays.

Exits 1 when nova misses the accuracy target, delivers under 90 % of the asked concurrency,
or sends under 1,000 requests/s. guidellm's numbers, or its failing to install or run, are
reported only.

Run: .venv/bin/python benchmarks/bench_perf_accuracy.py [--no-guidellm]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.table import Table

from nova.config import Candidate
from nova.perf import compute_level, run_level, synthetic_prompts
from nova.providers import (
    ChatRequest,
    Message,
    MockServer,
    MockServerSettings,
    Provider,
    create_provider,
)

HERE = Path(__file__).resolve().parent
GL_VENV = HERE / ".venv-guidellm"
GL_REQUIREMENTS = HERE / "guidellm_requirements.txt"
GL_TORCH = "torch==2.13.0"  # the CPU build on this machine's disk; plain torch pulls CUDA's
# One worker process: guidellm shares the client core with nothing else. Its default (10
# processes on that one core) measured 223 ms median TTFT for a 100 ms mock at concurrency 64,
# one process 134 ms: the better of the two is compared.
GL_ENV = {
    "GUIDELLM__MAX_WORKER_PROCESSES": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}

SETTINGS = ((100.0, 10.0), (20.0, 5.0))  # (ttft_ms, itl_ms) of the mock server
LEVELS = ((1, 20, 2), (16, 160, 16), (64, 320, 64))  # concurrency, measured requests, warm-up
OUTPUT_TOKENS = 64
# The mock would answer 96 tokens: an answer has 64 only if the client's cap (nova's
# max_tokens, guidellm's max_completion_tokens) reached the server.
MOCK_TOKENS = 96
PROMPT_TOKENS = 64
REL_TOL, ABS_TOL_MS = 0.03, 1.0
TIE_MS = 0.05  # errors closer than this are a tie
MIN_DELIVERED = 0.9
SPEED_TARGET = 1000.0
SPEED_CONCURRENCY = 64
SPEED_REQUESTS = 5000
SPEED_WARMUP = 500
_TICK = os.sysconf("SC_CLK_TCK")
_END = b"[DONE]\n\n\r\n0\r\n\r\n"  # last SSE event and the chunked body's terminator


@dataclass
class Measured:
    """One client's numbers for one load level."""

    ttft_ms: float | None = None
    tpot_ms: float | None = None
    ttft_p99_ms: float | None = None
    rate: float | None = None
    """Completed requests per second over the measured window."""
    requests: int = 0
    tokens: float | None = None
    cpu_ms_per_req: float | None = None
    error: str | None = None


# --- the mock server in its own process ------------------------------------------------------
def _serve(settings: MockServerSettings, core: int | None, conn: Connection) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    MockServer(settings).run_forever(on_ready=conn.send)


@contextmanager
def mock_server(settings: MockServerSettings, core: int | None) -> Iterator[tuple[str, int]]:
    """Base URL and pid of a mock server running in a spawned process."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(settings, core, child), daemon=True)
    proc.start()
    try:
        if not parent.poll(30):
            raise RuntimeError("the mock server did not start within 30 s")
        yield parent.recv(), proc.pid or 0
    finally:
        proc.terminate()  # SIGTERM: the server stops cleanly
        proc.join(10)


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _rate(spans: list[tuple[int, int]]) -> float | None:
    """Requests per second from first send to last end (nanosecond spans)."""
    wall = max(e for _, e in spans) - min(s for s, _ in spans) if spans else 0
    return len(spans) / wall * 1e9 if wall > 0 else None


def _in_flight(m: Measured, ttft_ms: float, itl_ms: float) -> float | None:
    """Requests in flight at the server by Little's law: completion rate × the true latency.
    A client's own timestamps would count requests waiting inside it as in flight."""
    true_s = (ttft_ms + (OUTPUT_TOKENS - 1) * itl_ms) / 1e3
    return m.rate * true_s if m.rate is not None else None


def _body(prompt: str) -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "max_tokens": OUTPUT_TOKENS,
        "ignore_eos": True,
        "stream_options": {"include_usage": True},
    }


# --- reference: a raw-socket client ---------------------------------------------------------
class _RefConn(asyncio.Protocol):
    """Timestamps every ``"content"`` key as its bytes arrive; parses no HTTP and no JSON."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.done: asyncio.Future[None] | None = None
        self.tokens: list[int] = []
        self.status = b""
        self.tail = b""

    def reset(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        self.done, self.tokens, self.status, self.tail = loop.create_future(), [], b"", b""
        return self.done

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        buf = self.tail + data  # a key split across two reads is found in the joined bytes
        self.tokens += [now] * (buf.count(b'"content"') - self.tail.count(b'"content"'))
        self.status = self.status or data[:12]
        self.tail = buf[-32:]
        if buf.endswith(_END) and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_exception(ConnectionError(f"connection closed: {exc}"))


async def _reference(url: str, prompts: list[str], c: int, n: int, w: int) -> Measured:
    loop = asyncio.get_running_loop()
    host, port = url.split("//")[1].split("/")[0].rsplit(":", 1)
    counter = iter(range(n + w))
    ttft: list[float] = []
    tpot: list[float] = []
    spans: list[tuple[int, int]] = []
    tokens: list[int] = []

    async def worker() -> None:
        _, conn = await loop.create_connection(_RefConn, host, int(port))
        assert conn.transport is not None
        try:
            for i in counter:
                body = json.dumps(_body(prompts[i % len(prompts)])).encode()
                req = (
                    f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: "
                    f"application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                done = conn.reset(loop)
                t0 = time.perf_counter_ns()
                conn.transport.write(req)
                await done
                t_end = time.perf_counter_ns()
                if conn.status != b"HTTP/1.1 200" or len(conn.tokens) < 2:
                    raise RuntimeError(f"bad answer: {conn.status!r}, {len(conn.tokens)} tokens")
                if i >= w:
                    first, last = conn.tokens[0], conn.tokens[-1]
                    ttft.append((first - t0) / 1e6)
                    tpot.append((last - first) / 1e6 / (len(conn.tokens) - 1))
                    spans.append((t0, t_end))
                    tokens.append(len(conn.tokens))
        finally:
            conn.transport.close()

    await asyncio.gather(*(worker() for _ in range(c)))
    return Measured(
        ttft_ms=statistics.median(ttft),
        tpot_ms=statistics.median(tpot),
        ttft_p99_ms=statistics.quantiles(ttft, n=100)[98] if len(ttft) > 1 else ttft[0],
        rate=_rate(spans),
        requests=len(ttft),
        tokens=statistics.median(tokens),
    )


# --- nova -------------------------------------------------------------------------------------
def _provider(url: str, max_concurrency: int | None) -> Provider:
    cfg: dict[str, Any] = {"base_url": url, "cache": False, "timeout_s": 120}
    if max_concurrency is not None:
        # The connection pool holds 2 × max_concurrency; the default (8) would make 48 of 64
        # requests wait for a connection inside the measured interval (see the load table).
        cfg["max_concurrency"] = max_concurrency
    return create_provider(
        Candidate.model_validate({"id": "m", "model": "openai/m", "provider": cfg})
    )


async def _nova(
    url: str, prompts: list[str], c: int, n: int, w: int, max_concurrency: int | None
) -> Measured:
    provider = _provider(url, max_concurrency)
    await provider.start()
    try:
        cpu0 = time.process_time()
        pairs = await run_level(
            provider,
            prompts,
            arrival="concurrency",
            concurrency=c,
            requests=n,
            warmup=w,
            output_tokens=OUTPUT_TOKENS,
        )
        cpu = time.process_time() - cpu0
    finally:
        await provider.close()
    samples = [s for _, s in pairs]
    lv = compute_level(samples, label=f"concurrency {c}", concurrency=c)
    if lv.ttft_ms is None or lv.tpot_ms is None or lv.failed or lv.incomplete:
        return Measured(requests=lv.successful, error=f"failures: {lv.errors}")
    return Measured(
        ttft_ms=lv.ttft_ms.median,
        tpot_ms=lv.tpot_ms.median,
        ttft_p99_ms=lv.ttft_ms.p99,
        rate=lv.request_throughput,
        requests=lv.successful,
        tokens=lv.output_tokens / lv.successful,
        cpu_ms_per_req=cpu / (n + w) * 1e3,
    )


# --- guidellm ---------------------------------------------------------------------------------
def ensure_guidellm(console: Console) -> tuple[Path | None, str]:
    """guidellm's executable and version, installing it into GL_VENV on first use; or None and
    why not."""
    exe = GL_VENV / "bin" / "guidellm"
    if not exe.exists():
        python = shutil.which("python3.11") or shutil.which("python3") or sys.executable
        pip = str(GL_VENV / "bin" / "pip")
        steps = [
            [python, "-m", "venv", str(GL_VENV)],
            [pip, "install", GL_TORCH],  # first, so that guidellm's "torch" is satisfied
            [pip, "install", "-r", str(GL_REQUIREMENTS)],
        ]
        console.print(f"Installing guidellm into {GL_VENV} (first run only, a few minutes)…")
        for cmd in steps:
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return None, f"{' '.join(cmd[:3])}: {exc}"
            if res.returncode != 0:
                last = (res.stderr.strip() or res.stdout.strip()).splitlines()[-1:] or ["?"]
                return None, f"{' '.join(cmd[:3])} failed: {last[0][:200]}"
    try:
        res = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"guidellm --version: {exc}"
    if res.returncode != 0:
        return None, f"guidellm --version failed: {res.stderr.strip()[-200:]}"
    return exe, res.stdout.strip().rsplit(" ", 1)[-1]


def guidellm_command(
    exe: Path, url: str, c: int, n: int, w: int, data: Path, out: Path
) -> list[str]:
    root = url.removesuffix("/v1")
    profile = {"kind": "concurrent", "streams": [c], "warmup": {"value": w, "mode": "requests"}}
    return [
        str(exe),
        "run",
        "--backend",
        f"kind=openai_http,target={root},request_format=/v1/chat/completions",
        "--profile",
        json.dumps(profile, separators=(",", ":")),
        "--constraint",
        f"kind=max_requests,count={n + w}",
        "--data",
        f"kind=json_file,path={data}",
        "--output",
        f"kind=json,path={out}",
        "--disable-console",
    ]


def _guidellm(exe: Path, url: str, c: int, n: int, w: int, workdir: Path) -> Measured:
    out = workdir / f"guidellm-c{c}.json"
    cmd = guidellm_command(exe, url, c, n, w, workdir / "data.json", out)
    try:
        res = subprocess.run(
            cmd,
            cwd=workdir,
            env={**os.environ, **GL_ENV},
            capture_output=True,
            text=True,
            timeout=240,
        )
    except subprocess.TimeoutExpired:
        return Measured(error="guidellm ran over 240 s")
    if res.returncode != 0 or not out.exists():
        lines = (res.stderr.strip() or res.stdout.strip()).splitlines() or ["no output"]
        return Measured(error=f"guidellm exit {res.returncode}: {lines[-1][:160]}")
    try:
        run = json.loads(out.read_text())["benchmarks"][0]
        m = run["metrics"]
        names = ("time_to_first_token_ms", "inter_token_latency_ms", "output_token_count")
        ok = {k: m[k]["successful"] for k in names}
        return Measured(
            ttft_ms=ok["time_to_first_token_ms"]["median"],
            tpot_ms=ok["inter_token_latency_ms"]["median"],  # = nova's TPOT definition
            ttft_p99_ms=ok["time_to_first_token_ms"]["percentiles"]["p99"],
            rate=m["request_totals"]["successful"] / run["duration"],
            requests=m["request_totals"]["successful"],
            tokens=ok["output_token_count"]["median"],
        )
    except (KeyError, IndexError, TypeError, ValueError, ZeroDivisionError) as exc:
        return Measured(error=f"unexpected guidellm JSON: {exc!r}")


# --- speed ------------------------------------------------------------------------------------
async def _speed_plain(url: str, n: int) -> tuple[float, float]:
    """Requests/s and client CPU ms per request, non-streaming through provider.chat."""
    provider = _provider(url, SPEED_CONCURRENCY)
    reqs = [
        ChatRequest(messages=[Message(role="user", content=p)], max_tokens=16, stream=False)
        for p in synthetic_prompts(256, 16)
    ]
    await provider.start()

    async def drive(k: int) -> None:
        todo = iter(range(k))

        async def worker() -> None:
            for i in todo:
                r = await provider.chat(reqs[i % len(reqs)])
                if r.usage.completion_tokens != 16:
                    raise RuntimeError(f"expected 16 tokens, got {r.usage.completion_tokens}")

        await asyncio.gather(*(worker() for _ in range(SPEED_CONCURRENCY)))

    try:
        await drive(SPEED_WARMUP)
        cpu0, t0 = time.process_time(), time.perf_counter()
        await drive(n)
        return n / (time.perf_counter() - t0), (time.process_time() - cpu0) / n * 1e3
    finally:
        await provider.close()


async def _speed_stream(url: str, n: int) -> tuple[float, float]:
    """Requests/s and client CPU ms per request, one-token streams through run_level."""
    provider = _provider(url, SPEED_CONCURRENCY)
    prompts = synthetic_prompts(256, 16)
    await provider.start()
    try:
        await run_level(
            provider,
            prompts,
            arrival="concurrency",
            concurrency=SPEED_CONCURRENCY,
            requests=SPEED_WARMUP,
            output_tokens=1,
        )
        cpu0, t0 = time.process_time(), time.perf_counter()
        pairs = await run_level(
            provider,
            prompts,
            arrival="concurrency",
            concurrency=SPEED_CONCURRENCY,
            requests=n,
            output_tokens=1,
        )
        rate, cpu = n / (time.perf_counter() - t0), (time.process_time() - cpu0) / n * 1e3
    finally:
        await provider.close()
    lv = compute_level([s for _, s in pairs], label="speed")
    if lv.successful != n:
        raise RuntimeError(f"{n - lv.successful} streaming requests failed: {lv.errors}")
    return rate, cpu


# --- the runs ---------------------------------------------------------------------------------
Results = dict[tuple[float, float, int], dict[str, Measured]]
SpeedRow = tuple[str, float, float, float]


def measure_accuracy(
    console: Console, gl_exe: Path | None, server_core: int | None
) -> tuple[Results, Measured]:
    """Every client at every setting and level; then nova with a default candidate at 64."""
    prompts = synthetic_prompts(max(n + w for _, n, w in LEVELS), PROMPT_TOKENS)
    results: Results = {}
    pool_check = Measured()
    with tempfile.TemporaryDirectory(prefix="nova-bench-") as tmp:
        workdir = Path(tmp)
        rows = [{"prompt": p, "output_tokens_count": OUTPUT_TOKENS} for p in prompts]
        (workdir / "data.json").write_text(json.dumps(rows))
        for ttft, itl in SETTINGS:
            settings = MockServerSettings(ttft_ms=ttft, itl_ms=itl, output_tokens=MOCK_TOKENS)
            with mock_server(settings, server_core) as (url, _pid):
                for c, n, w in LEVELS:
                    console.print(f"mock {ttft:g}/{itl:g} ms, concurrency {c}: {n} requests…")
                    got = {
                        "raw": asyncio.run(_reference(url, prompts, c, n, w)),
                        "nova": asyncio.run(_nova(url, prompts, c, n, w, max_concurrency=c)),
                    }
                    if gl_exe is not None:
                        got["guidellm"] = _guidellm(gl_exe, url, c, n, w, workdir)
                    results[(ttft, itl, c)] = got
                if (ttft, itl) == SETTINGS[-1]:
                    pool_check = asyncio.run(_nova(url, prompts, 64, 128, 0, max_concurrency=None))
    return results, pool_check


def measure_speed(server_core: int | None) -> list[SpeedRow]:
    """(mode, requests/s, client CPU ms per request, share of the server's core busy)."""
    rows: list[SpeedRow] = []
    with mock_server(MockServerSettings(output_tokens=16), server_core) as (url, pid):
        for name, fn in (
            ("non-streaming, provider.chat, 16 tokens", _speed_plain),
            ("streaming, run_level, 1 token", _speed_stream),
        ):
            cpu0, t0 = _cpu_s(pid), time.perf_counter()
            rate, client_ms = asyncio.run(fn(url, SPEED_REQUESTS))
            rows.append((name, rate, client_ms, (_cpu_s(pid) - cpu0) / (time.perf_counter() - t0)))
    return rows


# --- tables -----------------------------------------------------------------------------------
def _tol(truth: float) -> float:
    return max(REL_TOL * truth, ABS_TOL_MS)


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "—" if value is None else format(value, fmt)


def _cell(value: float | None, truth: float) -> str:
    """``101.89 (+1.89, +1.9%)``: the value and its error in ms and in percent."""
    if value is None:
        return "—"
    d = value - truth
    return f"{value:.2f} ({d:+.2f}, {d / truth:+.1%})"


def _table(title: str, columns: list[str], left: tuple[str, ...]) -> Table:
    table = Table(title=title)
    for col in columns:
        table.add_column(col, justify="left" if col in left else "right")
    return table


def accuracy_table(
    results: Results, title: str, failures: list[str], notes: list[str]
) -> tuple[Table, Counter[str]]:
    cols = ["mock ttft/itl", "conc", "metric", "truth ms", "raw client (err ms, %)",
            "nova (err ms, %)", "nova − raw", f"nova ≤ {REL_TOL:.0%} or {ABS_TOL_MS:g} ms",
            "guidellm (err ms, %)", "closer"]  # fmt: skip
    table = _table(title, cols, ("metric", "closer", "guidellm (err ms, %)"))
    closer_count: Counter[str] = Counter()
    for (ttft, itl, c), got in results.items():
        raw, nova, gl = got["raw"], got["nova"], got.get("guidellm")
        for metric, attr, truth in (("TTFT", "ttft_ms", ttft), ("TPOT", "tpot_ms", itl)):
            nv, rv = getattr(nova, attr), getattr(raw, attr)
            gv = getattr(gl, attr) if gl is not None else None
            where = f"{metric} at mock {ttft:g}/{itl:g} ms, concurrency {c}"
            ok = nv is not None and abs(nv - truth) <= _tol(truth)
            if not ok:
                why = f" ({nova.error})" if nova.error else ""
                failures.append(
                    f"{where}: nova {_num(nv)} ms, truth {truth:g} ms, allowed ±{_tol(truth):.2f}"
                    f" ms{why}"
                )
            if rv is not None and abs(rv - truth) > _tol(truth):
                notes.append(f"{where}: the raw client is {rv - truth:+.2f} ms off too")
            closer = "—"
            if nv is not None and gv is not None:
                d = abs(gv - truth) - abs(nv - truth)
                closer = "tie" if abs(d) < TIE_MS else ("nova" if d > 0 else "guidellm")
                closer_count[closer] += 1
            gl_cell = "not run" if gl is None else gl.error or _cell(gv, truth)
            own = f"{nv - rv:+.2f} ms" if nv is not None and rv is not None else "—"
            table.add_row(
                f"{ttft:g}/{itl:g} ms", str(c), metric, f"{truth:.2f}", _cell(rv, truth),
                _cell(nv, truth), own, "PASS" if ok else "FAIL", gl_cell, closer,
            )  # fmt: skip
        table.add_section()
    return table, closer_count


def load_table(results: Results, pool_check: Measured, title: str, failures: list[str]) -> Table:
    cols = ["mock ttft/itl", "conc", "client", "requests", "req/s", "in flight",
            "tokens/answer", "TTFT p99 ms", "nova CPU ms/req",
            f"≥ {MIN_DELIVERED:.0%} of conc"]  # fmt: skip
    table = _table(title, cols, ("client",))
    rows = [(k, name, m) for k, got in results.items() for name, m in got.items()]
    ttft, itl = SETTINGS[-1]
    # Library use of run_level on a provider with the default pool (max_concurrency 8): a
    # caveat for callers, not a gate; `nova perf run` (run_perf) sizes the pool to the level.
    rows.append(((ttft, itl, 64), "(run_level, unsized pool)", pool_check))
    for (ttft, itl, c), name, m in rows:
        gate = name.startswith("nova")  # the others are reported, never judged
        in_flight = _in_flight(m, ttft, itl)
        met = "yes" if (in_flight or 0.0) >= MIN_DELIVERED * c else "NO"
        if gate and met == "NO":
            failures.append(f"{name} at concurrency {c}: {in_flight or 0:.1f} in flight")
        if gate and m.tokens is not None and m.tokens != OUTPUT_TOKENS:
            failures.append(f"{name}: {m.tokens:g} tokens per answer, asked {OUTPUT_TOKENS}")
        verdict = m.error[:60] if m.error else (met if gate else f"({met})")
        if m is pool_check:
            table.add_section()
        table.add_row(
            f"{ttft:g}/{itl:g} ms", str(c), name, str(m.requests), _num(m.rate, ".1f"),
            _num(in_flight, ".1f"), _num(m.tokens, ".1f"), _num(m.ttft_p99_ms),
            _num(m.cpu_ms_per_req, ".2f"), verdict,
        )  # fmt: skip
    return table


def speed_table(rows: list[SpeedRow], title: str, failures: list[str]) -> Table:
    cols = ["mode", "req/s", "client CPU ms/req", "server core busy", f"≥ {SPEED_TARGET:,.0f}/s"]
    table = _table(title, cols, ("mode",))
    for name, rate, client_ms, busy in rows:
        ok = rate >= SPEED_TARGET
        if not ok:
            failures.append(f"{name}: {rate:,.0f} requests/s < {SPEED_TARGET:,.0f}")
        table.add_row(
            name, f"{rate:,.0f}", f"{client_ms:.3f}", f"{busy:.0%}", "yes" if ok else "NO"
        )
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    ap.add_argument("--no-guidellm", action="store_true", help="measure nova only")
    args = ap.parse_args()
    console = Console(width=max(Console().width, 170))
    cores = sorted(os.sched_getaffinity(0))
    server_core = cores[0] if len(cores) > 1 else None
    if len(cores) > 1:
        os.sched_setaffinity(0, {cores[1]})  # guidellm's processes inherit this core
    where = (
        f"server on core {cores[0]}, clients on core {cores[1]}"
        if len(cores) > 1
        else "ONE core only: server and clients share it"
    )
    gl_exe: Path | None = None
    gl_version = "skipped (--no-guidellm)"
    if not args.no_guidellm:
        gl_exe, gl_version = ensure_guidellm(console)
    if gl_exe is not None:
        gl_note = f"guidellm {gl_version}"
    elif args.no_guidellm:
        gl_note = "guidellm skipped (--no-guidellm)"
    else:
        gl_note = f"guidellm could not run offline: {gl_version}"

    t0 = time.perf_counter()
    results, pool_check = measure_accuracy(console, gl_exe, server_core)
    t_accuracy = time.perf_counter() - t0
    speed = measure_speed(server_core)

    failures: list[str] = []
    notes: list[str] = []
    acc, closer = accuracy_table(
        results,
        f"Accuracy: median TTFT and TPOT against the mock server's configured truth "
        f"({OUTPUT_TOKENS} output tokens, {PROMPT_TOKENS}-word prompts; {where}; {gl_note})",
        failures,
        notes,
    )
    load = load_table(
        results,
        pool_check,
        f"Load delivered (the same runs; in flight = req/s × true latency; nova's candidate "
        f"has max_concurrency = conc unless noted; {t_accuracy:.0f} s for both tables)",
        failures,
    )
    spd = speed_table(
        speed,
        f"Generator speed: {SPEED_REQUESTS:,} short requests at concurrency "
        f"{SPEED_CONCURRENCY}, mock with no delays ({where})",
        failures,
    )
    for table in (acc, load, spd):
        console.print(table)
    console.print(
        "raw client: asyncio.Protocol on a socket, no HTTP library; its error is the mock "
        "server's timer lateness plus loopback, a floor that no client beats on this machine."
    )
    if gl_exe is not None:
        example = guidellm_command(
            gl_exe, "http://127.0.0.1:PORT/v1", 16, 160, 16, Path("data.json"), Path("out.json")
        )
        quoted = " ".join(f"'{a}'" if "{" in a else a for a in example)
        env = " ".join(f"{k}={v}" for k, v in GL_ENV.items())
        console.print(
            f"guidellm {gl_version}, one run per level, e.g.: {env} {quoted}", soft_wrap=True
        )
        console.print(
            f"closer to the truth: nova {closer['nova']}, guidellm {closer['guidellm']}, "
            f"tie (< {TIE_MS} ms apart) {closer['tie']}"
        )
    else:
        console.print(gl_note)
    for note in notes:
        console.print(f"NOTE: {note}", soft_wrap=True)
    for f in failures:
        console.print(f"FAIL: {f}", soft_wrap=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
