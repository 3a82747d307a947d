"""Placing pytrees on a mesh: replicated, or split along their leading axes."""

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec
from jaxtyping import PyTree

from .._errors import bad_argument
from .._keys import is_key, through_key_data
from ._mesh import auto_mesh, axis_size, check_axis

Axes = str | Sequence[str | None] | None


def spec_of(where: str, mesh: Any, axes: Axes) -> PartitionSpec:
    """`axes` (one mesh axis, or one per leading dimension) as a `PartitionSpec`."""
    if axes is None:
        return PartitionSpec()
    names = (axes,) if isinstance(axes, str) else tuple(axes)
    for name in names:
        if name is not None:
            check_axis(where, mesh, name, "axes")
    named = [name for name in names if name is not None]
    if len(set(named)) < len(named):
        raise bad_argument(
            f"{where}(axes=...)",
            "each mesh axis at most once",
            axes,
            "Split each leading dimension over its own mesh axis, e.g. "
            "('members', 'data').",
        )
    return PartitionSpec(*names)


# What to do about a split dimension that does not divide among its devices.
_POINTS_FIX = (
    "Use a multiple of {devices} points, or draw the points inside the compiled "
    "loop with pl.parallel.shard_sampler, which splits any count."
)
_STRATEGY_FIX = (
    "Give the sampling strategy a point count (num_points) that is a multiple of "
    "{devices}."
)
_MEMBERS_FIX = (
    "Stack a multiple of {devices} members along the leading axis: build the "
    "states under vmap, eqx.filter_vmap(lambda k: training.init(..., key=k))(keys)."
)


def _check_divisible(
    where: str, path, leaf, mesh: Any, spec: PartitionSpec, fixes: Sequence[str]
) -> None:
    """Raise unless every split dimension of `leaf` divides among its devices.

    `fixes[i]`: the advice for dimension `i` (formatted with `devices`).
    """
    if len(spec) > leaf.ndim:
        raise bad_argument(
            where,
            f"arrays with at least {len(spec)} dimensions to split as {spec}",
            f"{jax.tree_util.keystr(path) or '<root>'} of shape {leaf.shape}",
            "Split fewer leading axes, or replicate this part of the tree.",
        )
    for dim, name in enumerate(spec):
        devices = axis_size(mesh, name)
        if leaf.shape[dim] % devices:
            raise bad_argument(
                where,
                f"dimension {dim} divisible by the {devices} devices of axis {name!r}",
                f"{jax.tree_util.keystr(path) or '<root>'} of shape {leaf.shape}",
                fixes[min(dim, len(fixes) - 1)].format(devices=devices),
            )


def _put(leaf, sharding: NamedSharding):
    """`leaf` placed with `sharding`, also on devices of other processes.

    Across processes each one supplies its own devices' parts from its copy of the
    whole value (every process holds the same state and batch). Typed PRNG keys
    travel as their key data.
    """
    if sharding.is_fully_addressable:
        return jax.device_put(leaf, sharding)
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
        # Already spread over the processes (a compiled program's output): JAX
        # moves it to the new sharding; no process holds all of it to copy from.
        return jax.device_put(leaf, sharding)
    if is_key(leaf):
        return through_key_data(lambda data: _put(data, sharding), leaf)
    value = np.asarray(leaf)
    return jax.make_array_from_callback(value.shape, sharding, lambda i: value[i])


def place(
    where: str,
    tree: PyTree,
    mesh: Any,
    spec: PartitionSpec,
    fixes: Sequence[str] = (_POINTS_FIX,),
) -> PyTree:
    """Every array leaf of `tree` put on `mesh` with `spec`; other leaves kept.

    `fixes`: per split dimension, what to do when it does not divide.
    """
    dynamic, static = eqx.partition(tree, eqx.is_array)

    def put(path, leaf):
        _check_divisible(where, path, leaf, mesh, spec, fixes)
        return _put(leaf, NamedSharding(mesh, spec))

    return eqx.combine(jax.tree_util.tree_map_with_path(put, dynamic), static)


def replicate(tree: PyTree, mesh: Any) -> PyTree:
    r"""Put every array of `tree` on every device of `mesh` (a full copy on each).

    What data-parallel training does with the parameters, the optimizer state and
    the strategies' states: each device holds them whole, and the compiled step
    reduces the gradient over the devices that hold the points.

    **Arguments:**

    - `tree`: any pytree (a `TrainState`, a model); leaves that are not arrays
      (functions, static fields) are kept as they are.
    - `mesh`: a `jax.sharding.Mesh`. Its axes are used in Auto mode (XLA's sharding
      propagation), whatever their type.

    **Returns:** `tree` with each array a `jax.Array` replicated over `mesh`.

    !!! example

        ```python
        mesh = jax.make_mesh((jax.device_count(),), ("data",))
        state = pl.parallel.replicate(state, mesh)
        ```
    """
    mesh = auto_mesh("pinnlib.parallel.replicate", mesh)
    return place("pinnlib.parallel.replicate", tree, mesh, PartitionSpec())


def shard(tree: PyTree, mesh: Any, axes: Axes = "data") -> PyTree:
    r"""Split every array of `tree` along its leading axes over mesh axes `axes`.

    For a fixed batch of collocation points or data, `{term: (n, d)}`: with
    `axes="data"` each of the $D$ devices of that mesh axis holds $n / D$ rows of
    every array. The loss means computed from them inside a compiled step are the
    means over all $n$ rows: XLA sums on each device and adds the partial sums
    (an all-reduce), so only the order of the additions differs from one device.

    **Arguments:**

    - `tree`: a pytree of arrays (a batch dict, a tuple of inputs and targets).
    - `mesh`: a `jax.sharding.Mesh`.
    - `axes`: the mesh axis for the leading dimension (`"data"`), or one entry per
      leading dimension (`("members", "data")` for a batch with a member axis
      first; `None` leaves a dimension whole).

    **Returns:** `tree` with each array split as asked.

    **Raises:** `ValueError` naming the leaf whose split dimension does not divide
    among the devices of its axis (use a multiple of the device count, or
    `pinnlib.parallel.shard_sampler`, which splits any count), or an axis name the
    mesh does not have.

    !!! example

        ```python
        mesh = jax.make_mesh((jax.device_count(),), ("data",))
        batch = pl.parallel.shard(sampler(jax.random.key(0)), mesh)
        ```
    """
    where = "pinnlib.parallel.shard"
    mesh = auto_mesh(where, mesh)
    return place(where, tree, mesh, spec_of(where, mesh, axes))


def _with_points(where, state, mesh, replicated_spec, points_spec):
    """`state` placed with `replicated_spec`, its strategy's points with `points_spec`."""
    points = getattr(state, "points", None)
    rest = eqx.tree_at(lambda s: s.points, state, None, is_leaf=lambda x: x is None)
    # A split leading axis of the state is the members' axis (`shard_members`).
    rest = place(where, rest, mesh, replicated_spec, (_MEMBERS_FIX,))
    if points is None:
        return rest
    fixes = (_STRATEGY_FIX,) if len(points_spec) < 2 else (_MEMBERS_FIX, _STRATEGY_FIX)
    points = place(f"{where}(state.points)", points, mesh, points_spec, fixes)
    return eqx.tree_at(lambda s: s.points, rest, points, is_leaf=lambda x: x is None)


def _check_state(where: str, state) -> None:
    if not hasattr(state, "points") or not hasattr(state, "opt_state"):
        raise bad_argument(
            f"{where}(state=...)",
            "a pinnlib.TrainState",
            type(state).__name__,
            "Pass the state from training.init(...), or place any other tree "
            "with pl.parallel.replicate or pl.parallel.shard.",
        )


def shard_state(state, mesh: Any, axis: str = "data"):
    r"""Place a `TrainState` for data-parallel training over mesh axis `axis`.

    The model, the optimizer state, the loss weights and every strategy state are
    replicated (`pinnlib.parallel.replicate`); the collocation points a sampling
    strategy owns (`state.points`, e.g. RAD's) are split along `axis`. The compiled
    step then computes on each device the residuals of its own points, and XLA
    reduces the loss and its gradient over the devices.

    **Arguments:**

    - `state`: a `pinnlib.TrainState`.
    - `mesh`: a `jax.sharding.Mesh`.
    - `axis`: the mesh axis the points are split over (default `"data"`).

    **Returns:** the placed state.

    **Raises:** `ValueError` if a point set of `state.points` does not divide among
    the devices (use a multiple of their number).

    !!! example

        ```python
        mesh = jax.make_mesh((jax.device_count(),), ("data",))
        state = pl.parallel.shard_state(training.init(u, key=key), mesh)
        sampler = pl.parallel.shard_sampler(sampler, mesh)
        result = pl.fit(training, state, sampler, 10_000, resample_every=100)
        ```
    """
    where = "pinnlib.parallel.shard_state"
    _check_state(where, state)
    mesh = auto_mesh(where, mesh)
    axis = check_axis(where, mesh, axis)
    return _with_points(where, state, mesh, PartitionSpec(), PartitionSpec(axis))


def shard_members(states, mesh: Any, axis: str = "members", data_axis=None):
    r"""Place a batch of `TrainState`s (an ensemble or a sweep) member-wise on `mesh`.

    Every array of `states` has a leading member axis (from `jax.vmap` /
    `eqx.filter_vmap` of `training.init`); it is split over mesh axis `axis`, so
    each device trains its own members. On a two-dimensional mesh, `data_axis`
    splits each member's points too: the strategy's points `state.points`, of shape
    `(members, n, d)`, are split as `(axis, data_axis)`; batches and samplers are
    split with `pinnlib.parallel.shard(batch, mesh, (axis, data_axis))` and
    `pinnlib.parallel.shard_sampler(sampler, mesh, data_axis)`.

    **Arguments:**

    - `states`: a batched `pinnlib.TrainState`.
    - `mesh`: a `jax.sharding.Mesh`.
    - `axis`: the mesh axis of the members (default `"members"`).
    - `data_axis`: the mesh axis of each member's points, or `None`.

    **Returns:** the placed states.

    **Raises:** `ValueError` if the number of members (or of a member's points)
    does not divide among the devices of its axis.

    !!! example

        ```python
        mesh = jax.make_mesh((8,), ("members",))
        keys = jax.random.split(jax.random.key(0), 8)
        states = eqx.filter_vmap(
            lambda k: training.init(pl.nn.mlp(2, key=k), key=k)
        )(keys)
        states = pl.parallel.shard_members(states, mesh)
        runs = eqx.filter_vmap(lambda s: pl.run(training, s, batch, 1000))(states)
        ```
    """
    where = "pinnlib.parallel.shard_members"
    _check_state(where, states)
    mesh = auto_mesh(where, mesh)
    axis = check_axis(where, mesh, axis)
    if data_axis is not None:
        check_axis(where, mesh, data_axis, "data_axis")
    return _with_points(
        where, states, mesh, PartitionSpec(axis), PartitionSpec(axis, data_axis)
    )
