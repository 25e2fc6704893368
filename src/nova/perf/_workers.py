"""``nova perf run --workers N``: one load level over N local processes.

Each worker is a spawned process with its own event loop and connection pool; the parent
sends it the level, a common start time (wall clock, 0.3 s ahead) and its slice; the worker
returns its samples with its clock offset; the parent stores them and computes the level from
the stored samples of all workers (``merged_levels``)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing as mp
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from nova.config import Candidate
from nova.errors import NovaError
from nova.perf._load import run_level
from nova.perf._merge import LevelPlan, clock_offset_ns, level_slice
from nova.perf._metrics import RequestSample
from nova.shard import Shard

__all__ = ["WorkerPool"]

START_AHEAD_S = 0.3
"""The common start is this far ahead of the parent's command: every worker has its level by
then (a pipe message), so all slices start together."""


async def _slice(
    cand: Candidate, root: Path | None, prompts: list[str], job: dict[str, Any]
) -> tuple[int, list[tuple[int, dict[str, Any]]]]:
    from nova.providers import create_provider

    shard = Shard(job["index"], job["count"])
    owns, conc = level_slice(shard, job["concurrency"])
    if conc == 0:
        return clock_offset_ns(), []
    provider = create_provider(cand, workspace_root=root)
    await provider.start()
    try:
        offset = clock_offset_ns()
        start = job["start_wall_ns"] - offset  # this process's perf_counter_ns
        got = await run_level(
            provider,
            prompts,
            arrival=job["arrival"],
            concurrency=conc,
            rate=job["rate"],
            requests=job["requests"],
            warmup=job["warmup"],
            duration_s=job["duration_s"],
            output_tokens=job["output_tokens"],
            seed=job["seed"],
            owns=owns,
            start_ns=start,
        )
    finally:
        await provider.close()
    return offset, [(i, s.model_dump()) for i, s in got]


def _main(
    conn: Connection, cand_json: dict[str, Any], root: str | None, prompts: list[str]
) -> None:
    cand = Candidate.model_validate(cand_json)
    conn.send("ready")
    while True:
        job = conn.recv()
        if job is None:
            return
        try:
            conn.send(asyncio.run(_slice(cand, Path(root) if root else None, prompts, job)))
        except Exception as exc:  # reported to the parent, which raises it there
            conn.send(exc)


class WorkerPool:
    """N worker processes for one candidate (started once, reused for every level)."""

    def __init__(self, n: int, cand: Candidate, root: Path | None, prompts: list[str]) -> None:
        ctx = mp.get_context("spawn")
        self.n = n
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for _ in range(n):
            parent, child = ctx.Pipe()
            p = ctx.Process(
                target=_main,
                args=(child, cand.model_dump(mode="json"), str(root) if root else None, prompts),
                daemon=True,
            )
            p.start()
            self.conns.append(parent)
            self.procs.append(p)
        for c in self.conns:
            if c.recv() != "ready":
                raise NovaError("a perf worker process did not start; run without --workers")

    async def run_level(
        self, plan: LevelPlan, job: dict[str, Any]
    ) -> list[tuple[int, RequestSample, int, Shard]]:
        """Run ``plan`` over all workers from a common start; (index, sample, clock offset,
        slice) of every measured request."""
        start = time.time_ns() + int(START_AHEAD_S * 1e9)
        for k, c in enumerate(self.conns):
            c.send(
                {
                    **job,
                    "index": k,
                    "count": self.n,
                    "concurrency": plan.concurrency,
                    "rate": plan.rate,
                    "start_wall_ns": start,
                }
            )
        out: list[tuple[int, RequestSample, int, Shard]] = []
        for k, c in enumerate(self.conns):
            got = await asyncio.to_thread(c.recv)
            if isinstance(got, Exception):
                raise got
            offset, samples = got
            out += [
                (i, RequestSample.model_validate(s), offset, Shard(k, self.n)) for i, s in samples
            ]
        return out

    def close(self) -> None:
        """Stop the workers."""
        for c in self.conns:
            with contextlib.suppress(OSError):
                c.send(None)
        for p in self.procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
