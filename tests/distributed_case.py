"""One of two processes training together through `jax.distributed` (Gloo on CPU).

    JAX_COORDINATOR_ADDRESS=localhost:PORT JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=I \
    XLA_FLAGS=--xla_force_host_platform_device_count=2 \
        python tests/distributed_case.py DIR

Both processes run this script: they join through `pl.parallel.initialize` (from
the environment), train on a mesh of all four devices (two per process) with
points split over them, once as one partitioned program and once with the
gradient per device (`pl.parallel.data_parallel`), and save a checkpoint of each
together (process 0 writes it), whose history holds the losses.
"""

import sys

import jax

jax.config.update("jax_enable_x64", True)

import pinnlib as pl  # noqa: E402

procs = pl.parallel.initialize()

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402
from parallel_case import (  # noqa: E402
    CHECKPOINT_RUN,
    EVEN,
    UNEVEN,
    checkpoint_problem,
    loss_of,
    per_device_path,
    problem,
)

STEPS = 20


def main(directory: str) -> None:
    assert procs.source == "environment", procs
    assert (procs.num_processes, procs.local_devices, procs.devices) == (2, 2, 4)
    u, training, sampler = checkpoint_problem()
    mesh = jax.make_mesh((4,), ("data",))
    state = pl.parallel.shard_state(training.init(u, key=jax.random.key(1)), mesh)
    sharded = pl.parallel.shard_sampler(sampler, mesh)
    run = pl.run(training, state, sharded, STEPS, **CHECKPOINT_RUN)
    losses = multihost_utils.process_allgather(run.metrics["loss"], tiled=True)
    pl.checkpoint.save(f"{directory}/sharded", run.state, history={"loss": losses})
    # The same run with the gradient per device (data_parallel): 803, 50 and 37
    # points, padded to a multiple of the 4 devices of the 2 processes.
    _, fast, _ = checkpoint_problem(lambda loss: pl.parallel.data_parallel(loss, mesh))
    per_device = pl.parallel.data_parallel(loss_of(jnp.float64), mesh)
    path = per_device_path(per_device, jnp.float64, UNEVEN, mesh)
    assert path == {"per_device": True, "gathered": 0}, path
    run = pl.run(fast, state, sharded, STEPS, **CHECKPOINT_RUN)
    losses = multihost_utils.process_allgather(run.metrics["loss"], tiled=True)
    pl.checkpoint.save(f"{directory}/per-device", run.state, history={"loss": losses})
    # A batch that a compiled program left spread over both processes places as
    # any other: the same points, split over the mesh.
    even = problem(jnp.float64, EVEN)[2]
    drawn = jax.jit(pl.parallel.shard_sampler(even, mesh))(jax.random.key(5))
    placed = pl.parallel.shard(drawn, mesh)
    for name, points in even(jax.random.key(5)).items():
        gathered = multihost_utils.process_allgather(placed[name], tiled=True)
        assert np.array_equal(gathered, points), name
        assert placed[name].sharding.spec == jax.sharding.PartitionSpec("data"), name


if __name__ == "__main__":
    main(sys.argv[1])
