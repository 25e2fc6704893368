"""Per-subject request and token limits (RPM, TPM) and token budgets.

Limits reject instead of queueing: a gateway that holds requests back only moves the wait to
the client. Tokens are reserved up front (prompt estimate + ``max_tokens``), so concurrent
streams cannot overdraw a budget, and reconciled with the real usage afterwards.

RPM/TPM hold across processes and replicas that share a store, without a store round-trip
per request: each process decides on its own token buckets, and every ``limits_sync_s``
seconds (``Limits.sync``) writes what it admitted per subject and minute to the store and
reads what the others admitted since. Their admissions are taken from its own buckets too
(a bucket may go below zero; the refill pays the debt back), so over time all processes
together admit a subject's rate, not N times it. What a process cannot see yet is what the
others admitted in about the last two sync intervals (their write, then its read): that is
how far a subject can go over its limit, at most one bucket per other replica when a burst
hits every replica at the same moment.

Budgets are persisted: an API key's usage is added to the key in the store with each audit
batch (and re-read with the keys); an OIDC subject's usage is added by the sync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nova.gateway._errors import ApiError
from nova.gateway._keys import KeyRing, Principal
from nova.store import RateCount, RunStore

__all__ = ["Limits", "Reservation"]

log = logging.getLogger("nova.gateway")

_READ_ALL_ABOVE = 1000
"""OIDC subjects with a budget above which an exchange reads every subject's usage."""


@dataclass(slots=True)
class _Bucket:
    capacity: float
    level: float
    t: float

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.t) * self.capacity / 60.0)
        self.t = now

    def take(self, amount: float, now: float) -> float:
        """Take ``amount``; return 0 when taken, else seconds until it would be available."""
        self._refill(now)
        need = min(amount, self.capacity)
        if self.level >= need:
            self.level -= need
            return 0.0
        return (need - self.level) / (self.capacity / 60.0)

    def give(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)

    def charge(self, amount: float, now: float) -> None:
        """What another process admitted (negative: refunded): the level may go down to
        ``-capacity``, a debt the refill pays back before this process admits again."""
        self._refill(now)
        self.level = max(-self.capacity, min(self.capacity, self.level - amount))


@dataclass(slots=True)
class Reservation:
    """Tokens held for one request until ``Limits.settle``."""

    subject: str
    key_id: str | None
    tokens: int
    settled: bool = field(default=False)
    shared: bool = field(default=False)
    """Counted in the subject's RPM/TPM that processes share."""
    budget_id: str | None = field(default=None)
    """Key id, or the OIDC subject with a budget, whose usage this request adds to."""


class Limits:
    """RPM/TPM buckets per subject, token budgets per key or OIDC subject, and the exchange
    of counts with the other processes on the same store."""

    def __init__(
        self,
        keys: KeyRing,
        clock: Callable[[], float] = time.monotonic,
        *,
        store: RunStore | None = None,
        sync_s: float = 1.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self._clock = clock
        self._wall = wall
        self._rpm: dict[str, _Bucket] = {}
        self._tpm: dict[str, _Bucket] = {}
        self._reserved: dict[str, int] = {}
        self.pending_usage: dict[str, int] = {}
        """Tokens used per key id and not yet written to the store."""
        # Sharing with other processes (none for an in-memory store: nobody else sees it).
        self.store = store if store is not None and not store.in_memory else None
        self.sync_s = sync_s
        self.node = secrets.token_hex(8)
        """This process's id in the shared counters."""
        self._out: dict[str, list[int]] = {}  # subject -> [requests, tokens] since last sync
        self._mine: dict[tuple[str, int], list[int]] = {}  # (subject, minute) -> own totals
        self._dirty: set[tuple[str, int]] = set()
        self._seen: dict[tuple[str, int], tuple[int, int]] = {}  # others' totals
        # Others' admissions for a subject this process has no bucket for yet, with when
        # they were seen, per (subject, 0 = requests | 1 = tokens): charged when it is made.
        self._early: dict[tuple[str, int], list[tuple[float, int]]] = {}
        self._minute: int | None = None  # of the last successful sync
        self._subject_used: dict[str, int] = {}  # OIDC subjects: usage in the store
        self._subject_pending: dict[str, int] = {}  # ... not yet written
        self._subject_sending: dict[str, int] = {}  # ... being written
        self._budget_subjects: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.syncs = 0
        """Successful exchanges with the store."""
        self.last_sync_error: str | None = None
        """The last failed exchange (None after a successful one)."""

    def _bucket(
        self, table: dict[str, _Bucket], subject: str, cap: int, now: float, kind: int
    ) -> _Bucket:
        b = table.get(subject)
        if b is None or b.capacity != cap:
            # What the others admitted before, each at the time it was seen: the refill
            # since then gives back what is older than a minute.
            early = self._early.pop((subject, kind), [])
            b = table[subject] = _Bucket(float(cap), float(cap), early[0][0] if early else now)
            for t, amount in early:
                b.charge(amount, t)
        return b

    def admit(self, who: Principal, tokens: int) -> Reservation:
        """Count the request and reserve ``tokens``, or raise a 429 ``ApiError`` with the
        kind (``rpm``, ``tpm``, ``budget``) as its code."""
        now = self._clock()
        budget_id = who.key_id
        if who.budget_tokens is not None:
            if who.key_id is None:
                budget_id = who.subject
                self._budget_subjects.add(who.subject)
                used = self.subject_used(who.subject)
            else:
                used = self.used(who.key_id)
            used += self._reserved.get(budget_id or "", 0)
            if used + tokens > who.budget_tokens:
                whose = f"key {who.key_id}" if who.key_id is not None else who.subject
                raise ApiError(
                    429,
                    f"token budget of {whose} exhausted: {used} of "
                    f"{who.budget_tokens} tokens used or reserved, this request needs up to "
                    f"{tokens}; ask an admin for a larger budget",
                    code="budget",
                    type_="insufficient_quota",
                )
        if who.rpm is not None:
            wait = self._bucket(self._rpm, who.subject, who.rpm, now, 0).take(1, now)
            if wait:
                raise _too_many(who, "rpm", f"{who.rpm} requests per minute", wait)
        if who.tpm is not None:
            wait = self._bucket(self._tpm, who.subject, who.tpm, now, 1).take(tokens, now)
            if wait:
                if who.rpm is not None:
                    self._rpm[who.subject].give(1)
                raise _too_many(who, "tpm", f"{who.tpm} tokens per minute", wait)
        shared = self.store is not None and (who.rpm is not None or who.tpm is not None)
        if shared:
            out = self._out.get(who.subject)
            if out is None:
                out = self._out[who.subject] = [0, 0]
            out[0] += 1
            out[1] += tokens
        if budget_id is not None:
            self._reserved[budget_id] = self._reserved.get(budget_id, 0) + tokens
        return Reservation(who.subject, who.key_id, tokens, shared=shared, budget_id=budget_id)

    def used(self, key_id: str) -> int:
        """Tokens used by a key: stored plus not yet written."""
        rec = self.keys.get(key_id)
        return (rec.tokens_used if rec is not None else 0) + self.pending_usage.get(key_id, 0)

    def subject_used(self, subject: str) -> int:
        """Tokens used by an OIDC subject: stored (as of the last sync) plus not yet written."""
        return (
            self._subject_used.get(subject, 0)
            + self._subject_pending.get(subject, 0)
            + self._subject_sending.get(subject, 0)
        )

    def settle(self, res: Reservation, actual: int) -> None:
        """Replace the reservation by the tokens really used (refunding the difference)."""
        if res.settled:
            return
        res.settled = True
        refund = res.tokens - actual
        if refund > 0:
            b = self._tpm.get(res.subject)
            if b is not None:
                b.give(refund)
            if res.shared:
                out = self._out.get(res.subject)
                if out is None:
                    out = self._out[res.subject] = [0, 0]
                out[1] -= refund
        if res.budget_id is not None:
            left = self._reserved.get(res.budget_id, 0) - res.tokens
            if left > 0:
                self._reserved[res.budget_id] = left
            else:
                self._reserved.pop(res.budget_id, None)
            if actual:
                pending = self.pending_usage if res.key_id is not None else self._subject_pending
                pending[res.budget_id] = pending.get(res.budget_id, 0) + actual

    def persisted(self, used: dict[str, int]) -> None:
        """Usage that the store now holds: no longer pending here (the key ring counts it)."""
        for key_id, tokens in used.items():
            left = self.pending_usage.get(key_id, 0) - tokens
            if left > 0:
                self.pending_usage[key_id] = left
            else:
                self.pending_usage.pop(key_id, None)
        self.keys.bump_usage(used)

    # --- sharing with the other processes on the store ------------------------------------
    @property
    def status(self) -> str:
        """How RPM/TPM are counted, for ``/readyz``: ``shared``, or per process and why."""
        if self.store is None:
            return "per process (an in-memory store is not shared)"
        if self.last_sync_error is not None:
            return f"per process while the store fails: {self.last_sync_error}"
        return "shared"

    async def start(self) -> None:
        """Exchange counts every ``sync_s`` seconds (with a store others can share)."""
        if self.store is not None and self._task is None:
            self._task = asyncio.create_task(self._sync_loop(), name="nova-gateway-limits")

    async def close(self) -> None:
        """Stop the exchange after writing what is left (OIDC subjects' usage included)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            await self.sync()

    async def _sync_loop(self) -> None:
        while True:
            # Shielded: stopping the loop never abandons an exchange half-way (its thread
            # would go on writing); close() then waits for it on the lock.
            await asyncio.shield(self.sync())
            await asyncio.sleep(self.sync_s)

    async def sync(self) -> None:
        """One exchange: write this process's counts and OIDC usage, read the others' and
        take them from the buckets. A failed exchange is logged and retried next time (the
        limits then hold per process until the store answers again)."""
        async with self._lock:
            await self._sync()

    async def _sync(self) -> None:
        store = self.store
        if store is None:
            return
        minute = int(self._wall() // 60)
        for subject, (requests, tokens) in self._out.items():
            if requests or tokens:
                own = self._mine.setdefault((subject, minute), [0, 0])
                own[0] += requests
                own[1] += tokens
                self._dirty.add((subject, minute))
        self._out.clear()
        dirty, self._dirty = self._dirty, set()
        mine = [RateCount(s, m, *self._mine[(s, m)]) for s, m in sorted(dirty)]
        self._subject_sending, self._subject_pending = self._subject_pending, {}
        first = self._minute is None  # at the start: every OIDC subject's stored usage
        # Every subject's, at the start and once a list would be too long to send (SQLite
        # takes at most 32,766 parameters in one statement).
        read_all = first or len(self._budget_subjects) > _READ_ALL_ABOVE
        asked = sorted(self._budget_subjects)  # the set may grow while the store answers
        try:
            got = await asyncio.to_thread(
                store.sync_rate_counters,
                self.node,
                mine,
                minute - 1,
                add_usage=dict(self._subject_sending),
                read_usage=None if read_all else asked,
            )
        except Exception as exc:
            self._dirty |= dirty
            for s, n in self._subject_sending.items():
                self._subject_pending[s] = self._subject_pending.get(s, 0) + n
            self._subject_sending = {}
            error = f"{type(exc).__name__}: {str(exc)[:200]}"
            if error != self.last_sync_error:
                log.warning("rate-limit counters not shared (limits hold per process): %s", error)
            self.last_sync_error = error
            return
        if self.last_sync_error is not None:
            log.info("rate-limit counters shared again")
        self.last_sync_error = None
        self.syncs += 1
        self._subject_sending = {}
        if read_all:
            self._subject_used.update(got.subject_used)
        for s in asked:
            self._subject_used[s] = got.subject_used.get(s, 0)
        self._charge_others(got.others, minute)

    def _charge_others(self, others: list[RateCount], minute: int) -> None:
        now = self._clock()
        first = self._minute is None
        for c in others:
            key = (c.subject, c.minute)
            before = self._seen.get(key)
            self._seen[key] = (c.requests, c.tokens)
            if before is None:
                if first and c.minute < minute:
                    continue  # admitted before this process started: its buckets were full
                before = (0, 0)
            for kind, table, change in (
                (0, self._rpm, c.requests - before[0]),
                (1, self._tpm, c.tokens - before[1]),
            ):
                if change:
                    if (b := table.get(c.subject)) is not None:
                        b.charge(change, now)
                    else:
                        self._early.setdefault((c.subject, kind), []).append((now, change))
        if minute != self._minute:
            self._seen = {k: v for k, v in self._seen.items() if k[1] >= minute - 1}
            self._early = {  # what is a minute old is refilled anyway
                k: kept
                for k, v in self._early.items()
                if (kept := [e for e in v if now - e[0] < 60])
            }
            self._mine = {k: v for k, v in self._mine.items() if k[1] >= minute - 1}
        self._minute = minute


def _too_many(who: Principal, kind: str, limit: str, wait: float) -> ApiError:
    secs = max(1, math.ceil(wait))
    whose = "this key" if who.key_id is not None else who.subject
    return ApiError(
        429,
        f"rate limit of {whose} reached ({limit}); retry after {secs} s",
        code=kind,
        headers={"Retry-After": str(secs)},
    )
