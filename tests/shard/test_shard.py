"""Shards: a fixed, disjoint split whose union is the whole run."""

from __future__ import annotations

import pytest

from nova.shard import Shard, shard_of


def test_shards_are_disjoint_and_cover_every_case() -> None:
    ids = [f"c{i:05d}" for i in range(3000)]
    parts = [{c for c in ids if Shard(i, 3).owns(c)} for i in range(3)]
    assert set().union(*parts) == set(ids)
    assert sum(len(p) for p in parts) == len(ids)  # disjoint
    assert all(900 < len(p) < 1100 for p in parts)  # balanced: expected 1000, sd ≈ 26


def test_the_owner_of_a_case_is_fixed_by_sha256() -> None:
    # sha256("c00000")[:8] as a big-endian integer, modulo 3 (computed once, independent of
    # Python's salted hash()): the same on every machine.
    import hashlib

    expected = int.from_bytes(hashlib.sha256(b"c00000").digest()[:8], "big") % 3
    assert shard_of("c00000", 3) == expected
    assert [Shard(i, 3).owns("c00000") for i in range(3)].count(True) == 1


def test_load_indexes_and_shares_split_exactly() -> None:
    shards = [Shard(i, 3) for i in range(3)]
    assert [s.share(64) for s in shards] == [22, 21, 21]
    assert [[i for i in range(7) if s.owns_index(i)] for s in shards] == [[0, 3, 6], [1, 4], [2, 5]]


@pytest.mark.parametrize("text", ["3/3", "-1/2", "1", "a/b", "0/0"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"0-based|i/N"):
        Shard.parse(text)


def test_parse() -> None:
    assert Shard.parse(" 2 / 5") == Shard(2, 5)
    assert Shard(2, 5).label == "2/5"
