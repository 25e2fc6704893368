"""Which part of a run one process does: ``--shard i/N`` (0-based)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

__all__ = ["Shard", "shard_of"]

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shard_of(key: str, count: int) -> int:
    """The shard (0..count-1) that owns ``key``: the first 8 bytes of its SHA-256, modulo
    ``count``. Stable across processes, machines and Python versions (unlike ``hash()``)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based): a fixed, disjoint part of a run; the union of
    all ``count`` shards is the whole run."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index}/{self.count}: need 0 <= i < N (0-based)")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"1/3"`` → the second of three shards."""
        m = _SHARD.match(text)
        if m is None:
            raise ValueError(f"shard {text!r}: write i/N, 0-based (e.g. 0/3, 1/3, 2/3)")
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def label(self) -> str:
        """``i/N``."""
        return f"{self.index}/{self.count}"

    @property
    def key(self) -> str:
        """The run-meta key this shard records its state under (``shard 1/3``)."""
        return f"shard {self.label}"

    def owns(self, key: str) -> bool:
        """Whether this shard does the case with id ``key`` (by hash: stable, disjoint)."""
        return self.count == 1 or shard_of(key, self.count) == self.index

    def owns_index(self, i: int) -> bool:
        """Whether this shard sends load request number ``i`` (round robin: shares differ
        by at most one request)."""
        return i % self.count == self.index

    def share(self, total: int) -> int:
        """This shard's part of ``total`` (e.g. concurrency): parts differ by at most one and
        add up to ``total``."""
        return total // self.count + (1 if self.index < total % self.count else 0)
