"""The residual Jacobian of a least-squares loss, one point at a time."""

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float

from .._custom_types import Args, PointFn
from ._combine import CompositeLoss, check_least_squares


def residual_jacobian(
    loss: CompositeLoss,
    model: PointFn,
    batch: Mapping,
    weights: Mapping,
    args: Args = None,
) -> tuple[Float[Array, " N"], Float[Array, "N P"]]:
    r"""The residual vector $r$ (`loss.residuals`) and its Jacobian $\partial r/\partial\theta$.

    $\theta$ is the flattened vector of the model's inexact arrays, in the order of
    `jax.flatten_util.ravel_pytree(eqx.filter(model, eqx.is_inexact_array))`. Each
    row is computed as the reverse-mode gradient of one point's misfit, vectorised
    over the points: about three residual evaluations in all, where a Jacobian of
    the whole vector by `jax.jacfwd` costs one residual evaluation per parameter.
    This needs pointwise misfits (the misfit at a point depends on that point
    alone), which holds for every builder in `pinnlib.losses`.

    **Arguments:** as for `loss.residuals`: `loss`, `model`, `batch`, `weights`,
    `args`.

    **Returns:** `(r, J)` with shapes `(N,)` and `(N, P)`.

    **Raises:** `ValueError` for a term that is not a least-squares term.

    !!! example

        ```python
        r, J = pl.losses.residual_jacobian(loss, u, batch, weights, {"nu": nu})
        gradient = 2 * J.T @ r    # the gradient of the loss, flattened
        ```
    """
    r = loss.residuals(model, batch, weights, args)
    params, static = eqx.partition(model, eqx.is_inexact_array)
    flat, unravel = ravel_pytree(params)
    rows = []
    for name, term in loss.terms.items():
        check_least_squares(name, term)

        def misfit(f, entry, term=term):
            one = jax.tree.map(lambda a: a[None], entry)
            return term.misfit(eqx.combine(unravel(f), static), one, args).reshape(-1)

        entries = batch[name]
        n = jax.tree.leaves(entries)[0].shape[0]
        J = jax.vmap(jax.jacrev(misfit), in_axes=(None, 0))(flat, entries)
        scale = jnp.sqrt(jax.lax.stop_gradient(weights[name]) / n).astype(J.dtype)
        rows.append(scale * J.reshape(-1, flat.shape[0]))
    return r, jnp.concatenate(rows)
