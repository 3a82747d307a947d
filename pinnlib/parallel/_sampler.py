"""Samplers whose points are split over devices where they are drawn."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
from jax.sharding import NamedSharding, PartitionSpec
from jaxtyping import Array, PRNGKeyArray, PyTree

from .._errors import bad_argument
from ._mesh import auto_mesh, check_axis


def _split_leading(batch: PyTree, sharding: NamedSharding) -> PyTree:
    """Each array of `batch` constrained to be split along its leading axis."""

    def constrain(leaf):
        if not eqx.is_array(leaf) or leaf.ndim == 0:
            return leaf
        return jax.lax.with_sharding_constraint(leaf, sharding)

    return jax.tree.map(constrain, batch)


class ShardedSampler(eqx.Module):
    """A sampler whose batches are split over a mesh axis: made by `shard_sampler`.

    Calling it (or its `at_step`, when the wrapped sampler has one) draws the
    wrapped sampler's batch and constrains every array to be split along its
    leading axis. Inside a compiled loop XLA then computes each device's rows on
    that device, never on the host: uniform draws and point sequences row by row,
    and a set operation's rejection sampling (whose loop needs every candidate)
    whole on every device, each keeping its own rows. A set joined from pieces,
    such as the faces of a box's boundary, may be reassembled with small gathers
    between devices.

    **Attributes:** `sampler` (the wrapped sampler), `sharding` (the
    `NamedSharding` of the leading axis).

    !!! example

        ```python
        mesh = jax.make_mesh((jax.device_count(),), ("data",))
        sharded = pl.parallel.shard_sampler(sampler, mesh)
        batch = jax.jit(sharded)(jax.random.key(0))  # the points of sampler(key)
        ```
    """

    sampler: Callable
    sharding: NamedSharding = eqx.field(static=True)

    def __call__(self, key: PRNGKeyArray) -> PyTree[Array]:
        """The wrapped sampler's batch at `key`, split over the mesh axis."""
        return _split_leading(self.sampler(key), self.sharding)

    @property
    def at_step(self) -> Callable | None:
        """`at_step(key, period)` of a step-aware sampler, split; else None."""
        inner = getattr(self.sampler, "at_step", None)
        if not callable(inner):
            return None
        return lambda key, period: _split_leading(inner(key, period), self.sharding)


def shard_sampler(sampler: Any, mesh: Any, axis: str = "data") -> ShardedSampler:
    r"""A sampler whose points are split over mesh axis `axis` as they are drawn.

    Data-parallel training redraws its collocation points inside the compiled
    loop; with this wrapper every array of each batch is split along its leading
    axis over the devices of `axis`, and XLA computes each device's rows on that
    device (see `ShardedSampler` for what is computed where). Random draws stay the
    draws of one device: JAX's `threefry` generator is
    partitionable (`jax_threefry_partitionable`, on by default), so device $j$
    computes rows $[j n / D, (j + 1) n / D)$ of the same $n$ points a single device
    would draw, and quasi-random sequences (Sobol, Halton) are functions of the
    index. Any point count works inside the compiled loop (`pinnlib.run`,
    `pinnlib.fit`): XLA pads a count that does not divide among the devices, and
    the loss means stay means over the $n$ real points. A batch returned by a
    compiled function cannot be split unevenly: JAX then returns it whole on every
    device, so draw a fixed batch with counts that divide (or place it with
    `pinnlib.parallel.shard`, which says which count does not).

    **Arguments:**

    - `sampler`: a sampler `key -> batch` (`pinnlib.domains.sampler`, or your own),
      or a step-aware one such as `pinnlib.data.minibatches` (its `at_step` is kept).
    - `mesh`: a `jax.sharding.Mesh`.
    - `axis`: the mesh axis to split the points over (default `"data"`).

    **Returns:** a `ShardedSampler`, used wherever the sampler was.

    !!! example

        ```python
        mesh = jax.make_mesh((jax.device_count(),), ("data",))
        sampler = pl.parallel.shard_sampler(
            pl.domains.sampler(domain, pde=("interior", 100_000), bc=("boundary", 800)),
            mesh,
        )
        state = pl.parallel.shard_state(state, mesh)
        result = pl.fit(training, state, sampler, 5000, resample_every=100)
        ```
    """
    where = "pinnlib.parallel.shard_sampler"
    if not callable(sampler):
        raise bad_argument(
            f"{where}(sampler=...)",
            "a sampler, a function key -> batch",
            type(sampler).__name__,
            "Pass e.g. pl.domains.sampler(domain, pde=('interior', 1000)).",
        )
    mesh = auto_mesh(where, mesh)
    axis = check_axis(where, mesh, axis)
    return ShardedSampler(sampler, NamedSharding(mesh, PartitionSpec(axis)))
