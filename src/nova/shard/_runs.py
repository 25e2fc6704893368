"""One run, several processes: shards create or join the same run in a shared store, record
their own state in the run's meta (``shard i/N``), and the run is complete when all are."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict

from nova.errors import NovaError, StoreError
from nova.shard._shard import Shard
from nova.store import RunRecord, RunStatus, RunStore

__all__ = ["ShardState", "finish_shard", "join_run", "shard_states"]


class ShardState(BaseModel):
    """What one shard recorded about itself in the run's meta."""

    model_config = ConfigDict(extra="forbid")

    shard: str
    """``i/N``."""
    status: RunStatus | None = None
    """``running``, ``completed``, ``failed``, ``interrupted``; None when it never started."""
    host: str | None = None
    """Host name of the process that ran it last."""
    started_at: str | None = None
    """Last start (ISO 8601, UTC)."""
    ended_at: str | None = None
    """Last end (ISO 8601, UTC)."""
    items: int | None = None
    """Items (cases × candidates × repeats, or load requests) this shard owns."""
    meta: dict[str, Any] = {}
    """What the shard's runner reported at its end (errors, cache hits …)."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def join_run(
    store: RunStore, run_id: str, kind: str, shard: Shard, create: Callable[[str], RunRecord]
) -> RunRecord:
    """The run ``run_id``: created by ``create(run_id)`` when this shard is the first, else the
    existing one (same kind, same number of shards). Records this shard as running."""
    try:
        run = store.get_run(run_id)
    except StoreError:
        try:
            run = create(run_id)
        except sa.exc.IntegrityError:  # another shard created it between look and insert
            run = store.get_run(run_id)
    if run.id != run_id:
        raise NovaError(f"run id {run_id!r} is a prefix of run {run.id}: give the full id")
    if run.kind != kind:
        raise NovaError(f"run {run.id} is a {run.kind} run, not a {kind} run")
    count = run.meta.get("shards")
    if count != shard.count:
        raise NovaError(
            f"run {run.id} is split into {count or 'no'} shards, not {shard.count}: "
            f"give --shard i/{count}" + ("" if count else " only to runs started with --shard")
        )
    store.update_meta(
        run.id,
        {shard.key: {"status": "running", "host": socket.gethostname(), "started_at": _now()}},
        status="running",
    )
    return store.get_run(run.id)


def shard_states(run: RunRecord) -> list[ShardState]:
    """Every shard of a sharded run, in order (empty for an unsharded run)."""
    count = run.meta.get("shards")
    if not isinstance(count, int):
        return []
    out = []
    for i in range(count):
        s = Shard(i, count)
        rec = run.meta.get(s.key) or {}
        out.append(ShardState(shard=s.label, **rec))
    return out


def finish_shard(
    store: RunStore,
    run_id: str,
    shard: Shard,
    status: RunStatus,
    *,
    items: int,
    meta: dict[str, Any] | None = None,
    merge: Callable[[list[ShardState]], dict[str, Any]] | None = None,
) -> RunRecord:
    """Record this shard's end; the last shard to end sets the run's status (completed when
    every shard completed) and ``merge(states)`` into its meta.

    Each shard writes only its own meta key, under a row lock; the status is written only by a
    shard that sees no other shard running after its own commit, so the last one sees all."""
    run = store.get_run(run_id)
    rec = dict(run.meta.get(shard.key) or {})
    rec.update(status=status, ended_at=_now(), items=items, meta=meta or {})
    store.update_meta(run_id, {shard.key: rec})
    run = store.get_run(run_id)
    states = shard_states(run)
    if any(s.status in (None, "running") for s in states):
        return run
    done = all(s.status == "completed" for s in states)
    worst: RunStatus = next(
        (s.status for s in states if s.status in ("failed", "interrupted")), "completed"
    )
    store.finish_run(
        run_id, "completed" if done else worst, meta=merge(states) if merge and done else None
    )
    return store.get_run(run_id)
