"""Per-key request and token limits (RPM, TPM) and token budgets.

Limits reject instead of queueing: a gateway that holds requests back only moves the wait to
the client. Tokens are reserved up front (prompt estimate + ``max_tokens``), so concurrent
streams cannot overdraw a budget, and reconciled with the real usage afterwards.

Counters live in the process (with ``--workers N`` each worker enforces RPM/TPM on its own);
budgets are persisted: every process adds its usage to the key's ``tokens_used`` in the store
and re-reads it with the keys.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nova.gateway._errors import ApiError
from nova.gateway._keys import KeyRing, Principal

__all__ = ["Limits", "Reservation"]


@dataclass(slots=True)
class _Bucket:
    capacity: float
    level: float
    t: float

    def take(self, amount: float, now: float) -> float:
        """Take ``amount``; return 0 when taken, else seconds until it would be available."""
        rate = self.capacity / 60.0
        self.level = min(self.capacity, self.level + (now - self.t) * rate)
        self.t = now
        need = min(amount, self.capacity)
        if self.level >= need:
            self.level -= need
            return 0.0
        return (need - self.level) / rate

    def give(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)


@dataclass(slots=True)
class Reservation:
    """Tokens held for one request until ``Limits.settle``."""

    subject: str
    key_id: str | None
    tokens: int
    settled: bool = field(default=False)


class Limits:
    """RPM/TPM buckets per subject and token budgets per key."""

    def __init__(self, keys: KeyRing, clock: Callable[[], float] = time.monotonic) -> None:
        self.keys = keys
        self._clock = clock
        self._rpm: dict[str, _Bucket] = {}
        self._tpm: dict[str, _Bucket] = {}
        self._reserved: dict[str, int] = {}
        self.pending_usage: dict[str, int] = {}
        """Tokens used per key id and not yet written to the store."""

    def _bucket(self, table: dict[str, _Bucket], subject: str, cap: int, now: float) -> _Bucket:
        b = table.get(subject)
        if b is None or b.capacity != cap:
            b = table[subject] = _Bucket(float(cap), float(cap), now)
        return b

    def admit(self, who: Principal, tokens: int) -> Reservation:
        """Count the request and reserve ``tokens``, or raise a 429 ``ApiError`` with the
        kind (``rpm``, ``tpm``, ``budget``) as its code."""
        now = self._clock()
        if who.budget_tokens is not None and who.key_id is not None:
            used = self.used(who.key_id) + self._reserved.get(who.key_id, 0)
            if used + tokens > who.budget_tokens:
                raise ApiError(
                    429,
                    f"token budget of key {who.key_id} exhausted: {used} of "
                    f"{who.budget_tokens} tokens used or reserved, this request needs up to "
                    f"{tokens}; ask an admin for a larger budget",
                    code="budget",
                    type_="insufficient_quota",
                )
        if who.rpm is not None:
            wait = self._bucket(self._rpm, who.subject, who.rpm, now).take(1, now)
            if wait:
                raise _too_many("rpm", f"{who.rpm} requests per minute", wait)
        if who.tpm is not None:
            wait = self._bucket(self._tpm, who.subject, who.tpm, now).take(tokens, now)
            if wait:
                if who.rpm is not None:
                    self._rpm[who.subject].give(1)
                raise _too_many("tpm", f"{who.tpm} tokens per minute", wait)
        if who.key_id is not None:
            self._reserved[who.key_id] = self._reserved.get(who.key_id, 0) + tokens
        return Reservation(who.subject, who.key_id, tokens)

    def used(self, key_id: str) -> int:
        """Tokens used by a key: stored plus not yet written."""
        rec = self.keys.get(key_id)
        return (rec.tokens_used if rec is not None else 0) + self.pending_usage.get(key_id, 0)

    def settle(self, res: Reservation, actual: int) -> None:
        """Replace the reservation by the tokens really used (refunding the difference)."""
        if res.settled:
            return
        res.settled = True
        b = self._tpm.get(res.subject)
        if b is not None and actual < res.tokens:
            b.give(res.tokens - actual)
        if res.key_id is not None:
            self._reserved[res.key_id] = self._reserved.get(res.key_id, 0) - res.tokens
            if actual:
                self.pending_usage[res.key_id] = self.pending_usage.get(res.key_id, 0) + actual

    def persisted(self, used: dict[str, int]) -> None:
        """Usage that the store now holds: no longer pending here (the key ring counts it)."""
        for key_id, tokens in used.items():
            left = self.pending_usage.get(key_id, 0) - tokens
            if left > 0:
                self.pending_usage[key_id] = left
            else:
                self.pending_usage.pop(key_id, None)
        self.keys.bump_usage(used)


def _too_many(kind: str, limit: str, wait: float) -> ApiError:
    secs = max(1, math.ceil(wait))
    return ApiError(
        429,
        f"rate limit of this key reached ({limit}); retry after {secs} s",
        code=kind,
        headers={"Retry-After": str(secs)},
    )
