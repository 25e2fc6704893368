"""A common start for the shards of a run, through the shared store.

Load shards run in pods or on machines that start seconds apart; a load level is the level
asked for only while all its slices send at once. Before each level, every shard of the level
registers in the run's meta (``starts``: its shard, its wall-clock ready time, its attempt) and
waits. The shard that completes the set writes the common start: the latest ready time plus
``margin``, an absolute wall-clock time (ns since the epoch) that every shard waits for on its
own clock. After the level each shard stores how late it really started against that time.

Clocks: shards on one machine share one clock; shards on several machines must have
NTP-synchronised clocks. The offsets stored are measured by each shard's own clock against
the stored start, so they show scheduling lateness, not the offset between two machines'
clocks (that is as small as their NTP sync, typically a few ms or less).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from nova.errors import NovaError
from nova.shard._shard import Shard
from nova.store import RunStore

__all__ = ["SKEW_DEFINITION", "StartBarrier", "start_skews"]

SKEW_DEFINITION = (
    "start skew = latest minus earliest start of the level's shards, each measured by the "
    "shard's own wall clock against the common start stored in the run (clocks assumed "
    "NTP-synchronised; their offset between machines is not included)"
)

MARGIN_S = 0.3
"""The common start is this far after the last shard's ready time: every waiting shard reads
it from the store (one poll, 50 ms) before it comes."""

POLL_S = 0.05
"""How often a waiting shard reads the run (N shards: N/0.05 small reads per second)."""


def _missing(meta: dict[str, Any], entry: dict[str, Any], count: int) -> list[str]:
    """Shards of the level without a registration of their current attempt (a shard that
    failed, or that was started again since, must register anew)."""
    ready = entry.get("ready") or {}
    out = []
    for k in range(int(entry["shards"])):
        s = Shard(k, count)
        rec = meta.get(s.key) or {}
        mine = ready.get(s.label) or {}
        if rec.get("status") != "running" or rec.get("started_at") != mine.get("attempt"):
            out.append(s.label)
    return out


def _with_status(meta: dict[str, Any], label: str) -> str:
    """``1/3``, with why it is not there when it is not running (``1/3 (not started)``)."""
    status = (meta.get(Shard.parse(label).key) or {}).get("status")
    return label if status == "running" else f"{label} ({status or 'not started'})"


@dataclass
class StartBarrier:
    """The common start of one shard's load levels (``wait`` before a level, ``record`` after)."""

    store: RunStore
    run_id: str
    shard: Shard
    attempt: str
    """This shard's attempt: its ``started_at`` in the run's meta (set by ``join_run``)."""
    timeout_s: float = 600.0
    """How long to wait for the other shards of a level."""
    margin_s: float = MARGIN_S

    def _decide(self, key: str, meta: dict[str, Any]) -> dict[str, Any]:
        """Under the run's lock: the common start, once every shard of the level is there."""
        entry = meta["starts"][key]
        if "start_ns" not in entry and not _missing(meta, entry, self.shard.count):
            latest = max(int(r["at_ns"]) for r in entry["ready"].values())
            entry["start_ns"] = latest + int(self.margin_s * 1e9)
        return meta

    async def wait(self, key: str, active: int, what: str) -> int:
        """Register for level ``key`` (``active`` shards take part: 0..active-1) and wait until
        all did; the common start (wall clock, ns since the epoch). A shard that comes after
        the start was set (run again) gets it at once, even when it is past."""

        def register(meta: dict[str, Any]) -> dict[str, Any]:
            entry = meta.setdefault("starts", {}).setdefault(key, {"shards": active, "ready": {}})
            if "start_ns" not in entry:
                mine = {"at_ns": time.time_ns(), "attempt": self.attempt}
                entry["ready"][self.shard.label] = mine
            return self._decide(key, meta)

        meta = await asyncio.to_thread(self.store.update_meta_with, self.run_id, register)
        deadline = time.monotonic() + self.timeout_s
        while True:
            entry = meta["starts"][key]
            if "start_ns" in entry:
                return int(entry["start_ns"])
            missing = _missing(meta, entry, self.shard.count)
            if not missing:  # a shard started again made the set complete: decide now
                meta = await asyncio.to_thread(
                    self.store.update_meta_with, self.run_id, lambda m: self._decide(key, m)
                )
                continue
            if time.monotonic() > deadline:
                n = self.shard.count
                named = [_with_status(meta, label) for label in missing]
                raise NovaError(
                    f"run {self.run_id}: shard(s) {', '.join(named)} did not come to the start "
                    f"of {what} within {self.timeout_s:g} s; start every shard of the run "
                    f"together (the same command with --shard I/{n}, I = 0..{n - 1}), or give "
                    "a longer --start-timeout"
                )
            await asyncio.sleep(POLL_S)
            meta = (await asyncio.to_thread(self.store.get_run, self.run_id)).meta

    async def until(self, start_ns: int) -> int:
        """Sleep until the wall clock reads ``start_ns``; the wall-clock time it woke."""
        delay = (start_ns - time.time_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        return time.time_ns()

    async def record(self, key: str, start_ns: int, started_ns: int) -> None:
        """Store how late (ms) this shard started level ``key`` against the common start."""

        def put(meta: dict[str, Any]) -> dict[str, Any]:
            entry = meta.setdefault("starts", {}).setdefault(key, {"start_ns": start_ns})
            entry.setdefault("offset_ms", {})[self.shard.label] = (started_ns - start_ns) / 1e6
            return meta

        await asyncio.to_thread(self.store.update_meta_with, self.run_id, put)


def start_skews(meta: dict[str, Any]) -> dict[str, float]:
    """Start skew (ms, ``SKEW_DEFINITION``) per level key of a run's meta, for the levels every
    shard of which recorded its start."""
    out: dict[str, float] = {}
    for key, entry in (meta.get("starts") or {}).items():
        offsets = list((entry.get("offset_ms") or {}).values())
        if offsets and len(offsets) >= int(entry.get("shards") or 0):
            out[key] = max(offsets) - min(offsets)
    return out
