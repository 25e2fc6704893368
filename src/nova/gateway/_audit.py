"""The gateway's audit records, committed in batches before the client gets the end of the
answer: a response that reached a client is in the audit log.

Two paths, one chain:
- **In the event loop** (a SQLite file, the default): records handed in during one turn of the
  loop are committed together on a dedicated connection at the end of that turn, without a
  thread hop (handing each record to a thread and back cost two cross-core wake-ups per
  request, the largest single share of the gateway's CPU at 500 requests/s). The commit never
  waits for SQLite's write lock: when another process (an eval run, a second gateway) holds
  it at that instant, the batch goes to the writer thread, which may wait. The WAL is
  checkpointed by the thread every few hundred commits (a checkpoint syncs the file).
- **In the writer thread** (PostgreSQL, an in-memory store, or a busy SQLite file): everything
  queued while a commit runs goes into the next transaction, so under load one commit serves
  many requests.
The hash chain is computed inside the transaction; a batch is stored whole or not at all. The
keys' token usage is added in the same transaction, so a budget counts exactly the requests
the audit log holds; after each commit the head anchor advances (``nova.store``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from nova.store import AuditItem, RunStore, SqliteAuditAppender

__all__ = ["AuditWriter"]

log = logging.getLogger("nova.gateway")

_Job = tuple[AuditItem, "asyncio.Future[int]", tuple[str, int] | None]
_Batch = tuple[list[_Job], asyncio.AbstractEventLoop]
_CHECKPOINT = "checkpoint"
_CHECKPOINT_EVERY = 256
"""Commits in the event loop between two WAL checkpoints (SQLite's own default is every
1,000 pages, about the same for records of this size)."""


class AuditWriter:
    """Batching writer for ``gateway.request`` records (and any other gateway action)."""

    def __init__(
        self,
        store: RunStore,
        *,
        on_usage: Callable[[dict[str, int]], None] | None = None,
        max_batch: int = 512,
        inline: bool = True,
    ) -> None:
        self.store = store
        self._on_usage = on_usage
        self._max_batch = max_batch
        self._inline_wanted = inline
        self._fast: SqliteAuditAppender | None = None
        self._pending: list[_Job] = []
        self._flush_scheduled = False
        self._checkpointed_at = 0
        self._q: queue.SimpleQueue[_Batch | str | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches = 0
        """Transactions committed so far."""
        self.records = 0
        """Records committed so far."""
        self.handed_to_thread = 0
        """Batches the event loop found the database locked for and gave to the thread."""
        self.last_error: str | None = None
        """The last commit error (None after a successful commit)."""

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def inline(self) -> bool:
        """Whether batches are committed in the event loop (a SQLite file)."""
        return self._fast is not None

    def start(self) -> None:
        """Start the writer thread (and open the in-loop connection for a SQLite file)."""
        if self._inline_wanted and self._fast is None:
            self._fast = self.store.audit_appender()
        self._thread = threading.Thread(target=self._run, name="nova-gateway-audit", daemon=True)
        self._thread.start()

    def stop_inline(self) -> None:
        """In the event loop, before ``close``: commit what waits for this turn's commit and
        close the in-loop connection (records that come later go to the writer thread)."""
        if self._pending:
            self._flush(asyncio.get_running_loop())
        if self._fast is not None:
            self._fast.close()
            self._fast = None

    def close(self) -> None:
        """Write what is queued, then stop (call ``stop_inline`` first from the loop)."""
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(timeout=30)
            self._thread = None
        if self._fast is not None:
            self._fast.close()
            self._fast = None

    def submit(self, item: AuditItem, usage: tuple[str, int] | None = None) -> asyncio.Future[int]:
        """Queue a record (and tokens a key used); the future resolves with the record's
        ``seq`` after its commit."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        if self._fast is None:
            self._q.put(([(item, fut, usage)], loop))
            return fut
        self._pending.append((item, fut, usage))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush, loop)
        return fut

    async def write(self, item: AuditItem, usage: tuple[str, int] | None = None) -> int:
        """Queue a record and wait until it is committed; its ``seq``."""
        return await self.submit(item, usage)

    # --- in the event loop ----------------------------------------------------------------
    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        fast = self._fast
        for i in range(0, len(pending), self._max_batch):
            jobs = pending[i : i + self._max_batch]
            if fast is None:  # closed meanwhile
                self._q.put((jobs, loop))
                continue
            used = _usage(jobs)
            try:
                entries = fast.try_append([item for item, _, _ in jobs], used)
            except Exception as exc:
                self._failed(exc)
                for _, fut, _ in jobs:
                    _fail(fut, exc)
                continue
            if entries is None:  # another writer holds the lock: the thread may wait for it
                self.handed_to_thread += 1
                self._q.put((jobs, loop))
                continue
            self._committed(len(entries), used)
            _resolve([(fut, e[0]) for (_, fut, _), e in zip(jobs, entries, strict=True)])
        if fast is not None and fast.commits - self._checkpointed_at >= _CHECKPOINT_EVERY:
            self._checkpointed_at = fast.commits
            self._q.put(_CHECKPOINT)

    # --- in the writer thread -------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._q.get()
            if first is None:
                break
            if first == _CHECKPOINT:
                self._checkpoint()
                continue
            jobs: list[_Batch] = [first] if not isinstance(first, str) else []
            n = sum(len(b) for b, _ in jobs)
            while n < self._max_batch:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                if isinstance(nxt, str):
                    continue  # a checkpoint can wait for the next request
                jobs.append(nxt)
                n += len(nxt[0])
            self._commit(jobs)

    def _checkpoint(self) -> None:
        try:
            self.store.checkpoint()
        except Exception as exc:  # a failed checkpoint loses nothing; the next one retries
            log.warning("WAL checkpoint failed: %s: %s", type(exc).__name__, exc)

    def _commit(self, jobs: list[_Batch]) -> None:
        flat = [(item, fut, loop) for batch, loop in jobs for item, fut, _ in batch]
        used = _usage([job for batch, _ in jobs for job in batch])
        try:
            entries = self.store.audit_many([item for item, _, _ in flat], key_usage=used)
        except Exception as exc:
            self._failed(exc)
            for _, fut, loop in flat:
                loop.call_soon_threadsafe(_fail, fut, exc)
            return
        if used and self._on_usage is not None:
            flat[0][2].call_soon_threadsafe(self._committed, len(entries), used)
        else:
            self._committed(len(entries), {})
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, int]]] = {}
        for (_, fut, loop), entry in zip(flat, entries, strict=True):
            by_loop.setdefault(loop, []).append((fut, entry.seq))
        for loop, done in by_loop.items():
            loop.call_soon_threadsafe(_resolve, done)  # one wake-up per batch, not per request

    # --- both -----------------------------------------------------------------------------
    def _committed(self, records: int, used: dict[str, int]) -> None:
        self.last_error = None
        self.batches += 1
        self.records += records
        if used and self._on_usage is not None:
            self._on_usage(used)

    def _failed(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        log.error("audit write failed: %s", self.last_error)


def _usage(jobs: list[_Job]) -> dict[str, int]:
    used: dict[str, int] = {}
    for _, _, u in jobs:
        if u is not None and u[1]:
            used[u[0]] = used.get(u[0], 0) + u[1]
    return used


def _resolve(done: list[tuple[asyncio.Future[int], int]]) -> None:
    for fut, seq in done:
        if not fut.done():
            fut.set_result(seq)


def _fail(fut: asyncio.Future[int], exc: Exception) -> None:
    if not fut.done():
        fut.set_exception(exc)
