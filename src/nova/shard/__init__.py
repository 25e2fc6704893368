"""Scale-out: a run split into shards (``--shard i/N``) that share one run in the store."""

from nova.shard._barrier import SKEW_DEFINITION, StartBarrier, start_skews
from nova.shard._runs import ShardState, finish_shard, join_run, shard_states
from nova.shard._shard import Shard, shard_of

__all__ = [
    "SKEW_DEFINITION",
    "Shard",
    "ShardState",
    "StartBarrier",
    "finish_shard",
    "join_run",
    "shard_of",
    "shard_states",
    "start_skews",
]
