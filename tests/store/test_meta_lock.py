"""Run meta changed by several processes at once (shards of one run): no update is lost."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path
from typing import Any

from nova.store import RunStore


def _bump(url: str, run_id: str, times: int) -> None:
    def add(meta: dict[str, Any]) -> dict[str, Any]:
        meta["n"] = meta.get("n", 0) + 1
        return meta

    with RunStore(url) as store:
        for _ in range(times):
            store.update_meta_with(run_id, add)


def test_concurrent_meta_changes_on_a_sqlite_file_are_all_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'n.db'}"
    with RunStore(url) as store:
        run = store.start_run("performance", meta={"n": 0})
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_bump, args=(url, run.id, 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with RunStore(url) as store:
        assert store.get_run(run.id).meta["n"] == 160
