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
    `value_and_grad`.

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
        r"""`((total, terms), gradient)` per device with one reduction, or `None`.

        With $n_k$ points of term $k$ split into equal parts over the $D$ devices of
        `axis`, device $j$ computes the sums $s_{kj} = \sum_{i \in j} \|m_k(x_i)\|^2$
        of its own points and the gradient of
        $\sum_k w_k s_{kj} / n_k$; one `psum` adds the sums and the gradients, so
        $\mathcal{L}_k = \sum_j s_{kj} / n_k$ exactly (sums and counts, never means
        of means). `None` when a term is not a `LeastSquaresTerm` (its value is not
        a sum over points), is not pointwise (a mean over its points), or its count
        does not divide among the devices: the step
        then differentiates the loss as one partitioned program.

        `rebuild(p) -> (model, args)` gives the model and the loss arguments at the
        trainable parameters `params` (replicated).
        """
        devices = axis_size(self.mesh, self.axis)
        counts: dict[str, int] = {}
        for name, term in self.terms.items():
            count = _count(batch[name])
            if (
                not isinstance(term, LeastSquaresTerm)
                or not term.pointwise
                or not count
                or count % devices
            ):
                return None
            counts[name] = count
        model, full_args = rebuild(params)
        self._check(model, batch, weights, full_args)
        weights = jax.lax.stop_gradient(dict(weights))
        axis = self.axis

        def local(params, batch, weights):
            def objective(params):
                model, full_args = rebuild(params)
                sums = {}
                for name, term in self.terms.items():
                    misfit = term.misfit(model, batch[name], full_args)
                    sums[name] = jnp.sum(jnp.square(misfit))
                total = sum(weights[k] * sums[k] / counts[k] for k in self.terms)
                return jnp.asarray(total), sums

            (total, sums), grads = jax.value_and_grad(objective, has_aux=True)(params)
            return jax.lax.psum((total, sums, grads), axis)

        replicated, split = PartitionSpec(), PartitionSpec(axis)
        total, sums, grads = jax.shard_map(
            local,
            mesh=self.mesh,
            in_specs=(replicated, split, replicated),
            out_specs=replicated,
            check_vma=False,
        )(params, dict(batch), weights)
        terms = {name: sums[name] / counts[name] for name in self.terms}
        return (total, terms), grads


def data_parallel(loss: Any, mesh: Any, axis: str = "data") -> DataParallelLoss:
    r"""`loss` with its training gradient computed per device and summed once.

    By default a data-parallel step is one program that XLA partitions: exact for
    every loss, strategy and optimizer, but it coordinates the devices inside the
    forward and backward passes. With this wrapper the training step computes, on
    each device, the sums of squared misfits of its own points and their gradient,
    and adds them over the devices with one `psum` (a hand-written `shard_map`):

    $$\mathcal{L} = \sum_k \frac{w_k}{n_k} \sum_{j=1}^{D} s_{kj}, \qquad
    \nabla\mathcal{L} = \sum_{j=1}^{D} \nabla \Big(\sum_k \frac{w_k}{n_k}
    s_{kj}\Big),$$

    with $s_{kj}$ the sum over device $j$'s points of term $k$. Sums and counts are
    reduced, never means of means, so the result is the loss of one device up to
    the order of the additions.

    It applies when every term is a least-squares term (all builders in
    `pinnlib.losses` but the causal residual) and every term's point count divides
    among the devices of `axis`; otherwise the step uses the partitioned program,
    which is always exact. Strategies, line searches and Gauss–Newton residuals
    evaluate the wrapped loss as before. It is meant for one state trained on many
    devices; for an ensemble split over a members axis keep the plain loss.

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
