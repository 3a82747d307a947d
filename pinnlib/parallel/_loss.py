"""A loss whose value and gradient are computed per device, then summed once."""

from collections.abc import Callable, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.sharding import Mesh, PartitionSpec
from jaxtyping import Array, Float, PyTree

from .._custom_types import Args
from ..losses import CompositeLoss
from ..losses._least_squares import LeastSquaresTerm
from ..train._state import check_loss
from ._mesh import auto_mesh, axis_size, check_axis


def _count(points) -> int | None:
    """The number of points of a term's batch entry (its leaves' common first axis)."""
    sizes = {x.shape[0] if x.ndim else None for x in jax.tree.leaves(points)}
    return sizes.pop() if len(sizes) == 1 else None


class DataParallelLoss(CompositeLoss):
    r"""A `CompositeLoss` whose gradient is computed per device: see `data_parallel`.

    Everything that evaluates the loss (strategies, line searches, metrics, the
    least-squares residuals) sees the `CompositeLoss` it wraps. Only the training
    step's value and gradient take the per-device path, through
    `value_and_grad`. A term of your own takes it too when it has the methods
    `statistics(model, points, args)` (a pytree that adds over any split of the
    points) and `from_statistics(stats, args)` (its value), as `CausalResidual`.

    **Fields:** `terms` (as `CompositeLoss`), `mesh` (Auto-mode mesh), `axis`.

    !!! example

        ```python
        sharded = pl.parallel.data_parallel(loss, mesh)  # a DataParallelLoss
        total, terms = sharded(u, batch, loss.init_weights(), {"nu": nu})
        ```
    """

    mesh: Mesh = eqx.field(static=True)
    axis: str = eqx.field(static=True)

    def value_and_grad(
        self,
        rebuild: Callable,
        params: PyTree[Array],
        batch: Mapping,
        weights: Mapping,
        args: Args = None,
    ) -> tuple[tuple[Float[Array, ""], dict[str, Float[Array, ""]]], PyTree] | None:
        r"""`((total, terms), gradient)` from every device's own points, or `None`.

        Each term $k$ is a function $\mathcal{L}_k = f_k(S_k)$ of statistics that
        add over the points: for a pointwise `LeastSquaresTerm`
        $S_k = \sum_i \|m_k(x_i)\|^2$ and $f_k(S) = S / n_k$; for a term with
        `statistics` and `from_statistics` methods (`CausalResidual`: the sums and
        counts of each time chunk; `MeanValue`: the sum of the field and the count),
        those. With the points split into equal parts
        over the $D$ devices of `axis`, device $j$ computes its own statistics
        $S_{kj}$ and their pullback (`jax.vjp`); one `psum` adds them,
        $S_k = \sum_j S_{kj}$ (sums and counts, never means of means); every device
        evaluates $\mathcal{L} = \sum_k w_k f_k(S_k)$ and its gradient
        $\bar S_k = w_k\, \partial f_k / \partial S_k$, pulls $\bar S_k$ back through
        its own points, and a second `psum` adds the gradients:

        $$\nabla \mathcal{L} = \sum_{j=1}^{D} \sum_k
        \Big(\frac{\partial S_{kj}}{\partial \theta}\Big)^{\!\top} \bar S_k.$$

        A count $n_k$ that does not divide among the devices is padded with
        $p_k = -n_k \bmod D$ copies of the term's last point; as the statistics add
        over points, the copies' statistics $C_k$ (computed once, on every device)
        are taken off again, $S_k = \sum_j S_{kj} - C_k$, and so is their pullback
        from the gradient. So any count trains per device.

        `None` when a term has no such statistics (a plain function, or a
        least-squares term that is not pointwise and has no `statistics`): the step
        then differentiates the loss as one partitioned program.

        `rebuild(p) -> (model, args)` gives the model and the loss arguments at the
        trainable parameters `params` (replicated).
        """
        model, full_args = rebuild(params)
        self._check(model, batch, weights, full_args)
        devices = axis_size(self.mesh, self.axis)
        reductions, extra = {}, {}
        for name, term in self.terms.items():
            count = _count(batch[name])
            reduction = _reduction(term, count)
            if reduction is None or not count:
                return None
            reductions[name] = reduction
            if count % devices:
                extra[name] = _last_row(batch[name], devices - count % devices)
        weights = jax.lax.stop_gradient(dict(weights))
        axis = self.axis
        # Counts that do not divide among the devices: each term is padded with
        # copies of its last point to a multiple of D, and the copies' statistics
        # (additive, computed once) are taken off the total again.
        batch = {
            name: _padded(points, extra.get(name)) for name, points in batch.items()
        }

        def statistics_of(params, batch, names):
            model, full_args = rebuild(params)
            return {
                name: reductions[name][0](model, batch[name], full_args)
                for name in names
            }

        def local(params, batch, extra, weights):
            own, pullback = jax.vjp(
                lambda p: statistics_of(p, batch, self.terms), params
            )
            stats = jax.lax.psum(own, axis)
            if extra:
                copies, copies_pullback = jax.vjp(
                    lambda p: statistics_of(p, extra, extra), params
                )
                for name in extra:
                    stats[name] = jax.tree.map(jnp.subtract, stats[name], copies[name])

            def objective(stats, params):
                _, full_args = rebuild(params)
                terms = {
                    name: reductions[name][1](stats[name], full_args)
                    for name in self.terms
                }
                total = sum(weights[k] * terms[k] for k in self.terms)
                return jnp.asarray(total), terms

            (total, terms), (cotangent, direct) = jax.value_and_grad(
                objective, argnums=(0, 1), has_aux=True
            )(stats, params)
            (through_points,) = pullback(cotangent)
            grads = jax.lax.psum(through_points, axis)
            if extra:
                (through_copies,) = copies_pullback({k: cotangent[k] for k in extra})
                grads = jax.tree.map(jnp.subtract, grads, through_copies)
            # The loss arguments' own dependence on the parameters (trainable
            # coefficients read by `from_statistics`), the same on every device.
            grads = jax.tree.map(jnp.add, grads, direct)
            return total, terms, grads

        replicated, split = PartitionSpec(), PartitionSpec(axis)
        total, terms, grads = jax.shard_map(
            local,
            mesh=self.mesh,
            in_specs=(replicated, split, replicated, replicated),
            out_specs=replicated,
            # Manual over the points' axis only: other mesh axes (an ensemble's
            # members) stay with XLA, so their arrays stay split.
            axis_names=frozenset({axis}),
            check_vma=False,
        )(params, batch, extra, weights)
        return (total, terms), grads


def _last_row(points: PyTree, copies: int) -> PyTree:
    """`copies` copies of the last point of a term's batch entry."""
    return jax.tree.map(
        lambda x: jnp.repeat(x[-1:], copies, axis=0) if eqx.is_array(x) else x, points
    )


def _padded(points: PyTree, copies: PyTree | None) -> PyTree:
    """A term's batch entry with `copies` appended (as it is if None).

    Written as a pad and a select rather than a concatenation: XLA partitions both
    where the rows lie, while a concatenation of a split array gathers it whole.
    """
    if copies is None:
        return points

    def pad(x, c):
        if not eqx.is_array(x):
            return x
        n = x.shape[0]
        widths = [(0, c.shape[0])] + [(0, 0)] * (x.ndim - 1)
        rows = jnp.arange(n + c.shape[0]).reshape(-1, *([1] * (x.ndim - 1)))
        return jnp.where(rows < n, jnp.pad(x, widths), c[:1])

    return jax.tree.map(pad, points, copies)


def _reduction(term: Any, count: int | None):
    """`(statistics, from_statistics)` of a term whose value adds over points, or None.

    `statistics(model, points, args)` is additive over any split of the points, and
    `from_statistics(total, args)` is the term's value from the statistics of all
    of them.
    """
    statistics = getattr(term, "statistics", None)
    from_statistics = getattr(term, "from_statistics", None)
    if callable(statistics) and callable(from_statistics):
        return statistics, from_statistics
    if isinstance(term, LeastSquaresTerm) and term.pointwise and count:

        def squares(model, points, args):
            return jnp.sum(jnp.square(term.misfit(model, points, args)))

        return squares, lambda total, args: total / count
    return None


def data_parallel(loss: Any, mesh: Any, axis: str = "data") -> DataParallelLoss:
    r"""`loss` with its training gradient computed per device and summed once.

    By default a data-parallel step is one program that XLA partitions: exact for
    every loss, strategy and optimizer, but it coordinates the devices inside the
    forward and backward passes. With this wrapper the training step computes, on
    each device, statistics of its own points that add over the points (for a
    least-squares term the sum $s_{kj}$ of its squared misfits), adds them over the
    devices with one `psum`, and pulls the loss's gradient back through each
    device's points before a second `psum` (a hand-written `shard_map`):

    $$\mathcal{L} = \sum_k \frac{w_k}{n_k} \sum_{j=1}^{D} s_{kj}, \qquad
    \nabla\mathcal{L} = \sum_{j=1}^{D} \nabla \Big(\sum_k \frac{w_k}{n_k}
    s_{kj}\Big),$$

    with $s_{kj}$ the sum over device $j$'s points of term $k$. Sums and counts are
    reduced, never means of means, so the result is the loss of one device up to
    the order of the additions. The causal residual (`CausalResidual`) reduces the
    sums and counts of its time chunks, so its weights are those of all the points
    (see `DataParallelLoss.value_and_grad`).

    It applies when every term is a pointwise least-squares term or has additive
    statistics (every builder in `pinnlib.losses`), whatever the point counts (a
    count that does not divide among the devices of `axis` is padded, and the
    padding taken off again); otherwise the step uses the partitioned program,
    which is always exact. Strategies, line searches and Gauss–Newton
    residuals evaluate the wrapped loss as before. Under `vmap`, an
    ensemble whose members are split over another mesh axis
    (`pinnlib.parallel.shard_members(states, mesh, data_axis=axis)`) trains each
    device's members on its own points: the members stay split.

    **Arguments:**

    - `loss`: a `CompositeLoss` from `pinnlib.losses.combine`.
    - `mesh`: the `jax.sharding.Mesh` the points are split over.
    - `axis`: the mesh axis of the points (default `"data"`).

    **Returns:** a `DataParallelLoss`, used wherever the loss was.

    !!! example

        ```python
        mesh = jax.make_mesh((jax.device_count(),), ("data",))
        training = pl.training(pl.parallel.data_parallel(loss, mesh), optax.adam(1e-3))
        state = pl.parallel.shard_state(training.init(u, key=key), mesh)
        result = pl.fit(training, state, pl.parallel.shard_sampler(sampler, mesh),
                        10_000, resample_every=100)
        ```
    """
    where = "pinnlib.parallel.data_parallel"
    check_loss(f"{where}(loss=...)", loss)
    mesh = auto_mesh(where, mesh)
    axis = check_axis(where, mesh, axis)
    return DataParallelLoss(dict(loss.terms), mesh, axis)
