"""One writer thread appends the gateway's audit records in batches.

Requests hand their record to a queue and wait for the commit before the client gets the end
of the answer: a response that reached a client is in the audit log. Everything queued while a
commit runs goes into the next transaction, so under load one commit serves many requests
(the hash chain is computed inside the transaction; a batch is stored whole or not at all).
The keys' token usage is added in the same transaction, so a budget counts exactly the
requests the audit log holds; after each commit the head anchor advances (``nova.store``).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from nova.store import AuditEntry, AuditItem, RunStore

__all__ = ["AuditWriter"]

log = logging.getLogger("nova.gateway")

_Job = tuple[AuditItem, "asyncio.Future[AuditEntry]", tuple[str, int] | None]


class AuditWriter:
    """Batching writer for ``gateway.request`` records (and any other gateway action)."""

    def __init__(
        self,
        store: RunStore,
        *,
        on_usage: Callable[[dict[str, int]], None] | None = None,
        max_batch: int = 512,
    ) -> None:
        self.store = store
        self._on_usage = on_usage
        self._max_batch = max_batch
        self._q: queue.SimpleQueue[tuple[list[_Job], asyncio.AbstractEventLoop] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self.batches = 0
        """Transactions committed so far."""
        self.records = 0
        """Records committed so far."""
        self.last_error: str | None = None
        """The last commit error (None after a successful commit)."""

    @property
    def alive(self) -> bool:
        """Whether the writer thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="nova-gateway-audit", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, then stop."""
        if self._thread is not None:
            self._q.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(
        self, item: AuditItem, usage: tuple[str, int] | None = None
    ) -> asyncio.Future[AuditEntry]:
        """Queue a record (and tokens a key used); the future resolves with the stored entry
        after its commit."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[AuditEntry] = loop.create_future()
        self._q.put(([(item, fut, usage)], loop))
        return fut

    async def write(self, item: AuditItem, usage: tuple[str, int] | None = None) -> AuditEntry:
        """Queue a record and wait until it is committed."""
        return await self.submit(item, usage)

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._q.get()
            if first is None:
                break
            jobs: list[tuple[list[_Job], asyncio.AbstractEventLoop]] = [first]
            n = len(first[0])
            while n < self._max_batch:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                jobs.append(nxt)
                n += len(nxt[0])
            self._commit(jobs)

    def _commit(self, jobs: list[tuple[list[_Job], asyncio.AbstractEventLoop]]) -> None:
        flat = [(item, fut, loop) for batch, loop in jobs for item, fut, _ in batch]
        used: dict[str, int] = {}
        for batch, _ in jobs:
            for _, _, u in batch:
                if u is not None and u[1]:
                    used[u[0]] = used.get(u[0], 0) + u[1]
        try:
            entries = self.store.audit_many([item for item, _, _ in flat], key_usage=used)
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("audit write failed: %s", self.last_error)
            for _, fut, loop in flat:
                loop.call_soon_threadsafe(_fail, fut, exc)
            return
        self.last_error = None
        self.batches += 1
        self.records += len(entries)
        if used and self._on_usage is not None:
            flat[0][2].call_soon_threadsafe(self._on_usage, used)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, AuditEntry]]] = {}
        for (_, fut, loop), entry in zip(flat, entries, strict=True):
            by_loop.setdefault(loop, []).append((fut, entry))
        for loop, done in by_loop.items():
            loop.call_soon_threadsafe(_resolve, done)  # one wake-up per batch, not per request


def _resolve(done: list[tuple[asyncio.Future[AuditEntry], AuditEntry]]) -> None:
    for fut, entry in done:
        if not fut.done():
            fut.set_result(entry)


def _fail(fut: asyncio.Future[AuditEntry], exc: Exception) -> None:
    if not fut.done():
        fut.set_exception(exc)
