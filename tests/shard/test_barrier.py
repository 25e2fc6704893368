"""The start barrier in one process: one common start for all shards of a level, decided once;
a registration of a failed attempt does not count."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from nova.errors import NovaError
from nova.shard import Shard, StartBarrier, finish_shard, join_run
from nova.store import RunRecord, RunStore


def _barriers(store: RunStore, n: int, timeout_s: float = 5.0) -> list[StartBarrier]:
    def create(rid: str) -> RunRecord:
        return store.start_run("performance", meta={"shards": n}, run_id=rid)

    out = []
    for k in range(n):
        run = join_run(store, "r", "performance", Shard(k, n), create)
        attempt = run.meta[Shard(k, n).key]["started_at"]
        out.append(StartBarrier(store, "r", Shard(k, n), attempt, timeout_s))
    return out


def test_every_shard_gets_one_start_after_the_last_is_ready(tmp_path: Path) -> None:
    with RunStore(f"sqlite:///{tmp_path / 'b.db'}") as store:
        bs = _barriers(store, 3)

        async def late(b: StartBarrier, delay: float) -> int:
            await asyncio.sleep(delay)
            return await b.wait("m · concurrency 3", 3, "level")

        async def all_three() -> list[int]:
            return list(await asyncio.gather(*(late(b, 0.2 * k) for k, b in enumerate(bs))))

        starts = asyncio.run(all_three())
        entry = store.get_run("r").meta["starts"]["m · concurrency 3"]
    ready = [r["at_ns"] for r in entry["ready"].values()]
    assert starts == [entry["start_ns"]] * 3
    assert entry["start_ns"] == max(ready) + 300_000_000  # the latest ready time + 0.3 s
    assert max(ready) - min(ready) >= 300_000_000  # registered 0.2 s apart (asleep 0.4 s)


def test_a_failed_shard_must_register_again(tmp_path: Path) -> None:
    with RunStore(f"sqlite:///{tmp_path / 'b.db'}") as store:
        b0, b1 = _barriers(store, 2, timeout_s=0.3)

        async def alone() -> None:
            with pytest.raises(NovaError, match=r"shard\(s\) 1/2 did not come to the start"):
                await b0.wait("k", 2, "level k")

        asyncio.run(alone())
        finish_shard(store, "r", Shard(0, 2), "failed", items=0)
        # Shard 1 comes now: shard 0's registration is of its failed attempt.
        with pytest.raises(NovaError, match=r"shard\(s\) 0/2 \(failed\) did not come"):
            asyncio.run(b1.wait("k", 2, "level k"))
        assert "start_ns" not in store.get_run("r").meta["starts"]["k"]
