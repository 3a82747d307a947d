"""The residual Jacobian with respect to the model and trainable coefficients."""

from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PyTree

from ..losses import CompositeLoss
from ..losses._combine import check_least_squares


def joint_residual_jacobian(
    loss: CompositeLoss,
    rebuild: Callable[[PyTree], tuple],
    params: PyTree,
    batch: Mapping,
    weights: Mapping,
) -> tuple[Float[Array, " N"], Float[Array, "N P"]]:
    """`pinnlib.losses.residual_jacobian` for trainables `(model, coefficients)`.

    `rebuild(params) -> (model, args)` gives the model and the coefficients' values;
    the columns follow `ravel_pytree(params)`, the model's parameters first. Each
    row is the reverse-mode gradient of one point's misfit, vectorised over points.
    """
    model, args = rebuild(params)
    r = loss.residuals(model, batch, weights, args)
    flat, unravel = ravel_pytree(params)
    rows = []
    for name, term in loss.terms.items():
        check_least_squares(name, term)

        def misfit(f, entry, term=term):
            one = jax.tree.map(lambda a: a[None], entry)
            model, args = rebuild(unravel(f))
            return term.misfit(model, one, args).reshape(-1)

        J = jax.vmap(jax.jacrev(misfit), in_axes=(None, 0))(flat, batch[name])
        scale = jnp.sqrt(jax.lax.stop_gradient(weights[name]) / J.shape[0])
        rows.append(scale.astype(J.dtype) * J.reshape(-1, J.shape[-1]))
    return r, jnp.concatenate(rows)
