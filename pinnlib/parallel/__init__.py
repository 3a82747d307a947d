"""Devices and hosts: data-parallel training, sharded ensembles, many processes.

pinnlib shards through JAX's own machinery: arrays placed on a
`jax.sharding.Mesh` and one compiled program that XLA partitions (sharded `jit`).
The step is the step of one device; only where the arrays live changes.
"""

from ._distributed import Processes as Processes, initialize as initialize
from ._loss import DataParallelLoss as DataParallelLoss, data_parallel as data_parallel
from ._place import (
    replicate as replicate,
    shard as shard,
    shard_members as shard_members,
    shard_state as shard_state,
)
from ._sampler import ShardedSampler as ShardedSampler, shard_sampler as shard_sampler
