"""Scale-out: a run split into shards (``--shard i/N``) that share one run in the store."""

from nova.shard._runs import ShardState, finish_shard, join_run, shard_states
from nova.shard._shard import Shard, shard_of

__all__ = ["Shard", "ShardState", "finish_shard", "join_run", "shard_of", "shard_states"]
